"""Cython glue for the FP32 compute path: the contract functions of
docs/native_contract.md over libdfpengine's FP32 C API.

Argument checks reuse the numpy reference's validators, so both raise the same
ValueError/TypeError messages; the C calls run without the GIL. A `fmt` naming
a format other than FP32 raises NotImplementedError (those GEMMs belong to the
integer module).
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint8_t

from dfpengine._native cimport libdfp_fp32 as c
from dfpengine._native._dispatch import check
from dfpengine._native import reference as _ref

cnp.import_array()

_F32 = np.float32

cdef inline float *fp(cnp.ndarray a):
    return <float *>cnp.PyArray_DATA(a)


include "_plane_sums.pxi"


def _fp32_only(fmt, what):
    if fmt is None:
        return
    a, b = getattr(fmt, "a", None), getattr(fmt, "b", None)
    if a is None or b is None:
        raise TypeError(f"fmt: expected a GemmFormat or None, received {type(fmt).__name__}")
    if a.name != "fp32" or b.name != "fp32":
        raise NotImplementedError(f"{what}: the FP32 module computes FP32 only; fmt asks for "
                                  f"({a.name}, {b.name})")


# ---------------------------------------------------------------------- gemm

def gemm(a, b, trans_a=False, trans_b=False, fmt=None):
    """`op(a) @ op(b)` in float32, op = transpose when the flag is set."""
    _ref._array("a", a, ndim=2)
    _ref._array("b", b, ndim=2)
    _fp32_only(fmt, "gemm")
    cdef int ta = bool(trans_a), tb = bool(trans_b)
    cdef int64_t m = a.shape[1] if ta else a.shape[0]
    cdef int64_t k = a.shape[0] if ta else a.shape[1]
    cdef int64_t kb = b.shape[1] if tb else b.shape[0]
    cdef int64_t n = b.shape[0] if tb else b.shape[1]
    if k != kb:
        raise ValueError(f"gemm: inner dimensions differ: op(a) is {(m, k)}, op(b) is {(kb, n)}")
    cdef cnp.ndarray out = np.empty((m, n), _F32)
    cdef int64_t lda = a.shape[1], ldb = b.shape[1]
    cdef float *pa = fp(a)
    cdef float *pb = fp(b)
    cdef float *pc = fp(out)
    cdef int st
    with nogil:
        st = c.dfp_sgemm(ta, tb, m, n, k, 1.0, pa, lda, pb, ldb, 0.0, pc, n)
    check(st, "gemm")
    return out


# --------------------------------------------------------------- convolution

cdef c.dfp_conv2d_shape _conv_shape(x_shape, w_shape, stride, padding, dilation):
    cdef c.dfp_conv2d_shape s
    s.batch, s.in_channels, s.in_h, s.in_w = x_shape
    s.out_channels, _, s.kernel_h, s.kernel_w = w_shape
    s.stride_h, s.stride_w = stride
    s.pad_h, s.pad_w = padding
    s.dilation_h, s.dilation_w = dilation
    return s


def conv2d_forward(x, w, bias, stride, padding, dilation, fmt=None, y_sums=None):
    """Cross-correlation of NCHW `x` with OIHW `w`, plus `bias[o]` when given. With
    `y_sums` (float64, (N, O, 3)), batch norm's plane sums of the output are written there
    (see batch_norm_stats_from_planes)."""
    _ref._array("x", x, ndim=4)
    _ref._array("w", w, ndim=4)
    _fp32_only(fmt, "conv2d_forward")
    stride, padding, dilation, y_shape = _ref._conv_geometry(x.shape, w.shape, stride, padding, dilation)
    cdef float *pbias = NULL
    if bias is not None:
        _ref._channels("bias", bias, w.shape[0])
        pbias = fp(bias)
    cdef c.dfp_conv2d_shape s = _conv_shape(x.shape, w.shape, stride, padding, dilation)
    cdef cnp.ndarray y = np.empty(y_shape, _F32)
    cdef float *px = fp(x)
    cdef float *pw = fp(w)
    cdef float *py = fp(y)
    cdef double *psums = plane_sums_pointer(y_sums, y_shape)
    cdef int st
    with nogil:
        st = c.dfp_conv2d_forward_f32_sums(&s, px, pw, pbias, py, psums)
    check(st, "conv2d_forward")
    return y


def conv2d_backward_data(dy, w, x_shape, stride, padding, dilation, fmt=None):
    """Gradient of the conv output with respect to its input, shaped `x_shape`."""
    _ref._array("w", w, ndim=4)
    x_shape = _ref._shape4("x_shape", x_shape)
    _fp32_only(fmt, "conv2d_backward_data")
    stride, padding, dilation, y_shape = _ref._conv_geometry(x_shape, w.shape, stride, padding, dilation)
    _ref._check_dy(dy, y_shape)
    cdef c.dfp_conv2d_shape s = _conv_shape(x_shape, w.shape, stride, padding, dilation)
    cdef cnp.ndarray dx = np.empty(x_shape, _F32)
    cdef float *pdy = fp(dy)
    cdef float *pw = fp(w)
    cdef float *pdx = fp(dx)
    cdef int st
    with nogil:
        st = c.dfp_conv2d_backward_data_f32(&s, pdy, pw, pdx)
    check(st, "conv2d_backward_data")
    return dx


def conv2d_backward_weight(x, dy, w_shape, stride, padding, dilation, fmt=None):
    """Gradient of the conv output with respect to its weight, shaped `w_shape`."""
    _ref._array("x", x, ndim=4)
    w_shape = _ref._shape4("w_shape", w_shape)
    _fp32_only(fmt, "conv2d_backward_weight")
    stride, padding, dilation, y_shape = _ref._conv_geometry(x.shape, w_shape, stride, padding, dilation)
    _ref._check_dy(dy, y_shape)
    cdef c.dfp_conv2d_shape s = _conv_shape(x.shape, w_shape, stride, padding, dilation)
    cdef cnp.ndarray dw = np.empty(w_shape, _F32)
    cdef float *px = fp(x)
    cdef float *pdy = fp(dy)
    cdef float *pdw = fp(dw)
    cdef int st
    with nogil:
        st = c.dfp_conv2d_backward_weight_f32(&s, px, pdy, pdw)
    check(st, "conv2d_backward_weight")
    return dw


# ---------------------------------------------------------------------- relu

def add(a, b, out=None):
    """a + b for two float32 arrays of one shape (C-contiguous), threaded; into `out` when
    given (which may be a or b itself)."""
    _ref._array("a", a)
    _ref._array("b", b)
    if a.shape != b.shape:
        raise ValueError(f"add: shapes differ: {a.shape} and {b.shape}")
    if out is None:
        out = np.empty(a.shape, _F32)
    else:
        _ref._array("out", out)
        if out.shape != a.shape or not out.flags.writeable:
            raise ValueError(f"add: out must be a writeable array of shape {a.shape}, "
                             f"received {out.shape}")
    cdef int64_t n = a.size
    if n == 0:
        return out
    cdef float *pa = fp(a)
    cdef float *pb = fp(b)
    cdef float *po = fp(out)
    cdef int st
    with nogil:
        st = c.dfp_add_f32(n, pa, pb, po)
    check(st, "add")
    return out


def subsample_pad(x, int64_t stride, int64_t before, int64_t after):
    """x[:, :, ::stride, ::stride] with `before` zero channels in front and `after` behind
    (NCHW float32, C-contiguous), in one threaded pass."""
    _ref._array("x", x, ndim=4)
    _ref._shortcut_args("subsample_pad", stride, before, after)
    n, ch, h, w = x.shape
    cdef cnp.ndarray y = np.empty((n, before + ch + after, -(-h // stride), -(-w // stride)), _F32)
    cdef float *px = fp(x)
    cdef float *py = fp(y)
    cdef int64_t nn = n, cc = ch, hh = h, ww = w
    cdef int st
    with nogil:
        st = c.dfp_subsample_pad_f32(nn, cc, hh, ww, stride, before, after, px, py)
    check(st, "subsample_pad")
    return y


def subsample_pad_backward(dy, x_shape, int64_t stride, int64_t before, int64_t after):
    """The gradient of subsample_pad: dy's middle channels at every stride-th pixel of
    `x_shape`, zero elsewhere."""
    n, ch, h, w = _ref._shape4("x_shape", x_shape)
    _ref._array("dy", dy, ndim=4)
    _ref._shortcut_args("subsample_pad_backward", stride, before, after)
    want = (n, before + ch + after, -(-h // stride), -(-w // stride))
    if dy.shape != want:
        raise ValueError(f"subsample_pad_backward: dy: expected shape {want}, received {dy.shape}")
    cdef cnp.ndarray dx = np.empty((n, ch, h, w), _F32)
    cdef float *pd = fp(dy)
    cdef float *pdx = fp(dx)
    cdef int64_t nn = n, cc = ch, hh = h, ww = w
    cdef int st
    with nogil:
        st = c.dfp_subsample_pad_backward_f32(nn, cc, hh, ww, stride, before, after, pd, pdx)
    check(st, "subsample_pad_backward")
    return dx


def relu_forward(x):
    """`(max(x, 0), mask)`; mask is uint8, 1 where x > 0 (NaN: y keeps it, mask 0)."""
    _ref._array("x", x)
    cdef cnp.ndarray y = np.empty(x.shape, _F32)
    cdef cnp.ndarray mask = np.empty(x.shape, np.uint8)
    cdef int64_t n = x.size
    cdef float *px = fp(x)
    cdef float *py = fp(y)
    cdef uint8_t *pm = <uint8_t *>cnp.PyArray_DATA(mask)
    cdef int st
    with nogil:
        st = c.dfp_relu_forward_f32(n, px, py, pm)
    check(st, "relu_forward")
    return y, mask


def relu_backward(dy, mask):
    _ref._array("dy", dy)
    _ref._array("mask", mask, dtype=np.uint8)
    if mask.shape != dy.shape:
        raise ValueError(f"mask: expected shape {dy.shape} (as dy), received {mask.shape}")
    cdef cnp.ndarray dx = np.empty(dy.shape, _F32)
    cdef int64_t n = dy.size
    cdef float *pdy = fp(dy)
    cdef uint8_t *pm = <uint8_t *>cnp.PyArray_DATA(mask)
    cdef float *pdx = fp(dx)
    cdef int st
    with nogil:
        st = c.dfp_relu_backward_f32(n, pdy, pm, pdx)
    check(st, "relu_backward")
    return dx


include "_fp32_norm_pool.pxi"
