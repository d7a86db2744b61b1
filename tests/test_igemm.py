"""DFP16 GEMM: equals the exact product of the quantised operands within FP32
accumulation error, is bit-identical across ISAs and thread counts 1 and 2, and
counts its INT32 -> FP32 flushes. (The adversarial all-maximum K = 2^20 case and
the wrap of a naive INT32 sum are in native/tests/test_igemm.c.)"""
import numpy as np
import pytest

from dfpengine import _native, formats
from dfpengine._native import _int

NEAREST = formats.GemmFormat(formats.dfp16(), formats.dfp16())


@pytest.fixture(autouse=True)
def _restore_dispatch():
    isa, threads = _native.isa_selected(), _native.get_num_threads()
    yield
    _native.select_isa(isa)
    _native.set_num_threads(threads)


def _operands(m, n, k, ta, tb, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = np.maximum(rng.standard_normal((n, k) if tb else (k, n)), 0).astype(np.float32)
    return a, b


@pytest.mark.parametrize("ta,tb", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (13, 37, 301), (64, 96, 1000), (100, 7, 4608)])
def test_matches_exact_product_of_quantised_operands(m, n, k, ta, tb):
    a, b = _operands(m, n, k, ta, tb)
    qa, ea = _int.quantize_dfp16(a)
    qb, eb = _int.quantize_dfp16(b)
    oa = qa.T if ta else qa
    ob = qb.T if tb else qb
    exact = (oa.astype(np.float64) @ ob.astype(np.float64)) * 2.0 ** (ea + eb)
    _int.reset_gemm_stats()
    c = _int.gemm_quantized(a, b, trans_a=bool(ta), trans_b=bool(tb), fmt=NEAREST)
    stats = _int.gemm_stats()
    flushes_per_elem = stats["flushes"] / (m * n)
    # FP32 accumulation of flushes_per_elem terms, each converted once (Higham)
    absum = (np.abs(oa).astype(np.float64) @ np.abs(ob).astype(np.float64)) * 2.0 ** (ea + eb)
    assert np.all(np.abs(c - exact) <= (flushes_per_elem + 1) * 2.0 ** -24 * absum + 1e-30)
    # and the FP32 result of the real-valued product, within the quantisation error
    ref = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
    qerr = 0.5 * 2.0 ** ea * np.abs(ob).sum(0) * 2.0 ** eb + 0.5 * 2.0 ** eb * np.abs(oa).sum(1)[:, None] * 2.0 ** ea
    assert np.all(np.abs(c - ref) <= qerr + (flushes_per_elem + 2) * 2.0 ** -24 * absum + 1e-6)


def _worst_partial_sum(qa, qb, chunk_len):
    """Largest |partial sum| any INT32 accumulator of the GEMM can hold: per chunk
    window of K, sum |a_ik| |b_kj| bounds every prefix of that window's sum."""
    aa, ab = np.abs(qa.astype(np.int64)), np.abs(qb.astype(np.int64))
    return max(int((aa[:, k0:k0 + chunk_len] @ ab[k0:k0 + chunk_len]).max())
               for k0 in range(0, qa.shape[1], chunk_len))


def _s16_on_every_isa(a, b):
    """(product, stats) of gemm_s16(a, b) on every supported ISA at 1 and 2 threads."""
    runs = []
    for isa in _native.isa_supported():
        for threads in (1, 2):
            _native.select_isa(isa)
            _native.set_num_threads(threads)
            st = {}
            runs.append((_int.gemm_s16(a, b, stats=st), st))
    return runs


def _assert_same_bits(results):
    for c in results[1:]:
        assert np.array_equal(c.view(np.uint32), results[0].view(np.uint32))


