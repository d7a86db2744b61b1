"""Stochastic rounding written out in numpy from its definition, checked
against every ISA and thread count. The generator (native/core/rng_counter.*):
key from (seed, stream), bits of index i = mix32(low half ^ lane key). DFP16:
up when (bits >> 8) * 2^-24 < frac. Block formats (emu_kernels.h
dfp_bfp_draw16): one generator call per pair of a block's elements
(low half for the even element, high half for the odd one), code floor(v +
draw * 2^-16) with the sum rounded once to float32. Every ISA and thread count must give these
codes exactly, for odd blocks, odd row lengths (rows starting at odd indices)
and partial blocks."""
import numpy as np
import pytest

from dfpengine._native import _emu, _int

M64 = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def rng_key(seed, stream):
    return splitmix64(seed ^ splitmix64(stream ^ 0x6466703136))


def mix32(x):
    x = x.astype(np.uint64)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(16)
    return x


def rng_bits(key, index):
    """mix32(low half ^ lane key), lane key = key_lo ^ mix32(high half ^ key_hi)."""
    index = index.astype(np.uint64)
    lo, hi = index & np.uint64(0xFFFFFFFF), index >> np.uint64(32)
    lane_key = np.uint64(key & 0xFFFFFFFF) ^ mix32(hi ^ np.uint64(key >> 32))
    return mix32(lo ^ lane_key)


def reference_codes(x, block, mag_bits, seed, stream):
    """HBFP (ceil exponent) stochastic codes and scale exponents, rows x cols."""
    rows, cols = x.shape
    key = rng_key(seed, stream)
    kmax = 2.0 ** mag_bits - 1
    mant = np.zeros(x.shape, np.int16)
    exps = np.zeros((rows, -(-cols // block)), np.int32)
    for b, c0 in enumerate(range(0, cols, block)):
        xb = x[:, c0:c0 + block].astype(np.float64)
        amax = np.abs(xb).max(axis=1)
        e = np.ceil(np.log2(np.where(amax > 0, amax, 1.0))).astype(np.int32)
        e = np.where(amax > 0, e, 0) - mag_bits
        exps[:, b] = e
        i = np.arange(xb.shape[1], dtype=np.uint64)
        index0 = (np.arange(rows, dtype=np.uint64) * np.uint64(cols) + np.uint64(c0))[:, None]
        bits = rng_bits(key, index0 + (i & ~np.uint64(1))[None, :])
        draw = (bits >> (np.uint64(16) * (i & np.uint64(1)))[None, :]) & np.uint64(0xFFFF)
        v = (xb * np.exp2(-e.astype(np.float64))[:, None]).astype(np.float32)   # exact
        k = np.floor(v + draw.astype(np.float32) * np.float32(2.0 ** -16))   # one float32 rounding
        mant[:, c0:c0 + block] = np.clip(k, -kmax, kmax)
    return mant, exps


@pytest.mark.parametrize("rows, cols, block, mag", [
    (40, 300, 64, 7),     # partial last block
    (33, 147, 64, 3),     # odd row length: odd rows start at odd indices; odd last block
    (17, 99, 33, 5),      # odd block size
    (3, 64, 64, 7),
])
@pytest.mark.parametrize("transposed", [False, True])
def test_codes_match_the_written_out_definition_on_every_isa(rows, cols, block, mag, transposed,
                                                              isa_threads):
    rng = np.random.default_rng(rows * cols)
    x = (rng.standard_normal((rows, cols)) * np.exp2(rng.integers(-6, 6, (rows, 1)))).astype(np.float32)
    want_mant, want_exps = reference_codes(x, block, mag, seed=9, stream=4)
    src = np.ascontiguousarray(x.T).T if transposed else x   # transposed: the k-major kernels
    mant, exps = _emu.bfp_quantize(src, block, mag, False, "stochastic", 9, 4, True)
    np.testing.assert_array_equal(exps, want_exps)
    np.testing.assert_array_equal(mant, want_mant)


def test_the_two_halves_of_a_draw_are_uncorrelated():
    # even and odd elements of a pair share one generator call: their round-up
    # decisions must still be independent (x = 0.5 of a step: P(up) = 1/2)
    x = np.full((4000, 64), 0.5, np.float32)
    x[:, 0] = 7.0                                      # block exponent 3 - mag: step 1 for hbfp4
    mant, _ = _emu.bfp_quantize(x, 64, 3, False, "stochastic", 1, 2, True)
    up = mant[:, 2:].astype(np.float64)                # codes 0 or 1; pairs (2,3), (4,5), ...
    even, odd = up[:, 0::2].ravel(), up[:, 1::2].ravel()
    assert abs(even.mean() - 0.5) < 0.01 and abs(odd.mean() - 0.5) < 0.01
    assert abs(np.corrcoef(even, odd)[0, 1]) < 0.01   # 124,000 pairs: sigma about 0.003


@pytest.mark.parametrize("n", [1000, 4099])
def test_dfp16_codes_match_the_written_out_definition_on_every_isa(n, isa_threads):
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    key = rng_key(5, 7)
    bits = rng_bits(key, np.arange(n, dtype=np.uint64))
    u = (bits >> np.uint64(8)).astype(np.float32) * np.float32(2.0 ** -24)
    q, e = _int.quantize_dfp16(x, shift=2, rounding="stochastic", seed=5, stream=7)
    y = x * np.float32(2.0 ** -e)                                    # exact
    fl = np.floor(y)
    np.testing.assert_array_equal(q, (fl + (u < y - fl)).astype(np.int16))
