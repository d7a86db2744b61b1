"""Batch norm fused with the residual add and ReLU (issue 6 item 3).

The fused op must equal the unfused composition relu(batch_norm(x) + residual)
(forward, running statistics, and the gradients of x, weight, bias and
residual) in training and evaluation mode; its kernels at every compiled ISA
must equal the scalar reference; models must compute the same numbers with the
fusion on and off; bad input must raise a clear exception.
"""
import numpy as np
import pytest

import dfpengine as dfp
from dfpengine import _native, model_zoo, nn, ops, precision
from dfpengine._native import reference as ref
from dfpengine.nn import functional as F

fp32 = pytest.importorskip("dfpengine._native._fp32", reason="FP32 extension not built")

# n = 1; hw not a multiple of 16 (and below 16, and 1); NC input; hw a multiple of 16; planes of
# at least 1024 values, which the backward takes channel by channel (smaller: in memory order)
SHAPES = [(4, 3, 5, 7), (1, 5, 3, 3), (2, 16, 17, 17), (3, 70, 9, 9), (6, 4), (2, 3, 16, 16), (5, 2, 1, 1),
          (3, 3, 32, 33)]


def rand(rng, *shape):
    return rng.standard_normal(shape, dtype=np.float32)


def kernel_case(shape, seed=0):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = rand(rng, *shape) * 3 + 2
    x.flat[0] = np.nan  # NaN propagates forward; its gradient is masked (y > 0 is false)
    x.flat[1] = 0.0
    res, dy = rand(rng, *shape), rand(rng, *shape)
    scale, shift = rand(rng, c), rand(rng, c)
    clean = x.copy()
    clean.flat[0] = 1.0
    mean, var = ref.batch_norm_stats(clean)
    invstd = (1 / np.sqrt(var + 1e-5)).astype(np.float32)
    return clean, x, res, dy, scale, shift, mean, invstd


def unfused_kernels(x, res, dy, scale, shift, mean, invstd, training):
    """The compiled kernels the unfused op path calls: apply, add, relu, then their backward."""
    z = fp32.batch_norm_apply(x, scale, shift)
    if res is not None:
        z = z + res
    y, mask = fp32.relu_forward(z)
    g = fp32.relu_backward(dy, mask)
    if training:
        dx, dgamma, dbeta = fp32.batch_norm_backward(g, x, mean, invstd, scale)
    else:
        x4 = x.reshape(x.shape[:2] + (-1,))
        g4 = g.reshape(x4.shape)
        xhat = (x4 - mean[:, None]) * invstd[:, None]
        dgamma, dbeta = (g4 * xhat).sum(axis=(0, 2)), g4.sum(axis=(0, 2))
        dx = g * (scale * invstd).reshape((1, -1) + (1,) * (x.ndim - 2))
    return y, dx, dgamma, dbeta, g


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("with_residual", [False, True])
def test_kernels_equal_unfused_and_scalar(isa_threads, shape, with_residual):
    """Training-mode kernels equal the unfused kernels of the same ISA bit for bit, and the scalar
    level's fused kernels within float rounding of the double sums."""
    _, x, res, dy, scale, shift, mean, invstd = kernel_case(shape)
    res = res if with_residual else None
    y = fp32.batch_norm_relu_forward(x, scale, shift, res)
    assert np.isnan(y.flat[0])
    got = fp32.batch_norm_relu_backward(dy, y, x, mean, invstd, scale, True, with_residual)
    want_y, dx, dgamma, dbeta, g = unfused_kernels(x, res, dy, scale, shift, mean, invstd, True)
    np.testing.assert_array_equal(y, want_y)
    for a, b in zip(got, (dx, dgamma, dbeta, g if with_residual else None)):
        np.testing.assert_array_equal(a, b)

    level = _native.isa_selected()
    _native.select_isa("scalar")
    try:
        y_s = fp32.batch_norm_relu_forward(x, scale, shift, res)
        scalar = fp32.batch_norm_relu_backward(dy, y_s, x, mean, invstd, scale, True, with_residual)
    finally:
        _native.select_isa(level)
    np.testing.assert_array_equal(y, y_s)  # no double sums forward: every level rounds the same
    count = x.size // shape[1]
    for a, b in zip(got, scalar):
        if b is not None:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * np.sqrt(count))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
