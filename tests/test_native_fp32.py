"""The compiled FP32 path (dfpengine._native._fp32) against the numpy reference,
for every ISA level this CPU supports and 1 and 2 threads, on odd shapes; and
bad input raising the reference's exceptions."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dfpengine import _native
from dfpengine._native import reference as ref

fp32 = pytest.importorskip("dfpengine._native._fp32", reason="FP32 extension not built")


def rand(rng, *shape):
    return rng.standard_normal(shape, dtype=np.float32)


def close(got, want, k=1):
    """float32 sums of k products: error grows like sqrt(k)."""
    if isinstance(want, tuple):
        for g, w in zip(got, want):
            close(g, w, k)
        return
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=2e-5 * np.sqrt(k) + 1e-6, atol=2e-5 * np.sqrt(k))


GEMM_SHAPES = [(1, 1, 1), (1, 37, 5), (29, 1, 7), (13, 17, 1), (57, 95, 261), (300, 16, 70), (15, 33, 600)]


@pytest.mark.parametrize("m,n,k", GEMM_SHAPES)
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm(isa_threads, m, n, k, ta, tb):
    rng = np.random.default_rng(m * 1000 + n + k)
    a = rand(rng, *((k, m) if ta else (m, k)))
    b = rand(rng, *((n, k) if tb else (k, n)))
    close(fp32.gemm(a, b, ta, tb), ref.gemm(a, b, ta, tb), k)


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 70), n=st.integers(1, 70), k=st.integers(1, 300), ta=st.booleans(),
       tb=st.booleans())
def test_gemm_random_shapes(m, n, k, ta, tb):
    rng = np.random.default_rng(m + 71 * n + 5000 * k)
    a = rand(rng, *((k, m) if ta else (m, k)))
    b = rand(rng, *((n, k) if tb else (k, n)))
    close(fp32.gemm(a, b, ta, tb), ref.gemm(a, b, ta, tb), k)


CONV_CASES = [  # x shape, w shape, stride, padding, dilation
    ((2, 3, 9, 11), (5, 3, 3, 3), (1, 1), (1, 1), (1, 1)),
    ((3, 5, 11, 9), (7, 5, 3, 2), (2, 1), (1, 1), (1, 2)),
    ((1, 4, 13, 7), (6, 4, 2, 3), (3, 2), (2, 0), (2, 1)),
    ((2, 6, 7, 8), (4, 6, 1, 1), (1, 1), (0, 0), (1, 1)),   # 1x1: no im2col
    ((2, 6, 7, 8), (4, 6, 1, 1), (2, 2), (0, 0), (1, 1)),
    ((1, 1, 1, 1), (1, 1, 1, 1), (1, 1), (0, 0), (1, 1)),
    ((2, 16, 40, 40), (8, 16, 3, 3), (1, 1), (1, 1), (1, 1)),  # several pixel tiles per image
    ((2, 3, 6, 5), (4, 3, 3, 5), (1, 1), (0, 2), (1, 1)),    # same width, not height: shifted copies
    ((1, 2, 9, 2), (3, 2, 5, 5), (1, 1), (2, 2), (1, 1)),    # taps reaching past both image edges
    ((2, 3, 8, 9), (4, 3, 3, 3), (1, 1), (2, 2), (2, 2)),    # dilated same-width
    # stride 1: AVX-512 reads B in place (no im2col); rows of other widths (the cases above,
    # 11, 5 and 2 wide) at a virtual width of 16 or 8, cropped. Rows a multiple of 16 wide:
    ((2, 5, 16, 32), (9, 5, 3, 3), (1, 1), (1, 1), (1, 1)),   # 9 outputs: a partial 8-row panel
    ((2, 4, 12, 16), (8, 4, 3, 3), (1, 1), (2, 2), (2, 2)),   # dilated
    ((1, 3, 5, 16), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1)),    # 80 pixels: a last half block
    ((2, 16, 8, 8), (12, 16, 3, 3), (1, 1), (1, 1), (1, 1)),  # 8-wide rows: runs of 8
    ((1, 2, 3, 24), (3, 2, 3, 3), (1, 1), (1, 1), (1, 1)),    # 72 pixels: a last block of one run
    ((2, 16, 16, 16), (8, 16, 3, 3), (2, 2), (1, 1), (1, 1)), # stride 2: even/odd column phases
    ((2, 8, 9, 33), (8, 8, 3, 3), (2, 2), (0, 0), (1, 1)),    # ... odd width, even (zero) padding
    ((2, 8, 6, 31), (8, 8, 5, 5), (2, 2), (2, 2), (1, 1)),    # ... odd width, padding 2
    # strided BPROP as stride-1 phase convs of dy (AVX-512; rows a multiple of 8 * stride wide)
    ((2, 16, 32, 32), (32, 16, 3, 3), (2, 2), (1, 1), (1, 1)), # ResNet's stage entry
    ((2, 8, 12, 48), (16, 8, 3, 3), (3, 3), (1, 1), (1, 1)),   # stride 3
    ((2, 8, 16, 32), (8, 8, 1, 1), (2, 2), (0, 0), (1, 1)),    # 1x1: phases without taps
    ((2, 4, 12, 16), (8, 4, 4, 4), (2, 2), (1, 1), (1, 1)),    # even kernel
    ((1, 3, 9, 31), (5, 3, 3, 3), (2, 2), (1, 1), (1, 1)),    # odd padded width, 80 pixels
    ((2, 4, 10, 16), (6, 4, 3, 3), (3, 1), (1, 1), (1, 1)),   # row stride 3
    # rows a multiple of 16 wide: AVX-512 takes 48 pixels per call while a multiple of 32 is left
    ((2, 8, 16, 16), (16, 8, 3, 3), (1, 1), (1, 1), (1, 1)),  # 256 = 4 x 48 + 2 x 32; 24 taps per kernel row
    ((1, 16, 1, 16), (8, 16, 3, 3), (1, 1), (1, 1), (1, 1)),  # 16 pixels: no 48-wide call
    ((1, 16, 3, 16), (11, 16, 3, 3), (1, 1), (1, 1), (1, 1)), # 48 pixels: one; rows past 8 (partial panel)
    # channels a multiple of 16: AVX-512 WTGRAD reads the taps in place (channel-last copy)
    ((2, 32, 9, 10), (5, 32, 3, 2), (2, 1), (1, 1), (2, 1)),  # strides, row dilation, 2 full blocks
    ((3, 16, 7, 8), (4, 16, 1, 1), (2, 2), (0, 0), (1, 1)),   # 1x1 strided: one half block
]


@pytest.mark.parametrize("xs,ws,stride,padding,dilation", CONV_CASES)
def test_conv2d(isa_threads, xs, ws, stride, padding, dilation):
    rng = np.random.default_rng(sum(xs) + sum(ws))
    x, w, bias = rand(rng, *xs), rand(rng, *ws), rand(rng, ws[0])
    y = fp32.conv2d_forward(x, w, bias, stride, padding, dilation)
    ckk = ws[1] * ws[2] * ws[3]
    close(y, ref.conv2d_forward(x, w, bias, stride, padding, dilation), ckk)
    close(fp32.conv2d_forward(x, w, None, stride, padding, dilation),
          ref.conv2d_forward(x, w, None, stride, padding, dilation), ckk)
    dy = rand(rng, *y.shape)
    close(fp32.conv2d_backward_data(dy, w, xs, stride, padding, dilation),
          ref.conv2d_backward_data(dy, w, xs, stride, padding, dilation), ws[0] * ws[2] * ws[3])
    close(fp32.conv2d_backward_weight(x, dy, ws, stride, padding, dilation),
          ref.conv2d_backward_weight(x, dy, ws, stride, padding, dilation), xs[0] * y.shape[2] * y.shape[3])


def test_relu(isa_threads):
    rng = np.random.default_rng(1)
    x = rand(rng, 3, 5, 7, 11)
    x[0, 0, 0, :3] = [np.nan, 0.0, -0.0]
    y, mask = fp32.relu_forward(x)
    y_ref, mask_ref = ref.relu_forward(x)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(mask, mask_ref)
    dy = rand(rng, *x.shape)
    np.testing.assert_array_equal(fp32.relu_backward(dy, mask), ref.relu_backward(dy, mask))


@pytest.mark.parametrize("shape", [(4, 3, 5, 7), (2, 5), (1, 1, 1, 1), (3, 70, 9, 9)])
def test_batch_norm(isa_threads, shape):
    rng = np.random.default_rng(len(shape))
    x = rand(rng, *shape) * 3 + 100  # offset mean: a one-pass variance would lose digits
    close(fp32.batch_norm_stats(x), ref.batch_norm_stats(x), 4)
    c = shape[1]
    scale, shift = rand(rng, c), rand(rng, c)
    for relu in (False, True):
        close(fp32.batch_norm_apply(x, scale, shift, relu), ref.batch_norm_apply(x, scale, shift, relu))
    mean, var = ref.batch_norm_stats(x)
    invstd = (1 / np.sqrt(var + 1e-5)).astype(np.float32)
    dy = rand(rng, *shape)
    count = x.size // c
    close(fp32.batch_norm_backward(dy, x, mean, invstd, scale),
          ref.batch_norm_backward(dy, x, mean, invstd, scale), count)


POOL_CASES = [((2, 3, 9, 11), (3, 3), (2, 2), (1, 1)), ((1, 2, 8, 8), (2, 2), (2, 2), (0, 0)),
              ((2, 1, 7, 5), (3, 2), (1, 2), (1, 1)), ((1, 1, 1, 1), (1, 1), (1, 1), (0, 0)),
              # unpadded path: strides 1, 2 and 3, rows wider than its 64-column blocks
              ((1, 2, 5, 150), (2, 3), (1, 1), (0, 0)), ((2, 3, 9, 140), (3, 2), (3, 2), (0, 0)),
              ((1, 2, 7, 200), (2, 3), (2, 3), (0, 0)),
              # 2x2 stride 2 (the AVX2 and AVX-512 kernels): odd sizes, rows of more than 32 columns
              ((2, 3, 28, 28), (2, 2), (2, 2), (0, 0)), ((1, 2, 7, 71), (2, 2), (2, 2), (0, 0))]


@pytest.mark.parametrize("xs,kernel,stride,padding", POOL_CASES)
def test_pooling(isa_threads, xs, kernel, stride, padding):
    rng = np.random.default_rng(sum(xs))
    x = rand(rng, *xs)
    y, arg = fp32.max_pool2d_forward(x, kernel, stride, padding)
    y_ref, arg_ref = ref.max_pool2d_forward(x, kernel, stride, padding)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(arg, arg_ref)
    dy = rand(rng, *y.shape)
    close(fp32.max_pool2d_backward(dy, arg, xs), ref.max_pool2d_backward(dy, arg, xs))
    close(fp32.avg_pool2d_forward(x, kernel, stride, padding), ref.avg_pool2d_forward(x, kernel, stride, padding))
    close(fp32.avg_pool2d_backward(dy, xs, kernel, stride, padding),
          ref.avg_pool2d_backward(dy, xs, kernel, stride, padding))


def test_max_pool_nan_and_ties(isa_threads):
    x = np.zeros((1, 1, 4, 4), np.float32)
    x[0, 0, 1, 1] = np.nan
    x[0, 0, 2, 3] = np.nan
    x[0, 0, 2:, :2] = -np.inf  # a window of -inf only: the first tap is the argmax
    x[0, 0, 0, 2:] = 1.0       # a tie: the first tap in (h, w) order wins
    for pad in ((0, 0), (1, 1)):  # unpadded (2x2/2: AVX2, AVX-512 kernels) and clipped-window paths
        for got, want in zip(fp32.max_pool2d_forward(x, (2, 2), (2, 2), pad),
                             ref.max_pool2d_forward(x, (2, 2), (2, 2), pad)):
            np.testing.assert_array_equal(got, want)


def test_compiled_module_serves_the_contract():
    assert not _native.REFERENCE_ONLY
    for name in ("batch_norm_backward", "max_pool2d_forward", "relu_forward"):
        assert getattr(_native, name) is getattr(fp32, name)
    # GEMM-family names route by format; FP32 lands in the compiled module
    for name in ("gemm", "conv2d_forward", "conv2d_backward_data", "conv2d_backward_weight"):
        assert _native._fp32_impl[name] is getattr(fp32, name)


X = np.ones((1, 2, 4, 4), np.float32)
W = np.ones((3, 2, 3, 3), np.float32)


class LowPrecision:
    class _F:
        def __init__(self, name):
            self.name = name
    a, b = _F("dfp16"), _F("dfp16")


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: fp32.gemm(np.ones((2, 3)), np.ones((3, 2), np.float32)), TypeError, "a: .*float32.*float64"),
    (lambda: fp32.gemm(np.ones((2, 3), np.float32), np.ones((2, 2), np.float32)), ValueError, "inner"),
    (lambda: fp32.gemm(np.ones(3, np.float32), np.ones((3, 2), np.float32)), ValueError, r"a: .*\(3,\)"),
    (lambda: fp32.gemm(np.ones((2, 0), np.float32), np.ones((0, 2), np.float32)), ValueError, "non-empty"),
    (lambda: fp32.gemm(np.ones((4, 4), np.float32)[:, ::2], np.ones((2, 2), np.float32)), ValueError,
     "a: .*C-contiguous"),
    (lambda: fp32.gemm(X[0, 0], X[0, 0], fmt=LowPrecision()), NotImplementedError, "dfp16"),
    (lambda: fp32.conv2d_forward(X.transpose(0, 1, 3, 2), W, None, (1, 1), (0, 0), (1, 1)), ValueError,
     "x: .*C-contiguous"),
    (lambda: fp32.conv2d_forward(np.ones((0, 2, 4, 4), np.float32), W, None, (1, 1), (0, 0), (1, 1)),
     ValueError, "x: .*non-empty"),
    (lambda: fp32.conv2d_forward(X, np.ones((3, 5, 3, 3), np.float32), None, (1, 1), (0, 0), (1, 1)),
     ValueError, "w: expected 2 input channels"),
    (lambda: fp32.conv2d_forward(X, np.ones((3, 2, 5, 5), np.float32), None, (1, 1), (0, 0), (1, 1)),
     ValueError, "does not fit"),
    (lambda: fp32.conv2d_forward(X, W, None, (0, 1), (0, 0), (1, 1)), ValueError, "stride"),
    (lambda: fp32.conv2d_forward(X, W, np.ones(4, np.float32), (1, 1), (0, 0), (1, 1)), ValueError, "bias"),
    (lambda: fp32.conv2d_forward(X, W, None, (1, 1), (0, 0), (1, 1), fmt=LowPrecision()),
     NotImplementedError, "FP32 only"),
    (lambda: fp32.conv2d_backward_data(np.ones((1, 3, 3, 3), np.float32), W, (1, 2, 4, 4), (1, 1), (0, 0),
                                       (1, 1)), ValueError, r"dy: expected shape \(1, 3, 2, 2\)"),
    (lambda: fp32.conv2d_backward_weight(X, np.ones((1, 3, 2, 2), np.float32), (3, 2, 3), (1, 1), (0, 0),
                                         (1, 1)), ValueError, "w_shape"),
    (lambda: fp32.relu_backward(np.ones(3, np.float32), np.ones(3, np.float32)), TypeError, "mask: .*uint8"),
    (lambda: fp32.relu_forward(np.ones(3, np.int32)), TypeError, "x: .*float32"),
    (lambda: fp32.batch_norm_stats(np.ones((2, 3, 4), np.float32)), ValueError, "x: expected"),
    (lambda: fp32.batch_norm_apply(X, np.ones(3, np.float32), np.ones(2, np.float32)), ValueError,
     r"scale: expected shape \(2,\)"),
    (lambda: fp32.max_pool2d_forward(X, (2, 2), (2, 2), (2, 2)), ValueError, "padding: .*half"),
    (lambda: fp32.max_pool2d_backward(np.ones((1, 2, 2, 2), np.float32), np.full((1, 2, 2, 2), 99, np.int32),
                                      (1, 2, 4, 4)), ValueError, "argmax: expected indices"),
    (lambda: fp32.avg_pool2d_forward(X, (5, 5), (1, 1), (0, 0)), ValueError, "does not fit"),
])
def test_rejects_bad_input(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


@pytest.mark.parametrize("n", [1, 17, 65536, 300001])
def test_native_add_equals_numpy(n):
    from dfpengine._native import _fp32
    rng = np.random.default_rng(n)
    a, b = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    for threads in (1, 2):
        _native.set_num_threads(threads)
        assert np.array_equal(_fp32.add(a, b), a + b)
    with pytest.raises(ValueError, match="shapes differ"):
        _fp32.add(a, b[:-1] if n > 1 else np.zeros(2, np.float32))


def test_gradient_of_a_tensor_with_two_consumers_is_the_sum():
    """A large tensor feeding two ops (ResNet's residual) gets the sum of both gradients."""
    from dfpengine.tensor import Tensor
    x = Tensor(np.random.default_rng(0).standard_normal((4, 16, 32, 32)).astype(np.float32),
               requires_grad=True)
    y = (x * 3.0 + x * x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 3.0 + 2 * x.numpy(), rtol=1e-6)


@pytest.mark.parametrize("batch", [5, 40])
def test_wtgrad_in_place_same_bits_at_any_thread_count(batch):
    """The in-place FP32 WTGRAD (16 channels, 3x3; the levels with B-in-place kernels: AVX2 and
    up) sums fixed groups of images in group order, whichever thread took a group: 1 and 2
    threads give the same bits. (The scalar level's im2col path still sums per thread.)"""
    levels = [lvl for lvl in ("avx2", "avx512", "avx512_vnni") if lvl in _native.isa_supported()]
    if not levels:
        pytest.skip("the in-place FP32 WTGRAD needs AVX2, which this CPU lacks")
    rng = np.random.default_rng(3)
    x, dy = rand(rng, batch, 16, 12, 16), rand(rng, batch, 16, 12, 16)
    previous, isa = _native.get_num_threads(), _native.isa_selected()
    try:
        for level in levels:
            _native.select_isa(level)
            runs = []
            for threads in (1, 2, 1):
                _native.set_num_threads(threads)
                runs.append(fp32.conv2d_backward_weight(x, dy, (16, 16, 3, 3), (1, 1), (1, 1), (1, 1)))
            assert all(np.array_equal(r.view(np.uint32), runs[0].view(np.uint32)) for r in runs[1:]), level
    finally:
        _native.set_num_threads(previous)
        _native.select_isa(isa)
    close(runs[0], ref.conv2d_backward_weight(x, dy, (16, 16, 3, 3), (1, 1), (1, 1), (1, 1)), batch * 192)
