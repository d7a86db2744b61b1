"""Conv passes as GEMMs on the batch's im2col matrix, for the low-precision formats.

Each pass is one GEMM through a format's `gemm_quantized`, so the conv is
*exactly* that format's GEMM on an explicit matrix (tests compare against the
GEMM oracles on the same matrices). The C im2col (`_emu.im2col`, threaded)
gives colsT = (C*KH*KW) x (N*OH*OW); the GEMMs read it transposed where they
need the pixel-major matrix cols = colsT^T. Matrices and operand order
(fmt.a, fmt.b):
  fprop   y      = cols (N*OH*OW x C*KH*KW) @ W^T       a = activation, b = weight; K = C*KH*KW
  bprop   dcolsT = W^T (C*KH*KW x O) @ dY^T (O x N*OH*OW)  a = weight, b = dy;     K = O
  wtgrad  dW     = dY^T (O x N*OH*OW) @ cols            a = dy, b = activation;     K = N*OH*OW
K is ordered (c, kh, kw) for fprop and (n, oh, ow) for wtgrad, which is where
block formats put their blocks. bprop is computed transposed (so the C col2im
reads it directly) with the operands swapped; the format's GEMM format is
swapped with them (`_swap`). col2im adds the overlapping taps of dcols in
FP32, outside the format's accumulator (the same overlap-add the FP32
reference does); with stride >= kernel there is no overlap.
"""
import dataclasses

import numpy as np

from . import _emu, reference as _ref
from dfpengine.formats import FormatSpec, GemmFormat


def _nhwc_rows(t):
    """NCHW -> (N*H*W, C) rows, C-contiguous."""
    return np.ascontiguousarray(t.transpose(0, 2, 3, 1).reshape(-1, t.shape[1]))


# params that describe the GEMM rather than an operand; they ride on fmt.a
_GEMM_PARAMS = ("acc", "chunk", "acc_rounding", "seed")


def _swap(fmt):
    """GemmFormat with the operands exchanged; the GEMM's own params stay on `a`, the
    stochastic stream key (precision.gemm_formats) stays with the GEMM."""
    gemm = {k: v for k, v in fmt.a.params if k in _GEMM_PARAMS}
    a = {k: v for k, v in fmt.b.params if k not in _GEMM_PARAMS}
    b = {k: v for k, v in fmt.a.params if k not in _GEMM_PARAMS}
    return dataclasses.replace(
        fmt, a=FormatSpec(fmt.b.name, fmt.b.rounding, tuple(sorted({**a, **gemm}.items()))),
        b=FormatSpec(fmt.a.name, fmt.a.rounding, tuple(sorted(b.items()))))


def forward(gemm, x, w, bias, stride, padding, dilation, fmt):
    _ref._array("x", x, ndim=4)
    _ref._array("w", w, ndim=4)
    stride, padding, dilation, (n, o, oh, ow) = _ref._conv_geometry(x.shape, w.shape, stride, padding, dilation)
    cols_t = _emu.im2col(x, w.shape[2], w.shape[3], stride, padding, dilation, oh, ow)
    y = gemm(cols_t, np.ascontiguousarray(w.reshape(o, -1)), True, True, fmt)
    if bias is not None:
        y += _ref._channels("bias", bias, o)
    return np.ascontiguousarray(y.reshape(n, oh, ow, o).transpose(0, 3, 1, 2))


def backward_data(gemm, dy, w, x_shape, stride, padding, dilation, fmt):
    _ref._array("w", w, ndim=4)
    x_shape = _ref._shape4("x_shape", x_shape)
    stride, padding, dilation, y_shape = _ref._conv_geometry(x_shape, w.shape, stride, padding, dilation)
    _ref._check_dy(dy, y_shape)
    o, _, kh, kw = w.shape
    dcols_t = gemm(np.ascontiguousarray(w.reshape(o, -1)), _nhwc_rows(dy), True, True, _swap(fmt))
    return _emu.col2im(dcols_t, x_shape, kh, kw, stride, padding, dilation)


def backward_weight(gemm, x, dy, w_shape, stride, padding, dilation, fmt):
    _ref._array("x", x, ndim=4)
    w_shape = _ref._shape4("w_shape", w_shape)
    stride, padding, dilation, y_shape = _ref._conv_geometry(x.shape, w_shape, stride, padding, dilation)
    _ref._check_dy(dy, y_shape)
    o, _, kh, kw = w_shape
    cols_t = _emu.im2col(x, kh, kw, stride, padding, dilation, *y_shape[2:])
    dw = gemm(_nhwc_rows(dy), cols_t, True, True, fmt)
    return dw.reshape(w_shape)


def conv_passes(gemm):
    """The three conv functions of a format provider (`conv2d_forward_quantized`,
    `conv2d_backward_data_quantized`, `conv2d_backward_weight_quantized`) built on its
    `gemm_quantized`."""
    def conv2d_forward_quantized(x, w, bias, stride, padding, dilation, fmt=None):
        return forward(gemm, x, w, bias, stride, padding, dilation, fmt)

    def conv2d_backward_data_quantized(dy, w, x_shape, stride, padding, dilation, fmt=None):
        return backward_data(gemm, dy, w, x_shape, stride, padding, dilation, fmt)

    def conv2d_backward_weight_quantized(x, dy, w_shape, stride, padding, dilation, fmt=None):
        return backward_weight(gemm, x, dy, w_shape, stride, padding, dilation, fmt)

    return conv2d_forward_quantized, conv2d_backward_data_quantized, conv2d_backward_weight_quantized
