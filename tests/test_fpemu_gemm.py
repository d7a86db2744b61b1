"""Emulated FP8 GEMM: chunk-based accumulation, bit-faithful, ISA- and thread-independent."""
import numpy as np
import pytest

from dfpengine import _native
from dfpengine.formats import FormatSpec, GemmFormat, floats

ISAS = _native.isa_supported()


def reference_gemm(a, b, acc="fp16_169", chunk=64):
    """The chunk rule written out with one rounding call per add (inputs already on grid)."""
    q = lambda v: float(floats.quantize(np.array([v], np.float32), acc)[0])  # noqa: E731
    m, k = a.shape
    out = np.zeros((m, b.shape[1]), np.float32)
    for i in range(m):
        for j in range(b.shape[1]):
            total = np.float32(0)
            for c0 in range(0, k, chunk):
                s = np.float32(a[i, c0] * b[c0, j])
                for t in range(c0 + 1, min(c0 + chunk, k)):
                    s = np.float32(q(np.float32(s + np.float32(a[i, t] * b[t, j]))))
                total = np.float32(q(np.float32(total + s)))
            out[i, j] = total
    return out


def run_all_isas(fn):
    before = _native.isa_selected()
    try:
        out = {}
        for level in ISAS:
            _native.select_isa(level)
            out[level] = fn()
        return out
    finally:
        _native.select_isa(before)


@pytest.mark.parametrize("chunk", [1, 5, 64])
def test_matches_written_out_chunk_rule(chunk):
    rng = np.random.default_rng(chunk)
    a = floats.quantize(rng.standard_normal((5, 70)).astype(np.float32), "fp8")
    b = floats.quantize(rng.standard_normal((70, 3)).astype(np.float32), "fp8")
    fmt = floats.fp8_gemm_format(chunk=chunk)
    ref = reference_gemm(a, b, chunk=chunk)
    for level, got in run_all_isas(lambda: floats.gemm_fp8(a, b, fmt=fmt)).items():
        assert np.array_equal(got, ref), level


@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_bit_identical_across_isas_threads_and_transposes(rounding):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((37, 300)).astype(np.float32)
    b = rng.standard_normal((300, 19)).astype(np.float32)
    fmt = floats.fp8_gemm_format(rounding=rounding, acc_rounding=rounding, chunk=16)
    threads = _native.get_num_threads()
    results = []
    try:
        for n in (1, 2):
            _native.set_num_threads(n)
            results += run_all_isas(lambda: floats.gemm_fp8(a, b, fmt=fmt, seed=3)).values()
    finally:
        _native.set_num_threads(threads)
    results.append(floats.gemm_fp8(a.T.copy(), b.T.copy(), True, True, fmt=fmt, seed=3))
    for r in results[1:]:
        assert np.array_equal(r.view(np.uint32), results[0].view(np.uint32))
    # the result lies on the accumulator grid and is close to FP32
    assert np.array_equal(floats.quantize(results[0], "fp16_169"), results[0])
    rel = np.abs(results[0] - a @ b).max() / np.abs(a @ b).max()
    assert rel < 0.25  # FP8 inputs: 2 mantissa bits


@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_many_row_operands_pack_like_their_transposes(rounding):
    # over 2048 rows, a transposed source is packed in row groups (pack_row_group):
    # the same values and stochastic indices as the row-major packing
    rng = np.random.default_rng(4)
    a = rng.standard_normal((2100, 24)).astype(np.float32)
    b = rng.standard_normal((24, 2060)).astype(np.float32)
    fmt = floats.fp8_gemm_format(rounding=rounding, acc_rounding=rounding, chunk=16)
    want = floats.gemm_fp8(a, b, fmt=fmt, seed=5)
    got = floats.gemm_fp8(a.T.copy(), b.T.copy(), True, True, fmt=fmt, seed=5)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


def test_inputs_are_rounded_to_fp8():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((8, 16)).astype(np.float32)
    b = rng.standard_normal((16, 4)).astype(np.float32)
    got = floats.gemm_fp8(a, b)
    assert np.array_equal(got, floats.gemm_fp8(floats.quantize(a, "fp8"), floats.quantize(b, "fp8")))
    fmt = GemmFormat(FormatSpec("bf16", params=(("acc", "fp16_169"), ("chunk", 64))), FormatSpec("bf16"))
    assert np.array_equal(floats.gemm_fp8(a, b, fmt=fmt),
                          floats.gemm_fp8(floats.quantize(a, "bf16"), floats.quantize(b, "bf16"), fmt=fmt))


