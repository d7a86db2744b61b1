"""MXFP8 (OCP Microscaling, E5M2 elements): blocks of 32 elements along the
dot-product dimension share a power-of-two scale X = 2^(floor(log2 max|x|) - 15)
(an E8M0 exponent; 15 is E5M2's largest normal exponent), and each element is
the FP8 (1,5,2) value of x / X, so the block maximum lands in E5M2's top binade.
(MXINT8 is the block format `mx` / `mxint8` of `hbfp`.)

The element cast is the native FP8 rounding kernel (`floats`); the scales are
whole-array numpy. Dot products of MXFP8 operands are exact products summed in
FP32 (`_mx_ops`): both E5M2 elements have 3 significant bits and the scales are
powers of two, so every product is exact in FP32.
"""
from dataclasses import dataclass

import numpy as np

from . import FormatSpec, floats, register

ELEMENT = "fp8"                 # E5M2
ELEMENT_EMAX = 15               # largest normal exponent of E5M2
SCALE_MIN, SCALE_MAX = -127, 127  # E8M0 range (255 is NaN)


@dataclass(frozen=True)
class MXFloatFormat:
    name: str = "mxfp8"
    block: int = 32
    rounding: str = "nearest"


MXFP8 = MXFloatFormat()
MX_FLOAT_FORMATS = {"mxfp8": MXFP8}


def mx_format(fmt):
    if isinstance(fmt, MXFloatFormat):
        return fmt
    name = fmt.name if isinstance(fmt, FormatSpec) else fmt
    if name not in MX_FLOAT_FORMATS:
        raise ValueError(f"unknown MX float format {name!r}; known: {sorted(MX_FLOAT_FORMATS)}")
    base = MX_FLOAT_FORMATS[name]
    if isinstance(fmt, FormatSpec):
        return MXFloatFormat(name, int(fmt.param("block", base.block)), fmt.rounding or base.rounding)
    return base


def spec(name="mxfp8", rounding=None, **params):
    return FormatSpec(name, rounding or mx_format(name).rounding, tuple(sorted(params.items())))


def _blocks(x, block):
    """x (..., n) zero-padded to (..., nb, block)."""
    n = x.shape[-1]
    nb = -(-n // block) if n else 0
    pad = nb * block - n
    xp = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, pad)]) if pad else x
    return xp.reshape(x.shape[:-1] + (nb, block))


def encode(x, fmt="mxfp8", rounding=None, seed=0, stream=0):
    """(E5M2 codes uint8 like x, scale exponents int32 (..., n_blocks)): value = fp8(code) * 2^scale."""
    f = mx_format(fmt)
    x = np.asarray(x, np.float32)
    if x.ndim == 0:
        x = x.reshape(1)
    if not np.isfinite(x).all():
        raise ValueError("mxfp8: input holds NaN or inf")
    blocks = _blocks(x, f.block)
    amax = np.abs(blocks).max(axis=-1)
    _, e = np.frexp(amax)                      # amax = f * 2^e, f in [0.5, 1); 0 gives e = 0
    scale = np.where(amax > 0, e - 1 - ELEMENT_EMAX, SCALE_MIN).astype(np.int32)
    scale = np.clip(scale, SCALE_MIN, SCALE_MAX)
    scaled = (blocks * np.exp2(-scale.astype(np.float64))[..., None]).astype(np.float32)
    scaled = scaled.reshape(x.shape[:-1] + (-1,))[..., :x.shape[-1]]
    codes = floats.encode(scaled, ELEMENT, rounding or f.rounding, seed, stream)
    return codes, scale


def decode(codes, scale, block=32):
    values = floats.decode(codes, ELEMENT).astype(np.float64)
    factor = np.repeat(np.exp2(scale.astype(np.float64)), block, axis=-1)[..., :values.shape[-1]]
    return (values * factor).astype(np.float32)


def quantize(x, fmt="mxfp8", rounding=None, seed=0, stream=0):
    """x rounded to MXFP8 with blocks along the last axis (float32, x's shape)."""
    f = mx_format(fmt)
    codes, scale = encode(x, f, rounding, seed, stream)
    return decode(codes, scale, f.block).reshape(np.shape(x))


register("mxfp8", lambda rounding=None, **p: spec("mxfp8", rounding, **p))
