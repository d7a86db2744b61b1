"""A DFP16 conv whose input is batch norm's relu(x * scale + shift) quantises it straight
from x (the apply and ReLU inside the quantiser): the FP32 tensor is never written. The
results must be those of the conv of batch norm's output, bit for bit: outputs, kept codes,
exponent and largest code, on every ISA at 1 and 2 threads, with or without an expected
exponent, and batch norm's output stays available, computed on first use."""
import numpy as np
import pytest

import dfpengine
from dfpengine import _native, formats, nn, precision
from dfpengine._native import _int
from dfpengine.tensor import DeferredTensor, LazyArray

GEOMS = [  # x shape, w shape, stride, padding
    ((3, 16, 8, 8), (16, 16, 3, 3), (1, 1), (1, 1)),     # short rows (flat steps), odd batch
    ((2, 5, 33, 33), (8, 5, 3, 3), (1, 1), (1, 1)),      # odd channels: a missing plane
    ((2, 6, 20, 32), (9, 6, 3, 3), (2, 2), (1, 1)),      # stride 2: column phases
    ((4, 8, 7, 9), (4, 8, 1, 1), (1, 1), (0, 0)),        # 1x1, no border
]


def _case(geom, seed=0):
    xs, ws, st, pad = geom
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs).astype(np.float32) * 2
    x.flat[::11] = -0.0
    w = rng.standard_normal(ws).astype(np.float32)
    c = xs[1]
    scale = rng.standard_normal(c).astype(np.float32)   # negative scales flip the ReLU's side
    shift = rng.standard_normal(c).astype(np.float32)
    scale[0] = 0.0                                       # a channel of shift only
    return x, w, scale, shift


@pytest.mark.parametrize("geom", GEOMS)
@pytest.mark.parametrize("rounding", ["nearest", "biased", "stochastic"])
@pytest.mark.parametrize("with_residual", [False, True])
def test_conv_of_bn_relu_equals_conv_of_its_output(isa_threads, geom, rounding, with_residual):
    """... and with a residual, batch norm's output written by the same pass equals the
    batch_norm_relu_forward kernel's."""
    xs, ws, st, pad = geom
    x, w, scale, shift = _case(geom)
    res = np.random.default_rng(9).standard_normal(xs).astype(np.float32) if with_residual else None
    z = _native.batch_norm_relu_forward(x, scale, shift, res)
    fmt = formats.GemmFormat(formats.dfp16(rounding=rounding), formats.dfp16(), stream=3)
    for exps in (None, {}, {"x": -3}, {"x": 9}):  # no cache; then learned, wrong both ways
        runs = []
        out = np.full(xs, np.nan, np.float32) if with_residual else None
        for src, bn in ((z, None), (x, (scale, shift, res, out))):
            cache = None if exps is None else {"exponents": dict(exps)}
            y = _int.conv2d_forward_quantized(src, w, None, st, pad, (1, 1), fmt=fmt, cache=cache, bn_relu=bn)
            runs.append((y, cache))
        (y0, c0), (y1, c1) = runs
        assert np.array_equal(y0.view(np.uint32), y1.view(np.uint32)), exps
        if out is not None:
            assert np.array_equal(out.view(np.uint32), z.view(np.uint32)), exps
        if c0 is not None and "dfp16_input" in c0:  # kept codes (deterministic rounding)
            k0, k1 = c0["dfp16_input"], c1["dfp16_input"]
            assert k0[0] == k1[0] and k0[2:] == k1[2:]
            assert np.array_equal(k0[1], k1[1])
            assert c0["exponents"] == c1["exponents"]


def test_non_finite_and_bad_parameters_raise():
    xs, ws, st, pad = GEOMS[0]
    x, w, scale, shift = _case(GEOMS[0])
    fmt = formats.GemmFormat(formats.dfp16(), formats.dfp16())
    bad = x.copy()
    bad.flat[5] = np.nan  # the ReLU keeps NaN, as batch norm's forward does
    with pytest.raises(ValueError, match="NaN or infinity"):
        _int.conv2d_forward_quantized(bad, w, None, st, pad, (1, 1), fmt=fmt, bn_relu=(scale, shift))
    with pytest.raises(ValueError, match="bn_relu scale"):
        _int.conv2d_forward_quantized(x, w, None, st, pad, (1, 1), fmt=fmt, bn_relu=(scale[:3], shift))
    with pytest.raises(TypeError, match="bn_relu shift"):
        _int.conv2d_forward_quantized(x, w, None, st, pad, (1, 1), fmt=fmt,
                                      bn_relu=(scale, shift.astype(np.float64)))


def test_deferred_tensor_is_computed_once_on_first_use():
    calls = []
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = DeferredTensor((2, 3), LazyArray(lambda: calls.append(1) or data.copy()), ("bn_relu",))
    assert t.shape == (2, 3) and t.ndim == 2 and t.dtype == np.float32 and not calls
    assert np.array_equal(t.numpy(), data) and calls == [1] and t.pending is None
    t.numpy()[0, 0] = 7  # later readers see the array, not what it was computed from
    assert (t + 1).numpy()[0, 0] == 8 and calls == [1]


def _block(fused, monkeypatch):
    """Gradients of sum(r * conv2(relu(bn(conv1(x))))) in DFP16 (layers named: keyed streams),
    with the conv reading batch norm's input, or (fused False) batch norm's stored output."""
    if not fused:
        monkeypatch.setattr(_native, "fuses_bn_relu", lambda fmt: False)
    dfpengine.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(4, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6),
                          nn.Conv2d(6, 5, 3, padding=1, bias=False))
    nn.utils.assign_layer_roles(model)
    rng = np.random.default_rng(1)
    x = dfpengine.tensor(rng.standard_normal((3, 4, 10, 10)).astype(np.float32))
    r = dfpengine.tensor(rng.standard_normal((3, 5, 10, 10)).astype(np.float32))
    policy = precision.preset("dfp16")
    policy.set_progress(epoch=0, total_epochs=2)
    with precision.use(policy):
        z = model[1](model[0](x), relu=True)
        assert isinstance(z, DeferredTensor) and z.pending is not None
        (model[2](z) * r).sum().backward()
        computed = z.pending is None
    monkeypatch.undo()
    return computed, [p.grad.numpy().copy() for p in model.parameters()]


def test_training_through_the_fused_input_equals_the_stored_output(monkeypatch):
    computed_fused, fused = _block(True, monkeypatch)
    computed_plain, plain = _block(False, monkeypatch)
    assert not computed_fused  # FPROP read x, WTGRAD the codes FPROP kept: never stored as FP32
    assert computed_plain
    for a, b in zip(fused, plain):
        assert np.array_equal(a.view(np.uint32), b.view(np.uint32))