def test_shapes_and_errors():
    z = floats.gemm_fp8(np.ones((3, 0), np.float32), np.ones((0, 2), np.float32))
    assert z.shape == (3, 2) and not z.any()
    with pytest.raises(ValueError, match="op\\(a\\)"):
        floats.gemm_fp8(np.ones((3, 4), np.float32), np.ones((5, 2), np.float32))
    with pytest.raises(ValueError):
        floats.gemm_fp8(np.ones((3, 4), np.float32), np.ones((4, 2), np.float32),
                        fmt=floats.fp8_gemm_format(chunk=0))


def swamping_error(n, chunk, rounding="nearest", trials=4):
    errs = []
    for t in range(trials):
        v = np.random.default_rng(t).random(n).astype(np.float32)
        exact = v.astype(np.float64).sum()
        errs.append(abs(floats.accumulate(v, "fp16_169", chunk, rounding, seed=t) - exact) / exact)
    return float(np.median(errs))


def test_swamping_numerics_5_1():
    """numerics.md 5.1: FP16(1,6,9) nearest, CL=1 error > 40% at N=4096; CL=64 < 0.5% to 65536."""
    assert swamping_error(4096, 1) > 0.40
    assert swamping_error(65536, 1) > 0.90
    for n in (1024, 4096, 16384, 65536):
        assert swamping_error(n, 64) < 0.005
    assert swamping_error(65536, 1, "stochastic") < 0.05


def _fast_path_cases():
    rng = np.random.default_rng(11)
    a = rng.standard_normal((40, 200)).astype(np.float32)
    b = rng.standard_normal((200, 9)).astype(np.float32)
    fp8 = floats.fp8_gemm_format(chunk=64)
    fp16_in = floats.fp8_gemm_format(chunk=64, name="fp16_169")
    cancel = np.repeat(a[:, :100], 2, axis=1) * np.tile([1, -1], 100).astype(np.float32)
    huge = np.full((40, 200), 30000, np.float32)
    with_inf = a.copy()
    with_inf[3, 7], with_inf[5, 0] = np.inf, np.nan
    return {
        "normal": (a, b, fp8),
        # partial sums in the accumulator's subnormal range (below 2^-30)
        "tiny": (a * np.float32(2 ** -14), b * np.float32(2 ** -14), fp8),
        # FP16 (1,6,9) inputs (first/last layers): products far below the accumulator grid
        "fp16_inputs": (a * np.float32(2 ** -25), b * np.float32(2 ** -10), fp16_in),
        "fp16_inputs_normal": (a, b, fp16_in),
        # exact cancellation: -0 / +0 partial sums
        "cancel": (cancel, np.ones((200, 9), np.float32), fp8),
        "negative_tiny_to_zero": (-a * np.float32(2 ** -24), b * np.float32(2 ** -24), fp16_in),
        # single products rounding to -0 in the accumulator (k = 1: total = acc(0 + p))
        "negative_zero": (-np.abs(a[:, :1]) * np.float32(2 ** -22), np.abs(b[:1]) * np.float32(2 ** -22),
                          fp16_in),
        # the bound fails: saturating sums take the general kernel
        "saturating": (huge, np.full((200, 9), 30000, np.float32), fp8),
        "inf_nan": (with_inf, b, fp8),
        "chunk_1": (a, b, floats.fp8_gemm_format(chunk=1)),
        # exact ties of the 10-bit accumulator: 1024 + 1 and 1024 + 3 go to even
        "ties": (np.ones((40, 200), np.float32), _ties_column(), fp8),
    }


def _ties_column():
    b = np.tile(np.float32([1, 3, 0.5, 1.5]), 50)
    b[0] = b[64] = b[128] = 1024
    return np.repeat(b[:, None], 9, axis=1) * np.float32([1, -1, 2, 0.25, 1, 1, 1, 1, 1])


@pytest.mark.parametrize("case", sorted(_fast_path_cases()))
def test_nearest_fast_kernel_equals_scalar_reference(case):
    """The (v + C) - C rounding kernel (AVX2/AVX-512, nearest accumulation) gives the
    scalar reference's bits, zeros' signs, subnormal sums, saturation and NaN included."""
    a, b, fmt = _fast_path_cases()[case]
    with np.errstate(all="ignore"):
        got = run_all_isas(lambda: floats.gemm_fp8(a, b, fmt=fmt))
    ref = got["scalar"].view(np.uint32)
    for level, r in got.items():
        assert np.array_equal(r.view(np.uint32), ref), level
    if case == "saturating":
        assert (got["scalar"] == floats.FP16.max).all()
    if case == "negative_zero":
        assert np.signbit(got["scalar"]).all() and (got["scalar"] == 0).any()
    if case == "cancel":
        assert (got["scalar"] == 0).all()
