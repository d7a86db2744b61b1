"""Block floating point: HBFP (Drumond et al. 2018, Accuracy Boosters) and MXINT8.

A block of `block` contiguous elements along the dot-product dimension shares
one exponent; each element is an integer mantissa k, |k| <= 2^m - 1 (m
magnitude bits, sign excluded), value k * 2^(E - m):
  - HBFP: E = ceil(log2(max|x|)) over the block, stochastic rounding by default;
    hbfp8 / hbfp6 / hbfp4 have m = 7 / 5 / 3, blocks of 64.
  - MX (MXINT8, OCP): blocks of 32, E = floor(log2(max|x|)), m = 7 magnitude
    bits but value k * 2^(E - 6) = k/64 times the E8M0 scale 2^E, |k| <= 127, so
    the block maximum (k in [64, 128)) is representable; nearest rounding.
Mantissas and per-block exponents (`encode`) are what the integer GEMM with
per-chunk scales consumes: within a block INT32 sums are exact
(64 * (2^7)^2 < 2^21); across blocks each block sum is scaled and accumulated
in FP32 (`gemm_reference` spells that out).
"""
from dataclasses import dataclass

import numpy as np

from . import FormatSpec, register


@dataclass(frozen=True)
class BlockFormat:
    name: str
    mag_bits: int
    block: int = 64
    floor_exponent: bool = False     # MX: E = floor(log2 max), scale 2^(E - (mag_bits - 1))
    rounding: str = "stochastic"


HBFP8 = BlockFormat("hbfp8", 7)
HBFP6 = BlockFormat("hbfp6", 5)
HBFP4 = BlockFormat("hbfp4", 3)
HBFP = HBFP8                                          # "hbfp" without a width
MX = BlockFormat("mx", 7, block=32, floor_exponent=True, rounding="nearest")  # MXINT8

BLOCK_FORMATS = {f.name: f for f in (HBFP8, HBFP6, HBFP4, MX)}
BLOCK_FORMATS["hbfp"] = HBFP
BLOCK_FORMATS["mxint8"] = MX                          # the OCP name of `mx`


def block_format(fmt):
    """A BlockFormat from a name, a FormatSpec (params mag_bits/block override) or a BlockFormat."""
    if isinstance(fmt, BlockFormat):
        return fmt
    name = fmt.name if isinstance(fmt, FormatSpec) else fmt
    try:
        base = BLOCK_FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown block format {name!r}; known: {sorted(BLOCK_FORMATS)}") from None
    if isinstance(fmt, FormatSpec):
        return BlockFormat(name, int(fmt.param("mag_bits", base.mag_bits)),
                           int(fmt.param("block", base.block)), base.floor_exponent, fmt.rounding)
    return base


def spec(name, rounding=None, **params):
    """FormatSpec for a block format, with its default rounding."""
    f = block_format(name)
    return FormatSpec(name, rounding or f.rounding, tuple(sorted(params.items())))


def _emu():
    from dfpengine._native import _emu
    return _emu


def quantize(x, fmt, rounding=None, seed=0, stream=0):
    """Values k * 2^(E - m) with blocks along the last axis (float32, x's shape)."""
    f = block_format(fmt)
    return _emu().bfp_quantize(np.asarray(x, np.float32), f.block, f.mag_bits, f.floor_exponent,
                               rounding or f.rounding, seed, stream)


def encode(x, fmt, rounding=None, seed=0, stream=0):
    """(mantissas int16 like x, scale exponents int32 (..., n_blocks)): value = k * 2^scale."""
    f = block_format(fmt)
    return _emu().bfp_quantize(np.asarray(x, np.float32), f.block, f.mag_bits, f.floor_exponent,
                               rounding or f.rounding, seed, stream, True)


def gemm_reference(a, b_t, fmt, rounding=None, seed=0):
    """a (m x k) times b_t.T (b_t n x k), both quantised along k: exact integer block
    sums, each scaled by 2^(s_a + s_b) and added in FP32, block by block."""
    f = block_format(fmt)
    ka, sa = encode(a, f, rounding, seed, 0)
    kb, sb = encode(b_t, f, rounding, seed, 1)
    k = a.shape[1]
    out = np.zeros((a.shape[0], b_t.shape[0]), np.float32)
    for blk in range(sa.shape[1]):
        cols = slice(blk * f.block, min(k, (blk + 1) * f.block))
        isum = ka[:, cols].astype(np.int64) @ kb[:, cols].astype(np.int64).T
        scale = np.exp2((sa[:, blk][:, None] + sb[:, blk][None, :]).astype(np.float64))
        out += (isum.astype(np.float32) * scale).astype(np.float32)
    return out


for _name in BLOCK_FORMATS:
    register(_name, lambda _n=_name, rounding=None, **p: spec(_n, rounding, **p))