def test_mask_from_x_equals_mask_from_y(isa_threads, shape, training):
    """Without a residual the backward may recompute the ReLU's mask from x (the forward's
    scale and shift, same rounding) instead of reading y: the same bits at every ISA and
    thread count, NaN and exact zeros included; the reference agrees too."""
    _, x, _, dy, scale, shift, mean, invstd = kernel_case(shape, seed=5)
    x.flat[2] = -shift[0] / scale[0]  # z at (or next to) zero
    y = fp32.batch_norm_relu_forward(x, scale, shift, None)
    from_y = fp32.batch_norm_relu_backward(dy, y, x, mean, invstd, scale, training, False)
    from_x = fp32.batch_norm_relu_backward(dy, None, x, mean, invstd, scale, training, False,
                                           scale=scale, shift=shift)
    for a, b in zip(from_x[:3], from_y[:3]):
        np.testing.assert_array_equal(a, b)
    assert from_x[3] is None
    ref_x = ref.batch_norm_relu_backward(dy, None, x, mean, invstd, scale, training, False,
                                         scale=scale, shift=shift)
    ref_y = ref.batch_norm_relu_backward(dy, y, x, mean, invstd, scale, training, False)
    for a, b in zip(ref_x[:3], ref_y[:3]):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="scale and shift are required"):
        fp32.batch_norm_relu_backward(dy, None, x, mean, invstd, scale, training, False)
    with pytest.raises(ValueError, match="scale and shift are required"):
        fp32.batch_norm_relu_backward(dy, None, x, mean, invstd, scale, training, True,
                                      scale=scale, shift=shift)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
def test_kernels_match_reference(isa_threads, shape, training):
    """The numpy reference (the definition) and the kernels, both modes, with a residual."""
    x, _, res, dy, scale, shift, mean, invstd = kernel_case(shape, seed=3)
    y = fp32.batch_norm_relu_forward(x, scale, shift, res)
    np.testing.assert_allclose(y, ref.batch_norm_relu_forward(x, scale, shift, res), rtol=1e-6, atol=1e-6)
    got = fp32.batch_norm_relu_backward(dy, y, x, mean, invstd, scale, training, True)
    want = ref.batch_norm_relu_backward(dy, y, x, mean, invstd, scale, training, True)
    count = x.size // shape[1]
    for a, b in zip(got, want):
        assert a.dtype == b.dtype == np.float32 and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=2e-5 * np.sqrt(count), atol=2e-5 * np.sqrt(count))
    if not training:  # against the unfused path's evaluation-mode backward
        for a, b in zip(got, unfused_kernels(x, res, dy, scale, shift, mean, invstd, False)[1:]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.sqrt(count))


# ------------------------------------------------------------------ the op


def op_inputs(shape, seed, affine=True):
    rng = np.random.default_rng(seed)
    c = shape[1]
    arrays = dict(x=rand(rng, *shape) * 2 + 0.5, residual=rand(rng, *shape),
                  weight=rand(rng, c) + 1, bias=rand(rng, c), dy=rand(rng, *shape))
    stats = dict(mean=rand(rng, c), var=np.abs(rand(rng, c)) + 0.5)
    tensors = {k: dfp.tensor(v, requires_grad=True) for k, v in arrays.items() if k != "dy"}
    if not affine:
        tensors["weight"] = tensors["bias"] = None
    return arrays, stats, tensors


