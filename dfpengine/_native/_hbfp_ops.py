"""GEMM-family `*_quantized` functions for the block formats (hbfp, hbfp8/6/4,
mx): the provider `QUANTIZED_PROVIDERS` names for those tags.

GEMM on integers: both operands are quantised along the dot-product dimension K
by the quantiser of `dfp_bfp_quantize` (mantissas + one scale exponent per
(row, block)) while `dfp_gemm_bfp_f32` packs them into the integer GEMM's
panels; the micro-kernels sum each block's mantissa products exactly in INT32,
the block sum is scaled by 2^(sa + sb) and added in FP32 in block order:
bit-identical to `formats.hbfp.gemm_reference` for the same rounding
draws. Stochastic rounding: seed = fmt.a param "seed" (default 0), streams 2i
(op(a)) and 2i+1 (op(b)) at call index i of _lowp_streams; call 0 draws as
`gemm_reference` does. Conv: the im2col GEMMs (see _im2col_conv for where the
blocks lie in each pass), computed image by image in C (_bfp_conv).
"""
import numpy as np

from . import _bfp_conv, _lowp_streams


def gemm_quantized(a, b, trans_a=False, trans_b=False, fmt=None):
    from dfpengine.formats import hbfp
    from . import _emu
    fa, fb = hbfp.block_format(fmt.a), hbfp.block_format(fmt.b)
    if fa.block != fb.block:
        raise ValueError(f"gemm: block formats of a and b must share a block size, got {fa.block} and {fb.block}")
    seed, call = _lowp_streams.seed(fmt), _lowp_streams.next_call(fmt)
    op_a = np.asarray(a.T if trans_a else a, np.float32)     # m x K (a view when transposed)
    op_b = np.asarray(b if trans_b else b.T, np.float32)     # n x K
    return _emu.gemm_bfp_f32(op_a, op_b, fa.block, fa.mag_bits, fa.floor_exponent, fa.rounding,
                             fb.mag_bits, fb.floor_exponent, fb.rounding, seed, 2 * call, 2 * call + 1)


conv2d_forward_quantized, conv2d_backward_data_quantized, conv2d_backward_weight_quantized = \
    _bfp_conv.passes(gemm_quantized)
