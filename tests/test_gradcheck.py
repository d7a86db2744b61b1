"""Finite-difference gradient checks for every op, and the autograd mechanics.

Analytic gradients of sum(w * op(x)) for a random weighting w are compared with
central differences (step 1e-2) of the same float32 forward. Inputs keep away
from kinks (relu at 0, ties in max pooling) by more than the step.
"""
import numpy as np
import pytest

import dfpengine as dfp
from dfpengine import ops
from dfpengine.autograd import record
from dfpengine.tensor import Tensor

EPS, RTOL = 1e-2, 1e-2
rng = np.random.default_rng(1234)


def randn(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def away_from_zero(*shape):
    x = randn(*shape)
    return (np.sign(x) * (0.1 + np.abs(x))).astype(np.float32)


def distinct(*shape):
    """Values at least 0.1 apart, so a step of EPS never changes which element is a maximum."""
    return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 - 1.0).astype(np.float32)


def gradcheck(fn, *inputs):
    tensors = [dfp.tensor(a, requires_grad=True) for a in inputs]
    out = fn(*tensors)
    weight = randn(*out.shape)
    out.backward(weight)

    def objective(arrays):
        with dfp.no_grad():
            return float((fn(*[dfp.tensor(a) for a in arrays]).numpy().astype(np.float64) * weight).sum())

    for k, (t, a) in enumerate(zip(tensors, inputs)):
        numeric = np.zeros(a.shape)
        for idx in np.ndindex(a.shape):
            arrays = list(inputs)
            plus, minus = a.copy(), a.copy()
            plus[idx] += EPS
            minus[idx] -= EPS
            arrays[k] = plus
            f_plus = objective(arrays)
            arrays[k] = minus
            numeric[idx] = (f_plus - objective(arrays)) / (2 * EPS)
        assert t.grad is not None, f"input {k} got no gradient"
        scale = max(1.0, np.abs(numeric).max())
        np.testing.assert_allclose(t.grad.numpy(), numeric, rtol=RTOL, atol=RTOL * scale,
                                   err_msg=f"gradient of input {k}")


