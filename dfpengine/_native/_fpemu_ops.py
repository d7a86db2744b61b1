"""GEMM-family `*_quantized` functions for the float formats (fp8, fp16,
binary16, bf16): the provider `QUANTIZED_PROVIDERS` names for those tags.

GEMM: bit-faithful FP8 emulation, i.e. `dfp_gemm_fpemu` (C): inputs rounded to
fmt.a / fmt.b, products exact, chunk-based accumulation in the accumulator
format of fmt.a (default FP16 1-6-9, chunks of 64); identical to
`formats.floats.gemm_fp8`.
Conv: that same GEMM on the batch's im2col matrices (see _im2col_conv), so fprop
and wtgrad are bit-faithful GEMMs on the im2col matrices; bprop's col2im adds
overlapping taps in FP32. FPROP and BPROP with nearest rounding run a few images
at a time in C (_fpemu_conv), with the same results.
Stochastic input rounding: seed = fmt.a param "seed" (default 0), stream = the
call index of _lowp_streams (fresh numbers per GEMM); im2col duplicates an
input for every tap, and each copy is rounded on its own.
"""
from . import _fpemu_conv, _lowp_streams


def gemm_quantized(a, b, trans_a=False, trans_b=False, fmt=None):
    from dfpengine.formats import floats
    return floats.gemm_fp8(a, b, trans_a, trans_b, fmt, seed=_lowp_streams.seed(fmt),
                           stream=_lowp_streams.next_call(fmt))


conv2d_forward_quantized, conv2d_backward_data_quantized, conv2d_backward_weight_quantized = \
    _fpemu_conv.passes(gemm_quantized)