def run_op(fused, shape, training, with_residual, seed=0, affine=True):
    arrays, stats, t = op_inputs(shape, seed, affine)
    running = [dfp.tensor(stats["mean"]), dfp.tensor(stats["var"])]
    residual = t["residual"] if with_residual else None
    args = (t["x"], *running, t["weight"], t["bias"], training, 0.1, 1e-5)
    if fused:
        y = F.batch_norm_relu(*args, residual=residual)
    else:
        z = F.batch_norm(*args)
        y = F.relu(z if residual is None else z + residual)
    y.backward(arrays["dy"])
    grads = [None if v is None else v.grad.numpy() for k, v in t.items()
             if k != "residual" or with_residual]
    return [y.numpy(), running[0].numpy(), running[1].numpy()], grads


@pytest.mark.parametrize("shape", [(4, 3, 5, 7), (1, 5, 3, 3), (2, 16, 17, 17), (6, 4), (3, 2, 10)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("with_residual", [False, True])
def test_op_equals_unfused_composition(shape, training, with_residual):
    out_f, grads_f = run_op(True, shape, training, with_residual)
    out_u, grads_u = run_op(False, shape, training, with_residual)
    for a, b in zip(out_f, out_u):
        np.testing.assert_array_equal(a, b)  # forward and running statistics: the same roundings
    assert len(grads_f) == len(grads_u) == (4 if with_residual else 3)
    for a, b in zip(grads_f, grads_u):
        # training: the same kernels' arithmetic; evaluation: double vs float per-channel sums
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_op_without_affine_parameters():
    out_f, grads_f = run_op(True, (3, 4, 6, 6), True, True, affine=False)
    out_u, grads_u = run_op(False, (3, 4, 6, 6), True, True, affine=False)
    np.testing.assert_array_equal(out_f[0], out_u[0])
    assert grads_f[2] is None and grads_f[3] is None  # x, residual, weight, bias
    np.testing.assert_allclose(grads_f[0], grads_u[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grads_f[1], grads_u[1], rtol=1e-5, atol=1e-5)


def test_layer_uses_fused_op_and_switch(monkeypatch):
    calls = []
    real = ops.norm.batch_norm_relu
    monkeypatch.setattr(ops.norm, "batch_norm_relu", lambda *a, **k: calls.append(1) or real(*a, **k))
    bn = nn.BatchNorm2d(3)
    x = dfp.randn(2, 3, 4, 4)
    fused = bn(x, relu=True, residual=x).numpy()
    assert len(calls) == 1
    with nn.utils.fusion(False):
        unfused = bn(x, relu=True, residual=x).numpy()
    assert len(calls) == 1 and nn.utils.fusion_enabled()
    np.testing.assert_allclose(fused, unfused, rtol=1e-6, atol=1e-6)  # running stats moved in between
    seq = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2))
    seq(x)
    assert len(calls) == 2


# ---------------------------------------------------------------- models


def model_step(name, fuse, prec, train=True, batch=4, size=32):
    dfp.manual_seed(0)
    model = model_zoo.create(name, 10, 3, size)
    nn.utils.assign_layer_roles(model)
    model.train(train)
    rng = np.random.default_rng(0)
    x = dfp.from_numpy(rng.standard_normal((batch, 3, size, size)).astype(np.float32))
    y = dfp.from_numpy(rng.integers(0, 10, batch))
    policy = precision.preset(prec)
    policy.set_progress(epoch=0, total_epochs=10)  # keyed stochastic-rounding streams
    with nn.utils.fusion(fuse), precision.use(policy):
        loss = F.cross_entropy(model(x), y)
        loss.backward()
    return (loss.item(), {k: p.grad.numpy() for k, p in model.named_parameters()},
            {k: np.array(v) for k, v in model.state_dict().items()})


@pytest.mark.parametrize("prec", ["fp32", "dfp16", "fp8", "hbfp8", "hbfp4", "boosters"])
def test_resnet20_fused_equals_unfused(prec):
    """Training mode: the same numbers bit for bit (forward, gradients, running statistics), so
    the GEMMs of every preset quantise the same activations and gradients."""
    loss_f, grads_f, state_f = model_step("resnet20", True, prec)
    loss_u, grads_u, state_u = model_step("resnet20", False, prec)
    assert loss_f == loss_u
    assert list(grads_f) == list(grads_u) and list(state_f) == list(state_u)
    for k in grads_f:
        np.testing.assert_array_equal(grads_f[k], grads_u[k], err_msg=k)
    for k in state_f:
        np.testing.assert_array_equal(state_f[k], state_u[k], err_msg=k)


def test_resnet20_eval_fused_close_to_unfused():
    loss_f, grads_f, _ = model_step("resnet20", True, "fp32", train=False)
    loss_u, grads_u, _ = model_step("resnet20", False, "fp32", train=False)
    assert loss_f == loss_u
    for k in grads_f:
        np.testing.assert_allclose(grads_f[k], grads_u[k], rtol=1e-4, atol=1e-5, err_msg=k)


@pytest.mark.parametrize("name", ["resnet18", "vgg11"])
def test_imagenet_blocks_and_sequential_fused_equal_unfused(name):
    """ImageNet-layout blocks (downsample branches) and VGG's Sequential BatchNorm2d + ReLU."""
    loss_f, grads_f, _ = model_step(name, True, "fp32", batch=2, size=32)
    loss_u, grads_u, _ = model_step(name, False, "fp32", batch=2, size=32)
    assert loss_f == loss_u
    for k in grads_f:
        np.testing.assert_array_equal(grads_f[k], grads_u[k], err_msg=k)


def test_state_dict_keys_unchanged():
    keys = list(model_zoo.create("resnet20", 10, 3, 32).state_dict())
    assert keys[:6] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                        "bn1.num_batches_tracked"]
    assert "layer1.0.bn2.running_var" in keys and "fc.bias" == keys[-1]
    assert not any("relu" in k for k in keys)


