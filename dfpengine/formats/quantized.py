"""`formats.quantize(x, fmt, rounding=..., seed=0)`: one entry point for every
format tag, returning the stored form rather than fake-quantised floats:
  - DFP16 (`DFP16Tensor`): int16 `mantissa` and the shared `exponent` (an int
    per tensor; an array per row or block with granularity= "channel"/"block");
  - float formats (`Quantized`): bit codes, uint8 for fp8, uint16 for fp16_169 /
    fp16 (= binary16) / bf16;
  - block formats hbfp8/6/4, mx (= mxint8): int16 mantissas plus per-block scale
    exponents (`block=` overrides the block size);
  - mxfp8: E5M2 codes plus per-block scale exponents.
Every result has `.dequantize()` giving the exact float32 values."""
from dataclasses import dataclass

import numpy as np

from . import FormatSpec, floats, hbfp, mx


@dataclass(frozen=True)
class Quantized:
    fmt: str
    codes: np.ndarray             # float formats / mxfp8: bit codes; block formats: int16 mantissas k
    scale_exp: np.ndarray = None  # block formats: (..., n_blocks) int32, value = k * 2^scale_exp
    block: int = None

    def dequantize(self):
        """The exact float32 values the codes stand for."""
        if self.scale_exp is None:
            return floats.decode(self.codes, self.fmt)
        if self.fmt in mx.MX_FLOAT_FORMATS:
            return mx.decode(self.codes, self.scale_exp, self.block)
        cols = self.codes.shape[-1]
        scale = np.repeat(np.exp2(self.scale_exp.astype(np.float64)), self.block, axis=-1)[..., :cols]
        return (self.codes * scale).astype(np.float32)


@dataclass(frozen=True)
class DFP16Tensor:
    """DFP16: value = mantissa * 2^exponent (exponent per tensor, row or block)."""
    mantissa: np.ndarray          # int16, x's shape
    exponent: object              # int (per tensor) or int32 array (per row / block)
    granularity: str = "tensor"
    block: int = 64

    def dequantize(self):
        from dfpengine._native import _int
        return _int.dequantize_dfp16(self.mantissa, self.exponent, self.granularity, self.block)


def _dfp16(x, rounding, seed, stream, shift, granularity, block):
    from dfpengine._native import _int
    q, e = _int.quantize_dfp16(x, shift=shift, rounding=rounding or "nearest", seed=seed,
                               stream=stream, granularity=granularity, block=block)
    exponent = int(e) if granularity == "tensor" else e
    return DFP16Tensor(q, exponent, granularity, block)


def quantize(x, fmt, rounding=None, seed=0, stream=0, block=None, shift=2, granularity="tensor"):
    """x (float32 array) stored in format `fmt` (a registry tag or FormatSpec).
    shift= and granularity= apply to dfp16, block= to the block and MX formats."""
    name = fmt.name if isinstance(fmt, FormatSpec) else fmt
    x = np.asarray(x, np.float32)
    if name == "dfp16":
        return _dfp16(x, rounding, seed, stream, shift, granularity, 64 if block is None else int(block))
    if name in floats.FLOAT_FORMATS:
        if block is not None:
            raise ValueError(f"quantize: block= applies to block formats, not {name!r}")
        return Quantized(name, floats.encode(x, name, rounding or "nearest", seed, stream))
    if name in hbfp.BLOCK_FORMATS:
        spec = hbfp.spec(name, rounding, **({} if block is None else {"block": int(block)}))
        f = hbfp.block_format(spec)
        k, s = hbfp.encode(x, f, rounding, seed, stream)
        return Quantized(name, k, s, f.block)
    if name in mx.MX_FLOAT_FORMATS:
        spec = mx.spec(name, rounding, **({} if block is None else {"block": int(block)}))
        codes, s = mx.encode(x, spec, rounding, seed, stream)
        return Quantized(name, codes, s, mx.mx_format(spec).block)
    raise ValueError(f"quantize: no stored form for format {name!r}; known: "
                     f"{sorted(['dfp16'] + list(floats.FLOAT_FORMATS) + list(hbfp.BLOCK_FORMATS) + list(mx.MX_FLOAT_FORMATS))}")
