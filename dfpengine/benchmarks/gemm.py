"""GEMM benchmark: the DFP16 integer GEMM (FP32 operands quantised while
packing: `gops`) and the integer GEMM alone on int16 operands (`int16_gops`,
`kernels.gemm_s16`), against the FP32 SGEMM of the same shape, in the same run;
medians of repeats; GOP/s count a multiply-add as 2 ops. The percentage is of this
machine's int16 multiply-add peak for the thread count (the library's
register-only vpdpwssd chains on VNNI, as `dfpengine profile` and `dfp_bench
peak` measure it: the largest value measured so far) unless a per-core figure is
given (232 GOP/s per core was measured on the project's reference machine).

Each kind runs its repeats back to back after at least 50 ms of untimed calls:
right after a heavy burst of another kind a GEMM runs slower (the peak's
vpdpwssd chains or an SGEMM cost the next 20-30 ms of int16 GEMMs 10-25%). The
peak is also measured before the quantising GEMM's repeats and after the int16
ones (`peak_same_run_gops`, the larger of the two), for a percentage under the
same machine load (`int16_percent_of_peak_same_run`)."""
import time

import numpy as np

from dfpengine import _native, formats

SHAPES = ((1024, 1024, 1024), (16384, 64, 576), (4096, 128, 1152), (1024, 256, 2304))


WARMUP_SECONDS = 0.05  # past the slow stretch that follows another kind's burst


def _median_seconds(fn, repeats):
    t0 = time.perf_counter()
    fn()
    while time.perf_counter() - t0 < WARMUP_SECONDS:
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def run(threads=(1, 2), repeats=5, vnni_peak_gops_per_core=None, shapes=SHAPES):
    """One dict per (threads, shape)."""
    from dfpengine._native import _dispatch, _int
    from dfpengine.cli.profile import measured_peaks
    fmt = formats.GemmFormat(formats.dfp16(), formats.dfp16())
    rng = np.random.default_rng(0)
    previous = _native.get_num_threads()
    results = []
    try:
        for t in threads:
            _native.set_num_threads(t)
            if vnni_peak_gops_per_core:
                peak, source = vnni_peak_gops_per_core * t, "given"
            else:
                peak, source = measured_peaks()["dfp16"] * 1e-9, "measured"
            for m, n, k in shapes:
                a = rng.standard_normal((m, k)).astype(np.float32)
                b = rng.standard_normal((k, n)).astype(np.float32)
                ops = 2.0 * m * n * k
                qa = rng.integers(-8191, 8192, (m, k)).astype(np.int16)   # DFP16 range at shift 2
                qb = rng.integers(-8191, 8192, (k, n)).astype(np.int16)
                peak_before = _dispatch.measure_peak("int16") if source == "measured" else None
                t_int = _median_seconds(lambda: _int.gemm_quantized(a, b, fmt=fmt), repeats)
                t_s16 = _median_seconds(lambda: _int.gemm_s16(qa, qb), repeats)
                peak_after = _dispatch.measure_peak("int16") if source == "measured" else None
                t_fp32 = _median_seconds(lambda: _native.gemm(a, b), repeats)
                gops = ops / t_int * 1e-9
                row = {
                    "bench": "gemm", "engine": "dfpengine", "precision": "dfp16",
                    "isa": _native.isa_selected(), "threads": t, "m": m, "n": n, "k": k,
                    "gops": round(gops, 3),
                    "percent_of_peak": round(100.0 * gops / peak, 1),
                    "peak_gops": round(peak, 1), "peak_source": source,
                    "fp32_gflops": round(ops / t_fp32 * 1e-9, 3),
                    "dfp16_over_fp32": round(t_fp32 / t_int, 2),
                    "int16_gops": round(ops / t_s16 * 1e-9, 3),
                    "int16_percent_of_peak": round(100.0 * ops / t_s16 * 1e-9 / peak, 1),
                    "int16_over_fp32": round(t_fp32 / t_s16, 2),
                }
                if source == "measured":
                    same = max(peak_before, peak_after)
                    row["peak_same_run_gops"] = round(same * 1e-9, 1)
                    row["int16_percent_of_peak_same_run"] = round(100.0 * ops / t_s16 / same, 1)
                results.append(row)
    finally:
        _native.set_num_threads(previous)
    return results