# ------------------------------------------------------------- bad input


def test_bad_input_raises():
    x = dfp.randn(2, 3, 4, 4)
    rm, rv = dfp.tensor(np.zeros(3, np.float32)), dfp.tensor(np.ones(3, np.float32))
    with pytest.raises(ValueError, match="batch_norm_relu: expected residual of shape"):
        F.batch_norm_relu(x, rm, rv, training=True, residual=dfp.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match="weight of shape"):
        F.batch_norm_relu(x, rm, rv, weight=dfp.randn(4), training=True)
    with pytest.raises(ValueError, match="expected input of shape"):
        F.batch_norm_relu(dfp.randn(3), rm, rv)
    with pytest.raises(TypeError, match="residual: expected dtype float32"):
        F.batch_norm_relu(x, rm, rv, training=True, residual=dfp.from_numpy(np.zeros((2, 3, 4, 4), np.int64)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm_relu(dfp.randn(1, 3), rm, rv, training=True)
    with pytest.raises(ValueError, match="residual is only taken with relu=True"):
        nn.BatchNorm2d(3)(x, residual=x)


def test_bad_kernel_input_raises():
    a = np.ones((2, 3, 4, 4), np.float32)
    v = np.ones(3, np.float32)
    with pytest.raises(TypeError, match="x: expected dtype float32"):
        fp32.batch_norm_relu_forward(a.astype(np.float64), v, v)
    with pytest.raises(ValueError, match="residual: expected shape"):
        fp32.batch_norm_relu_forward(a, v, v, np.ones((2, 3, 4, 5), np.float32))
    with pytest.raises(ValueError, match="shift: expected shape"):
        fp32.batch_norm_relu_forward(a, v, np.ones(4, np.float32))
    with pytest.raises(ValueError, match="y: expected shape"):
        fp32.batch_norm_relu_backward(a, a[:1], a, v, v, v)
    with pytest.raises(ValueError, match="C-contiguous"):
        fp32.batch_norm_relu_backward(a, a, a.transpose(0, 1, 3, 2), v, v, v)
    for module in (fp32, ref):
        with pytest.raises(ValueError, match="gamma: expected shape"):
            module.batch_norm_relu_backward(a, a, a, v, v, np.ones(2, np.float32))