CASES = {
    "add_broadcast": (lambda a, b: a + b, [randn(3, 4), randn(4)]),
    "add_stretch": (lambda a, b: a + b, [randn(3, 1), randn(1, 4)]),
    "sub": (lambda a, b: a - b, [randn(2, 3), randn(2, 3)]),
    "rsub_scalar": (lambda a: 2.0 - a, [randn(3)]),
    "mul_broadcast": (lambda a, b: a * b, [randn(2, 3, 4), randn(3, 1)]),
    "div": (lambda a, b: a / b, [randn(3, 4), away_from_zero(3, 4) + 3]),
    "rdiv_scalar": (lambda a: 1.0 / a, [away_from_zero(4) + 3]),
    "neg": (lambda a: -a, [randn(5)]),
    "pow": (lambda a: a ** 3, [randn(5)]),
    "exp": (lambda a: a.exp(), [randn(5)]),
    "log": (lambda a: a.log(), [np.abs(randn(5)) + 0.5]),
    "sum_all": (lambda a: a.sum(), [randn(3, 4)]),
    "sum_dim": (lambda a: a.sum(1), [randn(2, 3, 4)]),
    "sum_dims_keepdim": (lambda a: a.sum((0, 2), keepdim=True), [randn(2, 3, 4)]),
    "mean_dim": (lambda a: a.mean(-1), [randn(3, 4)]),
    "mean_all": (lambda a: a.mean(), [randn(3, 4)]),
    "reshape": (lambda a: a.reshape(4, 3) * dfp.tensor(np.arange(12.0).reshape(4, 3)), [randn(3, 4)]),
    "transpose": (lambda a: a.transpose(0, 2), [randn(2, 3, 4)]),
    "permute": (lambda a: a.permute(2, 0, 1), [randn(2, 3, 4)]),
    "T": (lambda a: a.T, [randn(2, 3)]),
    "flatten": (lambda a: a.flatten(1), [randn(2, 3, 2)]),
    "getitem": (lambda a: a[1:, ::2], [randn(3, 4)]),
    "getitem_repeated": (lambda a: a[np.array([0, 0, 2])], [randn(3, 2)]),
    "pad_channels": (lambda a: dfp.nn.functional.pad(a[:, :, ::2, ::2], (0, 0, 1, 0, 2, 1)) *
                     dfp.tensor(np.arange(2 * 6 * 3 * 2.0).reshape(2, 6, 3, 2)), [randn(2, 3, 4, 3)]),
    "matmul": (lambda a, b: a @ b, [randn(3, 4), randn(4, 5)]),
    "matmul_batched_left": (lambda a, b: a @ b, [randn(2, 3, 4), randn(4, 2)]),
    "linear": (lambda x, w, b: ops.linear.linear(x, w, b), [randn(3, 4), randn(5, 4), randn(5)]),
    "linear_nobias_3d": (lambda x, w: ops.linear.linear(x, w), [randn(2, 3, 4), randn(2, 4)]),
    "conv2d": (lambda x, w, b: ops.conv.conv2d(x, w, b, padding=1),
               [randn(2, 2, 5, 5), randn(3, 2, 3, 3), randn(3)]),
    "conv2d_stride_dilation": (lambda x, w: ops.conv.conv2d(x, w, None, stride=(2, 1), padding=(0, 2),
                                                            dilation=(1, 2)),
                               [randn(1, 2, 6, 5), randn(2, 2, 2, 3)]),
    "relu": (lambda a: a.relu(), [away_from_zero(3, 4)]),
    "dropout": (lambda a: (dfp.manual_seed(7), ops.activation.dropout(a, 0.3))[1], [randn(4, 5)]),
    "max_pool2d": (lambda a: ops.pool.max_pool2d(a, 2), [distinct(2, 2, 4, 4)]),
    "max_pool2d_pad_overlap": (lambda a: ops.pool.max_pool2d(a, 3, 2, 1), [distinct(1, 2, 5, 5)]),
    "avg_pool2d": (lambda a: ops.pool.avg_pool2d(a, 3, 2, 1), [randn(1, 2, 5, 5)]),
    "adaptive_avg_pool2d": (lambda a: ops.pool.adaptive_avg_pool2d(a, (3, 2)), [randn(1, 2, 5, 5)]),
    "adaptive_avg_pool2d_global": (lambda a: ops.pool.adaptive_avg_pool2d(a, 1), [randn(2, 3, 4, 5)]),
    "batch_norm_train_4d": (lambda x, g, b: ops.norm.batch_norm(x, None, None, g, b, training=True),
                            [randn(3, 2, 2, 2), randn(2), randn(2)]),
    "batch_norm_train_2d": (lambda x, g, b: ops.norm.batch_norm(x, None, None, g, b, training=True),
                            [randn(5, 3), randn(3), randn(3)]),
    "batch_norm_train_3d_no_affine": (lambda x: ops.norm.batch_norm(x, None, None, training=True),
                                      [randn(2, 3, 3)]),
    "batch_norm_eval": (lambda x, g, b: ops.norm.batch_norm(
        x, dfp.tensor(randn(2) * 0), dfp.tensor(np.full(2, 2.0)), g, b, training=False),
        [randn(3, 2, 2, 2), randn(2), randn(2)]),
    "log_softmax_dim1": (lambda a: a.log_softmax(1), [randn(3, 5)]),
    "log_softmax_dim0": (lambda a: a.log_softmax(0), [randn(3, 5)]),
    "nll_loss_mean": (lambda a: ops.loss.nll_loss(a, np.array([0, 4, 2])), [randn(3, 5)]),
    "nll_loss_sum": (lambda a: ops.loss.nll_loss(a, np.array([1, 1, 2]), "sum"), [randn(3, 5)]),
    "nll_loss_none": (lambda a: ops.loss.nll_loss(a, np.array([1, 3]), "none"), [randn(2, 5)]),
    "cross_entropy": (lambda a: ops.loss.cross_entropy(a, dfp.tensor([3, 0, 1, 1])), [randn(4, 5)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_gradient(name):
    fn, inputs = CASES[name]
    gradcheck(fn, *inputs)


def test_gradcheck_catches_a_wrong_backward():
    def doubled_exp(a):  # backward off by a factor of two
        y = np.exp(a.numpy())
        return record(Tensor(y), (a,), lambda g: (2 * g * y,))
    with pytest.raises(AssertionError):
        gradcheck(doubled_exp, randn(4))


# ------------------------------------------------------------ mechanics

def test_tensor_used_twice_sums_gradients():
    x = dfp.tensor([1.0, 2.0], requires_grad=True)
    (x * x + x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 5.0])


def test_gradients_accumulate_across_backward_calls():
    x = dfp.tensor([1.0, -2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])


def test_no_grad_records_nothing_and_detach_cuts_the_graph():
    x = dfp.tensor([1.0], requires_grad=True)
    with dfp.no_grad():
        y = x * 2
    assert not y.requires_grad and dfp.is_grad_enabled()
    z = (x.detach() * 2 + x).sum()
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0])


def test_backward_needs_gradient_for_non_scalar_and_a_graph():
    x = dfp.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        dfp.tensor([1.0]).backward()


def test_deep_graph_does_not_hit_recursion_limit():
    x = dfp.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y + 1.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0])


def test_constructors_and_dtypes():
    assert dfp.tensor([1, 2]).dtype == np.int64
    assert dfp.tensor([1.5]).dtype == np.float32
    assert dfp.zeros(2, 3).shape == (2, 3) and dfp.ones((4,)).numpy().sum() == 4
    dfp.manual_seed(3)
    a = dfp.randn(5).numpy().copy()
    dfp.manual_seed(3)
    np.testing.assert_array_equal(a, dfp.randn(5).numpy())
    array = np.zeros(3, np.float32)
    dfp.from_numpy(array).numpy()[0] = 7
    assert array[0] == 7
    with pytest.raises(RuntimeError, match="floating"):
        dfp.tensor([1, 2], requires_grad=True)
    assert dfp.tensor([[2.5]]).item() == 2.5 and dfp.tensor([1.0, 2.0]).size(0) == 2
