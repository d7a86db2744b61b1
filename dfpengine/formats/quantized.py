"""`formats.quantize(x, fmt, rounding=..., seed=0)`: one entry point for every
float and block format tag, returning the stored form (`Quantized`) rather than
fake-quantised floats: bit codes for the float formats (uint8 for fp8, uint16
for fp16 / binary16 / bf16), integer mantissas plus per-block scale exponents
for the block formats (hbfp8/6/4, mx; `block=` overrides the block size)."""
from dataclasses import dataclass

import numpy as np

from . import FormatSpec, floats, hbfp


@dataclass(frozen=True)
class Quantized:
    fmt: str
    codes: np.ndarray             # float formats: bit codes; block formats: int16 mantissas k
    scale_exp: np.ndarray = None  # block formats: (..., n_blocks) int32, value = k * 2^scale_exp
    block: int = None

    def dequantize(self):
        """The exact float32 values the codes stand for."""
        if self.scale_exp is None:
            return floats.decode(self.codes, self.fmt)
        cols = self.codes.shape[-1]
        scale = np.repeat(np.exp2(self.scale_exp.astype(np.float64)), self.block, axis=-1)[..., :cols]
        return (self.codes * scale).astype(np.float32)


def quantize(x, fmt, rounding=None, seed=0, stream=0, block=None):
    """x (float32 array) stored in format `fmt` (a registry tag or FormatSpec)."""
    name = fmt.name if isinstance(fmt, FormatSpec) else fmt
    x = np.asarray(x, np.float32)
    if name in floats.FLOAT_FORMATS:
        if block is not None:
            raise ValueError(f"quantize: block= applies to block formats, not {name!r}")
        return Quantized(name, floats.encode(x, name, rounding or "nearest", seed, stream))
    if name in hbfp.BLOCK_FORMATS:
        spec = hbfp.spec(name, rounding, **({} if block is None else {"block": int(block)}))
        f = hbfp.block_format(spec)
        k, s = hbfp.encode(x, f, rounding, seed, stream)
        return Quantized(name, k, s, f.block)
    raise ValueError(f"quantize: no stored form for format {name!r}; known: "
                     f"{sorted(floats.FLOAT_FORMATS) + sorted(hbfp.BLOCK_FORMATS)}")
