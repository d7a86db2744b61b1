"""Bad input gets a clear ValueError/TypeError naming the problem, never a crash.

NaN rule: kernels and element-wise ops propagate NaN (IEEE) without checking;
the losses (nll_loss, cross_entropy) raise ValueError on NaN input, since a NaN
loss is where a diverging run must stop with a message.
"""
import numpy as np
import pytest

import dfpengine as dfp
from dfpengine import nn
from dfpengine._native import reference as ref
from dfpengine.nn import functional as F

X = np.ones((1, 2, 4, 4), np.float32)
W = np.ones((3, 2, 3, 3), np.float32)
ONE = (1, 1)
ZERO = (0, 0)


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: ref.gemm(np.ones((2, 3)), np.ones((3, 2), np.float32)), TypeError, "a: .*float32.*float64"),
    (lambda: ref.gemm(np.ones((2, 3), np.float32), np.ones((2, 2), np.float32)), ValueError, "inner"),
    (lambda: ref.gemm(np.ones(3, np.float32), np.ones((3, 2), np.float32)), ValueError, r"a: .*\(3,\)"),
    (lambda: ref.gemm([[1.0]], np.ones((1, 1), np.float32)), TypeError, "numpy.ndarray.*list"),
    (lambda: ref.conv2d_forward(X.transpose(0, 1, 3, 2), W, None, ONE, ZERO, ONE), ValueError,
     "x: .*C-contiguous"),
    (lambda: ref.conv2d_forward(np.ones((0, 2, 4, 4), np.float32), W, None, ONE, ZERO, ONE), ValueError,
     "x: .*non-empty.*0, 2, 4, 4"),
    (lambda: ref.conv2d_forward(X, np.ones((3, 5, 3, 3), np.float32), None, ONE, ZERO, ONE), ValueError,
     "w: expected 2 input channels"),
    (lambda: ref.conv2d_forward(X, np.ones((3, 2, 5, 5), np.float32), None, ONE, ZERO, ONE), ValueError,
     "does not fit"),
    (lambda: ref.conv2d_forward(X, W, None, (0, 1), ZERO, ONE), ValueError, "stride: expected values >= 1"),
    (lambda: ref.conv2d_forward(X, W, None, 1, ZERO, ONE), TypeError, "stride: expected an \\(h, w\\) tuple"),
    (lambda: ref.conv2d_forward(X, W, np.ones(4, np.float32), ONE, ZERO, ONE), ValueError, r"bias: .*\(3,\)"),
    (lambda: ref.conv2d_backward_data(np.ones((1, 3, 3, 3), np.float32), W, (1, 2, 4, 4), ONE, ZERO, ONE),
     ValueError, r"dy: expected shape \(1, 3, 2, 2\)"),
    (lambda: ref.conv2d_backward_weight(X, np.ones((1, 3, 2, 2), np.float32), (3, 2, 3), ONE, ZERO, ONE),
     ValueError, "w_shape"),
    (lambda: ref.relu_backward(np.ones(3, np.float32), np.ones(3, np.float32)), TypeError, "mask: .*uint8"),
    (lambda: ref.batch_norm_stats(np.ones((2, 3, 4), np.float32)), ValueError, "x: expected"),
    (lambda: ref.batch_norm_apply(X, np.ones(3, np.float32), np.ones(2, np.float32)), ValueError,
     r"scale: expected shape \(2,\)"),
    (lambda: ref.max_pool2d_forward(X, (2, 2), (2, 2), (2, 2)), ValueError, "padding: .*half"),
    (lambda: ref.max_pool2d_backward(np.ones((1, 2, 2, 2), np.float32), np.full((1, 2, 2, 2), 99, np.int32),
                                     (1, 2, 4, 4)), ValueError, "argmax: expected indices"),
    (lambda: ref.avg_pool2d_forward(X, (5, 5), (1, 1), (0, 0)), ValueError, "does not fit"),
])
def test_reference_rejects_bad_input(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: F.linear(dfp.randn(2, 3), dfp.randn(4, 5)), ValueError, "linear: expected input"),
    (lambda: dfp.randn(2, 3) @ dfp.randn(2, 3), ValueError, "matmul"),
    (lambda: F.conv2d(dfp.tensor(np.ones((1, 1, 3, 3), np.int64)), dfp.randn(1, 1, 1, 1)), TypeError,
     "x: expected dtype float32, received int64"),
    (lambda: F.conv2d(dfp.randn(0, 1, 3, 3), dfp.randn(1, 1, 1, 1)), ValueError, "non-empty"),
    (lambda: nn.Conv2d(2, 4, 3)(dfp.randn(1, 3, 5, 5)), ValueError, "input channels"),
    (lambda: nn.BatchNorm2d(3)(dfp.randn(2, 3)), ValueError, "BatchNorm2d: expected 4-d"),
    (lambda: nn.BatchNorm2d(3)(dfp.randn(1, 4, 2, 2)), ValueError, r"weight of shape \(4,\)"),
    (lambda: nn.BatchNorm1d(3)(dfp.randn(1, 3)), ValueError, "more than 1 value per channel"),
    (lambda: F.cross_entropy(dfp.tensor([[np.nan, 1.0]]), dfp.tensor([0])), ValueError, "NaN"),
    (lambda: F.cross_entropy(dfp.tensor([[np.inf, 1.0]]), dfp.tensor([0])), ValueError, r"\+inf"),
    (lambda: F.nll_loss(dfp.tensor([[np.nan, 1.0]]), dfp.tensor([0])), ValueError, "NaN"),
    (lambda: F.cross_entropy(dfp.randn(2, 3), dfp.tensor([0, 3])), ValueError, r"classes in \[0, 3\)"),
    (lambda: F.cross_entropy(dfp.randn(2, 3), dfp.tensor([0.0, 1.0])), TypeError, "integer"),
    (lambda: F.cross_entropy(dfp.randn(2, 3), dfp.tensor([0])), ValueError, r"target of shape \(2,\)"),
    (lambda: F.cross_entropy(dfp.randn(0, 3), dfp.tensor(np.zeros(0, np.int64))), ValueError, "non-empty"),
    (lambda: F.cross_entropy(dfp.randn(2, 3), dfp.tensor([0, 1]), reduction="avg"), ValueError, "reduction"),
    (lambda: F.dropout(dfp.randn(2), p=1.5), ValueError, r"p in \[0, 1\]"),
    (lambda: F.max_pool2d(dfp.randn(1, 1, 4, 4), 2.5), TypeError, "kernel_size"),
    (lambda: dfp.randn(2, 3).reshape(4, 2), ValueError, "cannot view"),
    (lambda: dfp.randn(2, 3).sum(2), IndexError, "dim 2"),
    (lambda: dfp.tensor(["a"]), TypeError, "dtype"),
    (lambda: dfp.randn(2) ** dfp.randn(2), TypeError, "exponent"),
])
def test_ops_reject_bad_input(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_non_contiguous_tensors_work_in_ops():
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 4)).astype(np.float32)
    w = dfp.randn(3, 2, 3, 3)
    transposed = dfp.from_numpy(np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2))
    assert not transposed.numpy().flags.c_contiguous
    np.testing.assert_allclose(F.conv2d(transposed, w).numpy(), F.conv2d(dfp.tensor(x), w).numpy(), rtol=1e-6)
    a = dfp.randn(4, 3)
    np.testing.assert_allclose((a.T @ dfp.randn(4, 2)).shape, (3, 2))


def test_nan_propagates_through_kernels_without_crashing():
    x = dfp.randn(1, 1, 4, 4)
    x.numpy()[0, 0, 0, 0] = np.nan
    y = F.max_pool2d(F.relu(F.conv2d(x, dfp.ones(1, 1, 1, 1))), 2)
    assert np.isnan(y.numpy()[0, 0, 0, 0]) and not np.isnan(y.numpy()[0, 0, 1, 1])


def test_load_state_dict_rejects_wrong_shapes_with_key_names():
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        nn.Linear(2, 2).load_state_dict({"weight": np.zeros((3, 2)), "bias": np.zeros(2)})
