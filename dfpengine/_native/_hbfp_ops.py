"""GEMM-family `*_quantized` functions for the block formats (hbfp, hbfp8/6/4,
mx): the provider `QUANTIZED_PROVIDERS` names for those tags.

Fallback implementation (fake quantisation), not the integer kernel:
both operands are quantised along the dot-product dimension K with the C
quantiser `dfp_bfp_quantize` (blocks of the format's block size, seeds and
seed = fmt.a param "seed" default 0; streams 2i for op(a) and 2i+1 for op(b)
at call index i of _lowp_streams, so call 0 rounds exactly as
`formats.hbfp.gemm_reference`), dequantised to FP32 values k * 2^(E-m), and
multiplied by the native FP32 GEMM.

What is exact: the quantised operands are bit-identical to the oracle's. Each
product of two grid values, k_a*k_b * 2^(...) with |k_a*k_b| < 2^14 (m <= 7),
is exact in FP32, and so is any partial sum within one block (< 64 * 2^14 =
2^20 < 2^24 significand bits). What differs from `gemm_reference`: FP32 GEMM
adds across blocks (of different scales) in its own order, so results agree
to FP32 summation rounding (about K * 2^-24 * sum|a||b|), not bit for bit.
Conv: im2col GEMMs (see _im2col_conv for where the blocks lie per pass).
"""
import numpy as np

from . import _im2col_conv, _lowp_streams


def _along_k(op, fmt, seed, stream):
    """op (rows x K, possibly a transposed view) quantised in blocks along K."""
    from dfpengine.formats import hbfp
    return hbfp.quantize(np.ascontiguousarray(op, np.float32), fmt, None, seed, stream)


def gemm_quantized(a, b, trans_a=False, trans_b=False, fmt=None):
    from dfpengine import _native
    seed, call = _lowp_streams.seed(fmt), _lowp_streams.next_call()
    a_rows = _along_k(a.T if trans_a else a, fmt.a, seed, 2 * call)       # m x K
    b_cols = _along_k(b if trans_b else b.T, fmt.b, seed, 2 * call + 1)   # n x K
    return _native._fp32_impl["gemm"](a_rows, b_cols, False, True)


def conv2d_forward_quantized(x, w, bias, stride, padding, dilation, fmt=None):
    return _im2col_conv.forward(gemm_quantized, x, w, bias, stride, padding, dilation, fmt)


def conv2d_backward_data_quantized(dy, w, x_shape, stride, padding, dilation, fmt=None):
    return _im2col_conv.backward_data(gemm_quantized, dy, w, x_shape, stride, padding, dilation, fmt)


def conv2d_backward_weight_quantized(x, dy, w_shape, stride, padding, dilation, fmt=None):
    return _im2col_conv.backward_weight(gemm_quantized, x, dy, w_shape, stride, padding, dilation, fmt)