@pytest.mark.parametrize("shift", [0, 2])
def test_chunk_never_allows_int32_overflow(shift):
    a, b = _operands(8, 8, 2048, 0, 0)
    qa, _ = _int.quantize_dfp16(a, shift=shift)
    qb, _ = _int.quantize_dfp16(b, shift=shift)
    fmt = formats.GemmFormat(formats.dfp16(shift=shift), formats.dfp16(shift=shift))
    _int.reset_gemm_stats()
    _int.gemm_quantized(a, b, fmt=fmt)
    chunk = _int.gemm_stats()["chunk_len"]
    assert 2 <= chunk and _worst_partial_sum(qa, qb, chunk) <= 2 ** 31 - 1
    assert _int.gemm_stats()["flushes"] == 64 * -(-2048 // chunk)


def test_chunk_from_row_sums_is_longer_than_from_maxima():
    """Typical (Gaussian) data sums far below its maximum times the length: the
    row-sum rule allows chunks longer than 2^31 / (2 max|a| max|b|) pairs, and the
    partial sums still cannot overflow."""
    rng = np.random.default_rng(3)
    qa = np.clip(np.rint(rng.standard_normal((16, 4608)) * 2000), -8191, 8191).astype(np.int16)
    qb = np.clip(np.rint(rng.standard_normal((4608, 24)) * 2000), -8191, 8191).astype(np.int16)
    _int.reset_gemm_stats()
    _int.gemm_s16(qa, qb)
    chunk = _int.gemm_stats()["chunk_len"]
    by_maxima = 2 * ((2 ** 31 - 1) // (2 * int(np.abs(qa).max()) * int(np.abs(qb).max())))
    assert chunk > 2 * by_maxima
    assert _worst_partial_sum(qa, qb, chunk) <= 2 ** 31 - 1


@pytest.mark.parametrize("rounding", ["nearest", "stochastic", "biased"])
@pytest.mark.parametrize("ta,tb", [(0, 0), (1, 1)])
@pytest.mark.parametrize("k", [777, 1030])
def test_bit_identical_across_isas_and_threads(rounding, ta, tb, k):
    """Odd K packs A on every ISA; with even K and A's rows K-contiguous (ta = 0), VNNI
    quantises A into int16 rows it reads in place, the others pack it: the same codes
    (stochastic draws at the same flat indices), sums and bits."""
    a, b = _operands(70, 90, k, ta, tb, seed=3)
    fmt = formats.GemmFormat(formats.dfp16(rounding=rounding), formats.dfp16(rounding=rounding))
    results = []
    for isa in _native.isa_supported():
        for threads in (1, 2):
            _native.select_isa(isa)
            _native.set_num_threads(threads)
            _int._stream[0] = 100  # same stochastic stream for every run
            results.append(_int.gemm_quantized(a, b, trans_a=bool(ta), trans_b=bool(tb), fmt=fmt))
    _assert_same_bits(results)


def test_rejects_non_dfp16_and_bad_shapes():
    a, b = _operands(4, 4, 8, 0, 0)
    with pytest.raises(NotImplementedError):
        _int.gemm_quantized(a, b, fmt=formats.GemmFormat(formats.FP32, formats.FP32))
    with pytest.raises(ValueError):
        _int.gemm_quantized(a, b[:4].copy(), fmt=NEAREST)
    with pytest.raises(ValueError):
        _int.gemm_quantized(a, np.full_like(b, np.inf), fmt=NEAREST)


@pytest.mark.parametrize("m,n,k", [(13, 37, 1030), (203, 40, 2), (397, 70, 900), (517, 250, 66)])
def test_gemm_s16_in_place_a_bit_identical_across_isas_and_threads(m, n, k):
    """Without -32768 in A, with K even and B at most 256 columns wide, VNNI reads
    A's rows in place (no packed copy): rows past a multiple of 8, several row and column tiles (split
    into near-equal numbers of register panels), several K blocks;
    the same bits as the ISAs that pack A."""
    rng = np.random.default_rng(m + k)
    a = rng.integers(-32767, 32768, (m, k)).astype(np.int16)
    b = rng.integers(-32767, 32768, (k, n)).astype(np.int16)
    a[-1, -1] = 32767
    results = [c for c, _ in _s16_on_every_isa(a, b)]
    exact = a.astype(np.float64) @ b.astype(np.float64)
    absum = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
    assert np.all(np.abs(results[0] - exact) <= k * 2.0 ** -24 * absum)
    _assert_same_bits(results)


@pytest.mark.parametrize("m,n,k", [(13, 37, 1031), (8, 33, 2), (1, 64, 513), (20, 9, 64)])
def test_gemm_s16_packing_bit_identical_across_isas_and_threads(m, n, k):
    """Packing int16 operands (clamp, max, 8-row transposes, pair interleave) on
    every ISA: rows not a multiple of 8, odd K, K past one 512-value packing run,
    -32768 clamped to -32767 and counted."""
    rng = np.random.default_rng(m + n + k)
    a = rng.integers(-32768, 32768, (m, k)).astype(np.int16)
    b = rng.integers(-32768, 32768, (k, n)).astype(np.int16)
    a[0, -1], b[-1, 0] = -32768, -32768
    clamped_a, clamped_b = np.maximum(a, -32767), np.maximum(b, -32767)
    exact = clamped_a.astype(np.float64) @ clamped_b.astype(np.float64)
    absum = np.abs(clamped_a).astype(np.float64) @ np.abs(clamped_b).astype(np.float64)
    runs = _s16_on_every_isa(a, b)
    for c, st in runs:
        assert st["saturations"] == int((a == -32768).sum() + (b == -32768).sum())
        flushes = st["flushes"] / (m * n)
        assert np.all(np.abs(c - exact) <= (flushes + 1) * 2.0 ** -24 * absum)
    _assert_same_bits([c for c, _ in runs])


@pytest.mark.parametrize("clamped", [False, True])
@pytest.mark.parametrize("m,n,k", [(203, 300, 1030), (40, 517, 2306)])
def test_gemm_s16_wide_b_row_sums_bit_identical_across_isas_and_threads(m, n, k, clamped):
    """B wider than 256 columns: A is packed on every ISA, and its chunk row sums
    come from A's int16 rows where packing clamped nothing (else from the
    panels). One row of A is heavy over a stretch late in K and sets the chunk
    (32 pairs: longer than A's maximum alone allows, much shorter than light rows
    would): sums that missed or misread it would give longer chunks, other flush
    counts and other bits than the ISAs summing the panels."""
    rng = np.random.default_rng(m + n)
    a = rng.integers(-100, 101, (m, k)).astype(np.int16)
    b = rng.integers(-8191, 8192, (k, n)).astype(np.int16)
    a[m // 3, k - 200:k - 72] = 4000   # groups of 8 pairs: 4 of them fit under 2^31 / 8191
    a[m // 2, 5] = -32768 if clamped else 8191
    runs = _s16_on_every_isa(a, b)
    results, flushes = [c for c, _ in runs], {(st["flushes"], st["chunk_len"]) for _, st in runs}
    assert len(flushes) == 1
    chunk_len = flushes.pop()[1]
    ca = np.maximum(a, -32767)
    by_maxima = 2 * ((2 ** 31 - 1) // (2 * int(np.abs(ca).max()) * int(np.abs(b).max())))
    if not clamped:
        assert chunk_len == 64 > by_maxima
    assert _worst_partial_sum(ca, b, chunk_len) <= 2 ** 31 - 1
    exact = ca.astype(np.float64) @ b.astype(np.float64)
    absum = np.abs(ca).astype(np.float64) @ np.abs(b).astype(np.float64)
    assert np.all(np.abs(results[0] - exact) <= k * 2.0 ** -24 * absum)
    _assert_same_bits(results)


@pytest.mark.parametrize("rounding", ["nearest", "biased"])
@pytest.mark.parametrize("m,n,k", [(300, 70, 1030), (64, 300, 770), (50, 20, 77)])
def test_quantising_gemm_equals_int16_gemm_on_the_codes(m, n, k, rounding):
    """The GEMM that quantises FP32 while packing takes the largest code of each operand
    from its largest |x| (nearest and biased rounding are monotone in |x|) instead of a
    pass over the codes: the same codes, chunk and flushes as the int16 GEMM on the
    codes, so the same bits (the exponents scale exactly). Uniform operands make codes
    large enough that the maxima set the chunk (24 K pairs, not the 192 cap)."""
    rng = np.random.default_rng(m + n + k)
    a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
    b = rng.uniform(-3, 3, (k, n)).astype(np.float32)
    fmt = formats.GemmFormat(formats.dfp16(rounding=rounding), formats.dfp16(rounding=rounding))
    qa, ea = _int.quantize_dfp16(a, rounding=rounding)
    qb, eb = _int.quantize_dfp16(b, rounding=rounding)
    for isa in _native.isa_supported():
        _native.select_isa(isa)
        _int.reset_gemm_stats()
        c = _int.gemm_quantized(a, b, fmt=fmt)
        quantising = _int.gemm_stats()
        st = {}
        c16 = _int.gemm_s16(qa, qb, int(ea), int(eb), stats=st)
        assert (quantising["flushes"], quantising["chunk_len"]) == (st["flushes"], st["chunk_len"])
        assert k < 400 or st["chunk_len"] < 2 * 192  # (the maxima, not the cap, set it)
        assert np.array_equal(c.view(np.uint32), c16.view(np.uint32))
