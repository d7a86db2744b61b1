"""Narrow float formats: FP8 (1,5,2) `fp8`, FP16 (1,6,9) `fp16_169`, IEEE binary16
(`binary16`, also `fp16`), bfloat16 `bf16`.

Every format is (exp_bits, man_bits, bias) with IEEE-like rules (subnormals,
all-ones exponent for inf/NaN); one native kernel rounds to all of them.
Finite overflow saturates to +-max by default (`saturate=False` gives inf, as
ml_dtypes and numpy do). Stochastic rounding is keyed by (seed, stream,
element index), so a seeded result is the same on every ISA and thread count.

The emulated GEMM (`gemm_fp8`) follows Wang et al. 2018: inputs rounded to
their formats, exact FP32 products, every add rounded to the accumulator
format (FP16 1-6-9 by default) in chunks of `chunk` products (default 64).
"""
from dataclasses import dataclass

import numpy as np

from . import FormatSpec, GemmFormat, register


@dataclass(frozen=True)
class FloatFormat:
    name: str
    exp_bits: int
    man_bits: int
    bias: int

    def native(self, saturate=True):
        """(exp_bits, man_bits, bias, saturate) as the native glue takes it."""
        return (self.exp_bits, self.man_bits, self.bias, int(bool(saturate)))

    @property
    def max(self):
        return (2.0 - 2.0 ** -self.man_bits) * 2.0 ** ((1 << self.exp_bits) - 2 - self.bias)

    @property
    def min_subnormal(self):
        return 2.0 ** (1 - self.bias - self.man_bits)

    @property
    def code_dtype(self):
        return np.uint8 if 1 + self.exp_bits + self.man_bits <= 8 else np.uint16


FP8 = FloatFormat("fp8", 5, 2, 15)          # max 57344, = OCP E5M2
FP16 = FloatFormat("fp16_169", 6, 9, 31)    # the FP8-training accumulator
BINARY16 = FloatFormat("binary16", 5, 10, 15)
BF16 = FloatFormat("bf16", 8, 7, 127)

FLOAT_FORMATS = {f.name: f for f in (FP8, FP16, BINARY16, BF16)}
FLOAT_FORMATS["fp16"] = BINARY16           # the usual name of IEEE half precision

DEFAULT_ACC = "fp16_169"
DEFAULT_CHUNK = 64


def spec(name, rounding="nearest", acc=None, chunk=None, acc_rounding=None):
    """FormatSpec of a float format; acc/chunk/acc_rounding matter when it feeds a GEMM."""
    float_format(name)
    params = {"acc": acc or DEFAULT_ACC, "chunk": DEFAULT_CHUNK if chunk is None else int(chunk),
              "acc_rounding": acc_rounding or "nearest"}
    return FormatSpec(name, rounding, tuple(sorted(params.items())))


def _register():
    for name in FLOAT_FORMATS:
        register(name, lambda _n=name, **p: spec(_n, **p))


def _emu():
    from dfpengine._native import _emu
    return _emu


def float_format(fmt):
    """A FloatFormat from a name, a FormatSpec or a FloatFormat."""
    if isinstance(fmt, FloatFormat):
        return fmt
    name = fmt.name if isinstance(fmt, FormatSpec) else fmt
    try:
        return FLOAT_FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown float format {name!r}; known: {sorted(FLOAT_FORMATS)}") from None


def quantize(x, fmt, rounding="nearest", seed=0, stream=0, saturate=True):
    """x (float32) rounded onto the grid of `fmt`; same shape, float32."""
    f = float_format(fmt)
    return _emu().float_round(np.asarray(x, np.float32), f.native(saturate), rounding, seed, stream)


def encode(x, fmt, rounding="nearest", seed=0, stream=0, saturate=True):
    """Bit codes (uint8 for fp8, uint16 otherwise) of x rounded to `fmt`."""
    f = float_format(fmt)
    return _emu().float_encode(np.asarray(x, np.float32), f.native(saturate), rounding, seed, stream)


def decode(codes, fmt):
    """Exact float32 values of codes produced by `encode`."""
    return _emu().float_decode(codes, float_format(fmt).native())


def fp8_gemm_format(rounding="nearest", acc=DEFAULT_ACC, chunk=DEFAULT_CHUNK, acc_rounding="nearest",
                    name="fp8"):
    """GemmFormat for FP8 (or another float format) inputs; accumulator and chunk ride
    in the params of `a`."""
    return GemmFormat(spec(name, rounding, acc, chunk, acc_rounding), FormatSpec(name, rounding))


def gemm_fp8(a, b, trans_a=False, trans_b=False, fmt=None, seed=0, stream=0):
    """op(a) @ op(b) emulating FP8 GEMM with chunk-based FP16 accumulation.

    `fmt` is a GemmFormat of float formats (default `fp8_gemm_format()`); its
    `a` spec may carry params `acc` (format name), `chunk` and `acc_rounding`."""
    fmt = fmt or fp8_gemm_format()
    acc = fmt.a.param("acc", DEFAULT_ACC)
    chunk = int(fmt.a.param("chunk", DEFAULT_CHUNK))
    acc_rounding = fmt.a.param("acc_rounding", "nearest")
    in_a, in_b = float_format(fmt.a).native(), float_format(fmt.b).native()
    if fmt.a.rounding != fmt.b.rounding:
        raise ValueError("gemm_fp8: a and b must use the same rounding mode")
    return _emu().gemm_fpemu(np.asarray(a, np.float32), np.asarray(b, np.float32),
                             trans_a, trans_b, in_a, in_b, float_format(acc).native(),
                             fmt.a.rounding, acc_rounding, chunk, seed, stream)


def accumulate(values, acc=DEFAULT_ACC, chunk=DEFAULT_CHUNK, rounding="nearest", seed=0):
    """Sum of a 1-D array through the emulated GEMM (a 1 x N by N x 1 product
    with exact inputs): the accumulation a dot product performs."""
    v = np.ascontiguousarray(values, np.float32).reshape(1, -1)
    ones = np.ones((v.shape[1], 1), np.float32)
    out = _emu().gemm_fpemu(v, ones, False, False, None, None, float_format(acc).native(),
                            "nearest", rounding, int(chunk), seed, 0)
    return float(out[0, 0])


_register()
