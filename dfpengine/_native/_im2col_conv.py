"""Conv passes as GEMMs on the im2col matrix, for the low-precision formats.

Each pass is one GEMM through a format's `gemm_quantized`, so the conv is
*exactly* that format's GEMM on an explicit matrix (tests compare against the
GEMM oracles on the same matrices). The matrices (dot-product dimension K last
or first as noted) and the operand order (fmt.a, fmt.b), matching the DFP16
kernels:
  fprop   y     = cols (N*OH*OW x C*KH*KW) @ W^T       a = activation, b = weight; K = C*KH*KW
  bprop   dcols = dY (N*OH*OW x O) @ W (O x C*KH*KW)   a = dy, b = weight;         K = O
  wtgrad  dW    = dY^T (O x N*OH*OW) @ cols            a = dy, b = activation;     K = N*OH*OW
K is ordered (c, kh, kw) for fprop and (n, oh, ow) for wtgrad, which is where
block formats put their blocks. bprop's col2im adds the overlapping taps of
dcols in FP32, outside the format's accumulator (the same overlap-add the FP32
reference does); with stride >= kernel there is no overlap.

Python + numpy im2col: correct and simple, not fast (the blocked C im2col
feeding the emulated GEMM is the planned replacement).
"""
import numpy as np

from . import reference as _ref


def _nhwc_rows(t):
    """NCHW -> (N*H*W, C) rows, C-contiguous."""
    return np.ascontiguousarray(t.transpose(0, 2, 3, 1).reshape(-1, t.shape[1]))


def forward(gemm, x, w, bias, stride, padding, dilation, fmt):
    _ref._array("x", x, ndim=4)
    _ref._array("w", w, ndim=4)
    stride, padding, dilation, (n, o, oh, ow) = _ref._conv_geometry(x.shape, w.shape, stride, padding, dilation)
    cols = _ref._im2col(x, w.shape[2], w.shape[3], stride, padding, dilation, oh, ow)
    y = gemm(cols, np.ascontiguousarray(w.reshape(o, -1)), False, True, fmt)
    if bias is not None:
        y += _ref._channels("bias", bias, o)
    return np.ascontiguousarray(y.reshape(n, oh, ow, o).transpose(0, 3, 1, 2))


def backward_data(gemm, dy, w, x_shape, stride, padding, dilation, fmt):
    _ref._array("w", w, ndim=4)
    x_shape = _ref._shape4("x_shape", x_shape)
    stride, padding, dilation, y_shape = _ref._conv_geometry(x_shape, w.shape, stride, padding, dilation)
    _ref._check_dy(dy, y_shape)
    n, c, h, wd = x_shape
    o, _, kh, kw = w.shape
    oh, ow = y_shape[2:]
    dcols = gemm(_nhwc_rows(dy), np.ascontiguousarray(w.reshape(o, -1)), False, False, fmt)
    dcols = dcols.reshape(n, oh, ow, c, kh, kw)
    dxp = np.zeros((n, c, h + 2 * padding[0], wd + 2 * padding[1]), dtype=np.float32)
    for (i, j), rows, columns in _ref._tap_slices(kh, kw, stride, padding, dilation, oh, ow):
        dxp[:, :, rows, columns] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return np.ascontiguousarray(dxp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + wd])


def backward_weight(gemm, x, dy, w_shape, stride, padding, dilation, fmt):
    _ref._array("x", x, ndim=4)
    w_shape = _ref._shape4("w_shape", w_shape)
    stride, padding, dilation, y_shape = _ref._conv_geometry(x.shape, w_shape, stride, padding, dilation)
    _ref._check_dy(dy, y_shape)
    o, _, kh, kw = w_shape
    cols = _ref._im2col(x, kh, kw, stride, padding, dilation, *y_shape[2:])
    dw = gemm(_nhwc_rows(dy), cols, True, False, fmt)
    return dw.reshape(w_shape)
