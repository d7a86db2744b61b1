"""The compute kernels on their own, for tests, profiling and embedding: the
integer GEMM behind DFP16 (and HBFP) and the FP8-emulation GEMM, called on plain
numpy arrays without a model, a policy or autograd.

    kernels.gemm_s16(a, b)         # int16 x int16 -> float32 through the INT16 micro-kernels
    kernels.gemm_fp8(a, b, chunk=64, accumulator="fp16_169")

`DFPENGINE_ISA` (or `dfpengine.set_isa`) picks the SIMD path; results are the
same on every path and thread count."""
import numpy as np

from . import formats

__all__ = ["gemm_s16", "gemm_fp8"]


def gemm_s16(a, b, stats=None):
    """a @ b for int16 matrices a (m x k) and b (k x n), as float32, through the
    integer GEMM: int16 x int16 products summed exactly in INT32 over K chunks
    short enough that no INT32 sum can overflow (the chunk length comes from
    the operands' actual maximum magnitudes), each chunk flushed into an FP32
    accumulator; unit scale. Agrees with the float64 product within the error
    of an FP32 sum of the flushes. -32768 is clamped to -32767 (the symmetric
    DFP16 range; counted in stats["saturations"]). Pass a dict as `stats` to get
    this call's flush count and chunk length."""
    from ._native import _int
    return _int.gemm_s16(a, b, 0, 0, stats)


def gemm_fp8(a, b, chunk=64, accumulator="fp16_169", rounding="nearest", seed=0):
    """a @ b for float32 a (m x k) and b (k x n) with FP8 (1,5,2) inputs, emulated
    bit for bit (Wang et al. 2018): a and b rounded to FP8 (nearest by default),
    products exact in FP32, each add rounded to `accumulator` (a float format
    tag: "fp16_169" = FP16 (1,6,9), "fp16"/"binary16", "bf16", ...) within chunks
    of `chunk` products, chunk sums accumulated with the same rounding
    (chunk=1: plain sequential accumulation, which swamps). Returns float32."""
    for name, v in (("a", a), ("b", b)):
        arr = np.asarray(v)
        if arr.ndim != 2 or arr.dtype != np.float32:
            raise TypeError(f"gemm_fp8: {name} must be a 2-D float32 array, got {arr.dtype} with shape {arr.shape}")
    if np.shape(a)[1] != np.shape(b)[0]:
        raise ValueError(f"gemm_fp8: inner dimensions differ: a is {np.shape(a)}, b is {np.shape(b)}")
    if not isinstance(chunk, (int, np.integer)) or isinstance(chunk, bool) or chunk < 1:
        raise ValueError(f"gemm_fp8: chunk must be a positive int, got {chunk!r}")
    formats.floats.float_format(accumulator)       # a clear error for an unknown tag
    fmt = formats.floats.fp8_gemm_format(rounding=rounding, acc=accumulator, chunk=int(chunk))
    return formats.floats.gemm_fp8(a, b, fmt=fmt, seed=seed)
