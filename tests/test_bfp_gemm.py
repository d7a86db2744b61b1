"""dfp_gemm_bfp (HBFP / MXINT dot products) on the integer GEMM micro-kernels:
bit-identical to the numpy block-sum reference on every compiled ISA and thread
count, over shapes that span several output tiles, partial K blocks and odd K,
and over scale exponents whose powers of two leave the normal float range."""
import numpy as np
import pytest

from dfpengine import _native
from dfpengine._native import _emu
from dfpengine.formats import hbfp


def block_sum_reference(ka, sa, kb, sb, block):
    """float32 total over blocks of float32(exact int block sum) * 2^(sa + sb), in block order."""
    k = ka.shape[1]
    out = np.zeros((ka.shape[0], kb.shape[0]), np.float32)
    for b in range(sa.shape[1]):
        cols = slice(b * block, min(k, (b + 1) * block))
        isum = ka[:, cols].astype(np.int64) @ kb[:, cols].astype(np.int64).T
        scale = np.exp2((sa[:, b][:, None] + sb[:, b][None, :]).astype(np.float64))
        out += (isum.astype(np.float32) * scale).astype(np.float32)
    return out


def codes(rows, k, block, mag, exp_range, seed):
    rng = np.random.default_rng(seed)
    lim = 2 ** mag - 1
    mant = rng.integers(-lim, lim + 1, (rows, k)).astype(np.int16)
    exps = rng.integers(exp_range[0], exp_range[1] + 1, (rows, -(-k // block))).astype(np.int32)
    return mant, exps


@pytest.fixture
def restore_isa_threads():
    isa, threads = _native.isa_selected(), _native.get_num_threads()
    yield
    _native.select_isa(isa)
    _native.set_num_threads(threads)


CASES = [  # m, n, k, block, magnitude bits, exponent range
    (200, 300, 150, 64, 7, (-12, 4)),      # 2 x 2 output tiles, last block partial
    (37, 19, 129, 32, 7, (-8, 8)),         # odd K (zero pad in the last pair), MX blocks
    (9, 70, 256, 64, 3, (-70, 60)),        # 2^(sa+sb) outside the normal range: ldexp path
    (64, 64, 640, 128, 14, (-3, 3)),       # block sums near 2^31 still fit INT32
    (300, 16, 150, 64, 7, (-6, 6)),        # n < NR: operands swapped, C^T tiles
    (16, 24, 99, 33, 7, (-4, 4)),          # odd block: portable path
    (8, 8, 256, 64, 15, (0, 0)),           # 64 * (2^15-1)^2 > 2^31: INT64 path
]


@pytest.mark.parametrize("m, n, k, block, mag, er", CASES)
def test_bit_identical_to_reference_on_every_isa_and_thread_count(m, n, k, block, mag, er,
                                                                  restore_isa_threads):
    ka, sa = codes(m, k, block, mag, er, 1)
    kb, sb = codes(n, k, block, mag, er, 2)
    want = block_sum_reference(ka, sa, kb, sb, block).view(np.uint32)
    for isa in _native.isa_supported():
        for threads in (1, 2):
            _native.select_isa(isa)
            _native.set_num_threads(threads)
            got = _emu.gemm_bfp(ka, sa, kb, sb, block)
            assert np.array_equal(got.view(np.uint32), want), (isa, threads)


def test_quantised_operands_equal_gemm_reference():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((300, 576)).astype(np.float32)
    b_t = rng.standard_normal((40, 576)).astype(np.float32)
    f = hbfp.block_format("hbfp8")
    ka, sa = hbfp.encode(a, f, "nearest", 0, 0)
    kb, sb = hbfp.encode(b_t, f, "nearest", 0, 1)
    got = _emu.gemm_bfp(ka, sa, kb, sb, f.block)
    np.testing.assert_array_equal(got, hbfp.gemm_reference(a, b_t, "hbfp8", "nearest"))
    assert np.abs(got - a @ b_t.T).max() < 0.05 * np.abs(a @ b_t.T).max()


def test_mantissa_int16_min_is_summed_exactly():
    # -32768 is outside the micro-kernels' symmetric range; the portable path takes it
    ka = np.full((3, 64), -32768, np.int16)
    kb = np.ones((5, 64), np.int16)
    s = np.zeros((3, 1), np.int32)
    got = _emu.gemm_bfp(ka, s, kb, np.zeros((5, 1), np.int32), 64)
    np.testing.assert_array_equal(got, np.full((3, 5), -32768.0 * 64, np.float32))


def test_empty_k_gives_zeros():
    got = _emu.gemm_bfp(np.zeros((2, 0), np.int16), np.zeros((2, 0), np.int32),
                        np.zeros((3, 0), np.int16), np.zeros((3, 0), np.int32), 64)
    np.testing.assert_array_equal(got, np.zeros((2, 3), np.float32))


@pytest.mark.parametrize("rows, cols, block", [(37, 150, 64), (16, 64, 64), (5, 33, 32), (130, 7, 64)])
@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_transposed_view_quantises_like_its_contiguous_copy(rows, cols, block, rounding):
    # x_t is stored cols x rows; x_t.T is the rows x cols matrix quantised along cols
    x_t = np.random.default_rng(4).standard_normal((cols, rows)).astype(np.float32)
    view = x_t.T
    assert not view.flags.c_contiguous
    got = _emu.bfp_quantize(view, block, 7, False, rounding, 5, 3, True)
    want = _emu.bfp_quantize(np.ascontiguousarray(view), block, 7, False, rounding, 5, 3, True)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(_emu.bfp_quantize(view, block, 3, False, rounding, 5, 3),
                                  _emu.bfp_quantize(np.ascontiguousarray(view), block, 3, False, rounding, 5, 3))


def test_transposed_view_with_nan_raises():
    x_t = np.ones((70, 20), np.float32)
    x_t[65, 3] = np.nan
    with pytest.raises(Exception, match="(?i)finite|nan"):
        _emu.bfp_quantize(x_t.T, 64, 7, False, "nearest", 0, 0, True)


def two_step(a, b, block, mag, floor, rounding, seed=3):
    ka, sa = _emu.bfp_quantize(np.ascontiguousarray(a), block, mag, floor, rounding, seed, 10, True)
    kb, sb = _emu.bfp_quantize(np.ascontiguousarray(b), block, mag, floor, rounding, seed, 11, True)
    return _emu.gemm_bfp(ka, sa, kb, sb, block)


F32_CASES = [  # m, n, k, block, magnitude bits, floor exponent (MX), rounding, transposed a, b
    (200, 40, 300, 64, 7, False, "stochastic", False, False),
    (200, 40, 300, 64, 7, False, "stochastic", True, True),
    (300, 16, 150, 64, 3, False, "nearest", True, False),      # swapped operands
    (33, 70, 129, 32, 7, True, "nearest", False, True),        # MX, odd K
    (20, 30, 99, 33, 7, False, "nearest", True, False),        # odd block: dense path
    (9, 10, 256, 64, 15, False, "stochastic", False, True),   # INT32 could overflow: dense path
]


@pytest.mark.parametrize("m, n, k, block, mag, floor, rounding, ta, tb", F32_CASES)
def test_quantise_while_packing_equals_quantise_then_gemm(m, n, k, block, mag, floor, rounding, ta, tb,
                                                           restore_isa_threads):
    rng = np.random.default_rng(7)
    a = (rng.standard_normal((k, m)).T if ta else rng.standard_normal((m, k))).astype(np.float32)
    b = (rng.standard_normal((k, n)).T if tb else rng.standard_normal((n, k))).astype(np.float32)
    a[0, :5] *= 1e3                    # blocks with very different exponents
    want = two_step(a, b, block, mag, floor, rounding).view(np.uint32)
    for isa in _native.isa_supported():
        for threads in (1, 2):
            _native.select_isa(isa)
            _native.set_num_threads(threads)
            got = _emu.gemm_bfp_f32(a, b, block, mag, floor, rounding, mag, floor, rounding, 3, 10, 11)
            assert np.array_equal(got.view(np.uint32), want), (isa, threads)


@pytest.mark.parametrize("kmajor", [True, False], ids=["k-major", "row-major"])
def test_operand_extreme_exponents_equal_contiguous(kmajor, restore_isa_threads):
    # operands quantise 16 rows per k-major kernel call (row-major ones through a k-major
    # copy of the block); rows whose scale 2^-E is not a normal float (blocks below
    # about 2^-121) take the scalar steps
    rng = np.random.default_rng(5)
    # rows 0..31: a different scale per lane; rows 32..34 (the last group): tiny
    scales = np.float32([1e-30, 1.0, 1e30, 1e37, 0.0, 1e-20, 5.0, 1e10] * 4 + [1e-38, 1e-45, 1.0])[:, None]
    a = (rng.standard_normal((130, 35)).T * scales).astype(np.float32)      # 35 x 130, k-major
    if not kmajor:
        a = np.ascontiguousarray(a)
    b = (rng.standard_normal((130, 20)).T).astype(np.float32)
    for rounding in ("stochastic", "nearest"):
        want = two_step(a, b, 64, 7, False, rounding).view(np.uint32)
        for isa in _native.isa_supported():
            _native.select_isa(isa)
            got = _emu.gemm_bfp_f32(a, b, 64, 7, False, rounding, 7, False, rounding, 3, 10, 11)
            assert np.array_equal(got.view(np.uint32), want), (isa, rounding)


def test_quantiser_signed_zeros_and_tiny_values_identical_on_every_isa(restore_isa_threads):
    # -0 and values far below the block maximum: codes, exponents and dequantised
    # values (whose zero signs show) equal the scalar reference's
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 256)).astype(np.float32)
    x[:, ::7], x[:, 1::11], x[3] = -0.0, -1e-9, -0.0
    x[5, :64] *= np.float32(1e-38)
    for rounding in ("stochastic", "nearest"):
        for floor in (False, True):
            got = {}
            for isa in _native.isa_supported():
                _native.select_isa(isa)
                y = _emu.bfp_quantize(x, 64, 7, floor, rounding, 1, 2)
                k, e = _emu.bfp_quantize(x, 64, 7, floor, rounding, 1, 2, True)
                got[isa] = (y.view(np.uint32), k, e)
            for isa, (y, k, e) in got.items():
                ref = got["scalar"]
                assert np.array_equal(y, ref[0]) and np.array_equal(k, ref[1]) and np.array_equal(e, ref[2]), \
                    (isa, rounding, floor)


def test_kmajor_operand_with_nan_raises():
    a = np.ones((130, 40), np.float32)
    a[70, 33] = np.nan
    with pytest.raises(Exception, match="(?i)finite|nan"):
        _emu.gemm_bfp_f32(a.T, np.ones((5, 130), np.float32), 64, 7, False, "nearest", 7, False, "nearest")


def test_gemm_bfp_f32_rejects_bad_input():
    a, b = np.ones((4, 64), np.float32), np.ones((5, 64), np.float32)
    with pytest.raises(ValueError, match="m x k and n x k"):
        _emu.gemm_bfp_f32(a, b[:, :32], 64, 7, False, "nearest", 7, False, "nearest")
    with pytest.raises(TypeError, match="float32"):
        _emu.gemm_bfp_f32(a.astype(np.float64), b, 64, 7, False, "nearest", 7, False, "nearest")
    a[2, 7] = np.inf
    with pytest.raises(Exception, match="(?i)finite|nan"):
        _emu.gemm_bfp_f32(a, b, 64, 7, False, "nearest", 7, False, "nearest")
