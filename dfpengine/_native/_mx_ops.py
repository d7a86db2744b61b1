"""GEMM-family `*_quantized` functions for MXFP8 (`formats.mx`): both operands
quantised along K (blocks of 32, E5M2 elements, power-of-two block scales),
then an FP32 GEMM of the exact values (every product of two E5M2 values times
a power of two is exact in FP32; the sum is FP32, as in OCP MX dot products).
Conv: the im2col GEMMs of `_im2col_conv`, like the other emulated formats.
Stochastic rounding: seed = fmt.a param "seed", streams 2i / 2i+1 of call i."""
import numpy as np

from . import _im2col_conv, _lowp_streams


def gemm_quantized(a, b, trans_a=False, trans_b=False, fmt=None):
    from dfpengine import _native
    from dfpengine.formats import mx
    seed, call = _lowp_streams.seed(fmt), _lowp_streams.next_call(fmt)
    op_a = np.asarray(a.T if trans_a else a, np.float32)      # m x K
    op_b = np.asarray(b if trans_b else b.T, np.float32)      # n x K
    qa = mx.quantize(op_a, fmt.a, None, seed, 2 * call)
    qb = mx.quantize(op_b, fmt.b, None, seed, 2 * call + 1)
    return _native.gemm(qa, np.ascontiguousarray(qb.T))


conv2d_forward_quantized, conv2d_backward_data_quantized, conv2d_backward_weight_quantized = \
    _im2col_conv.conv_passes(gemm_quantized)
