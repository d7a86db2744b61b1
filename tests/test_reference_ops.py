"""The numpy reference against independent formulas (direct loops, float64, adjoint identities)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dfpengine import _native, tensor
from dfpengine._native import reference as ref
from dfpengine.formats import FP32, FormatSpec, GemmFormat
from dfpengine.ops.pool import adaptive_avg_pool2d

fast = settings(max_examples=30, deadline=None)


def arrays(draw, shape):
    seed = draw(st.integers(0, 2 ** 31))
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@st.composite
def gemm_case(draw):
    m, k, n = (draw(st.integers(1, 7)) for _ in range(3))
    ta, tb = draw(st.booleans()), draw(st.booleans())
    return arrays(draw, (k, m) if ta else (m, k)), arrays(draw, (n, k) if tb else (k, n)), ta, tb


@fast
@given(gemm_case())
def test_gemm_matches_float64_product(case):
    a, b, ta, tb = case
    expected = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
    got = ref.gemm(a, b, trans_a=ta, trans_b=tb, fmt=GemmFormat(FP32, FP32))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@st.composite
def conv_case(draw):
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    h = draw(st.integers(max(1, dilation[0] * (kh - 1) + 1 - 2 * padding[0]), 7))
    w = draw(st.integers(max(1, dilation[1] * (kw - 1) + 1 - 2 * padding[1]), 7))
    return arrays(draw, (n, c, h, w)), arrays(draw, (o, c, kh, kw)), arrays(draw, (o,)), stride, padding, dilation


def direct_conv(x, w, b, stride, padding, dilation):
    """y[n, o, i, j] = b[o] + sum over c, p, q of xpad[n, c, i*s + p*d, j*s + q*d] * w[o, c, p, q]."""
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    o, _, kh, kw = w.shape
    oh = (xp.shape[2] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (xp.shape[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((x.shape[0], o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            rows = i * stride[0] + dilation[0] * np.arange(kh)
            cols = j * stride[1] + dilation[1] * np.arange(kw)
            patch = xp[:, :, rows][:, :, :, cols]
            y[:, :, i, j] = np.einsum("ncpq,ocpq->no", patch, w) + b
    return y


@fast
@given(conv_case())
def test_conv2d_forward_matches_direct_loops(case):
    x, w, b, stride, padding, dilation = case
    got = ref.conv2d_forward(x, w, b, stride, padding, dilation)
    np.testing.assert_allclose(got, direct_conv(x, w, b, stride, padding, dilation), rtol=1e-4, atol=1e-4)


@fast
@given(conv_case(), st.integers(0, 2 ** 31))
def test_conv2d_backward_passes_are_adjoint_to_forward(case, seed):
    """<conv(x, w), dy> = <x, backward_data(dy, w)> = <w, backward_weight(x, dy)>."""
    x, w, _, stride, padding, dilation = case
    y = ref.conv2d_forward(x, w, None, stride, padding, dilation)
    dy = np.random.default_rng(seed).standard_normal(y.shape).astype(np.float32)
    inner = np.vdot(y.astype(np.float64), dy)
    dx = ref.conv2d_backward_data(dy, w, x.shape, stride, padding, dilation)
    dw = ref.conv2d_backward_weight(x, dy, w.shape, stride, padding, dilation)
    assert dx.shape == x.shape and dw.shape == w.shape
    scale = 1e-4 * (np.abs(y).sum() * np.abs(dy).max() + 1)
    assert abs(np.vdot(x.astype(np.float64), dx) - inner) < scale
    assert abs(np.vdot(w.astype(np.float64), dw) - inner) < scale


def test_relu_values_mask_and_nan_rule():
    x = np.array([-1.0, 0.0, 2.0, np.nan], np.float32)
    y, mask = ref.relu_forward(x)
    np.testing.assert_array_equal(y, [0.0, 0.0, 2.0, np.nan])
    np.testing.assert_array_equal(mask, [0, 0, 1, 0])
    assert mask.dtype == np.uint8
    np.testing.assert_array_equal(ref.relu_backward(np.ones(4, np.float32), mask), [0, 0, 1, 0])


@fast
@given(st.integers(1, 4), st.integers(1, 4), st.sampled_from([None, (2, 3)]), st.integers(0, 2 ** 31))
def test_batch_norm_stats_apply_and_backward(n, c, hw, seed):
    rng = np.random.default_rng(seed)
    shape = (n + 1, c) + (hw or ())
    x = rng.standard_normal(shape).astype(np.float32)
    axes = (0, 2, 3) if hw else (0,)
    mean, var = ref.batch_norm_stats(x)
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(axes), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(var, x.astype(np.float64).var(axes), rtol=1e-5, atol=1e-6)
    scale, shift = rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    bshape = (1, c) + (1, 1) * bool(hw)
    y = ref.batch_norm_apply(x, scale, shift, relu=True)
    np.testing.assert_allclose(y, np.maximum(x * scale.reshape(bshape) + shift.reshape(bshape), 0), rtol=1e-6)

    gamma, dy, eps = scale, rng.standard_normal(shape), 1e-3

    def objective(x64):  # float64 training-mode BN weighted by dy
        m, v = x64.mean(axes, keepdims=True), x64.var(axes, keepdims=True)
        return (dy * gamma.reshape(bshape) * (x64 - m) / np.sqrt(v + eps)).sum()
    invstd = (1 / np.sqrt(var.astype(np.float64) + eps)).astype(np.float32)
    dx, dgamma, dbeta = ref.batch_norm_backward(dy.astype(np.float32), x, mean, invstd, gamma)
    numeric = np.zeros(shape)
    x64, h = x.astype(np.float64), 1e-6
    for idx in np.ndindex(shape):
        e = np.zeros(shape)
        e[idx] = h
        numeric[idx] = (objective(x64 + e) - objective(x64 - e)) / (2 * h)
    np.testing.assert_allclose(dx, numeric, rtol=1e-3, atol=1e-3 * (np.abs(numeric).max() + 1))
    xhat = (x64 - x64.mean(axes, keepdims=True)) * invstd.reshape(bshape)
    np.testing.assert_allclose(dgamma, (dy * xhat).sum(axes), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dbeta, dy.sum(axes), rtol=1e-5, atol=1e-5)


@st.composite
def pool_case(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    h, w = draw(st.integers(kh, 7)), draw(st.integers(kw, 7))
    return arrays(draw, (2, 2, h, w)), (kh, kw), stride, padding


def windows(x, kernel, stride, padding, fill):
    """Yield (i, j, window values, window flat indices into H*W or -1 for padding) per output pixel."""
    h, w = x.shape[2:]
    oh = (h + 2 * padding[0] - kernel[0]) // stride[0] + 1
    ow = (w + 2 * padding[1] - kernel[1]) // stride[1] + 1
    for i in range(oh):
        for j in range(ow):
            values, index = [], []
            for p in range(kernel[0]):
                for q in range(kernel[1]):
                    r, c = i * stride[0] - padding[0] + p, j * stride[1] - padding[1] + q
                    inside = 0 <= r < h and 0 <= c < w
                    values.append(x[:, :, r, c] if inside else np.full(x.shape[:2], fill))
                    index.append(r * w + c if inside else -1)
            yield i, j, np.stack(values, -1), np.array(index)


@fast
@given(pool_case())
def test_max_pool2d_matches_window_loops(case):
    x, kernel, stride, padding = case
    y, argmax = ref.max_pool2d_forward(x, kernel, stride, padding)
    for i, j, values, index in windows(x, kernel, stride, padding, -np.inf):
        first = values.argmax(-1)  # numpy's argmax keeps the first maximum, as the contract does
        np.testing.assert_array_equal(y[:, :, i, j], values.max(-1))
        np.testing.assert_array_equal(argmax[:, :, i, j], index[first])
    dy = np.random.default_rng(0).standard_normal(y.shape).astype(np.float32)
    dx = ref.max_pool2d_backward(dy, argmax, x.shape)
    expected = np.zeros(x.shape)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            np.add.at(expected[n, c].reshape(-1), argmax[n, c].ravel(), dy[n, c].ravel())
    np.testing.assert_allclose(dx, expected, rtol=1e-6, atol=1e-6)


def test_max_pool2d_picks_nan_and_first_of_ties():
    x = np.array([[[[1.0, 1.0], [np.nan, 0.0]]]], np.float32)
    y, argmax = ref.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
    assert np.isnan(y).all() and argmax.item() == 2
    y, argmax = ref.max_pool2d_forward(np.ones((1, 1, 2, 2), np.float32), (2, 2), (2, 2), (0, 0))
    assert argmax.item() == 0 and argmax.dtype == np.int32


@fast
@given(pool_case())
def test_avg_pool2d_matches_window_loops_and_is_adjoint(case):
    x, kernel, stride, padding = case
    y = ref.avg_pool2d_forward(x, kernel, stride, padding)
    for i, j, values, _ in windows(x, kernel, stride, padding, 0.0):
        np.testing.assert_allclose(y[:, :, i, j], values.mean(-1), rtol=1e-5, atol=1e-6)
    dy = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    dx = ref.avg_pool2d_backward(dy, x.shape, kernel, stride, padding)
    assert abs(np.vdot(y.astype(np.float64), dy) - np.vdot(x.astype(np.float64), dx)) < 1e-4 * y.size


@fast
@given(st.integers(1, 7), st.integers(1, 7), st.integers(1, 4), st.integers(1, 4))
def test_adaptive_avg_pool2d_uses_pytorch_bins(h, w, oh, ow):
    x = np.random.default_rng(h * 7 + w).standard_normal((1, 2, h, w)).astype(np.float32)
    y = adaptive_avg_pool2d(tensor(x), (oh, ow)).numpy()
    for i in range(oh):
        for j in range(ow):
            r0, r1 = (i * h) // oh, -(-(i + 1) * h // oh)
            c0, c1 = (j * w) // ow, -(-(j + 1) * w // ow)
            np.testing.assert_allclose(y[:, :, i, j], x[:, :, r0:r1, c0:c1].mean((2, 3)), rtol=1e-5, atol=1e-6)


def test_dispatch_stubs_and_threads():
    assert ref.isa_compiled() == ["scalar"] and ref.isa_supported() == ["scalar"]
    assert ref.isa_selected() == "scalar"
    ref.select_isa("scalar")
    with pytest.raises(ValueError, match="not supported"):
        ref.select_isa("avx512")
    before = ref.get_num_threads()
    ref.set_num_threads(3)
    assert ref.get_num_threads() == 3
    ref.set_num_threads(before)
    with pytest.raises(ValueError):
        ref.set_num_threads(0)


def test_reference_computes_fp32_only():
    a = np.ones((2, 2), np.float32)
    with pytest.raises(NotImplementedError, match="dfp16"):
        ref.gemm(a, a, fmt=GemmFormat(FormatSpec("dfp16"), FP32))


def test_native_exports_the_whole_contract():
    for name in _native.CONTRACT:
        assert callable(getattr(_native, name)) and callable(getattr(ref, name))
