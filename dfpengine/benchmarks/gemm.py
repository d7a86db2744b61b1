"""GEMM benchmark: the DFP16 integer GEMM (FP32 operands quantised while
packing) against the FP32 SGEMM of the same shape, in the same run; medians of
repeats; GOP/s count a multiply-add as 2 ops. The percentage is of the VNNI peak
given (the C program `dfp_bench igemm` measures it with a register-only
vpdpwssd loop; 232 GOP/s per core is the figure measured on the project's
reference machine)."""
import time

import numpy as np

from dfpengine import _native, formats

SHAPES = ((1024, 1024, 1024), (16384, 64, 576), (4096, 128, 1152), (1024, 256, 2304))
VNNI_PEAK_GOPS_PER_CORE = 232.0


def _median_seconds(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def run(threads=(1, 2), repeats=5, vnni_peak_gops_per_core=VNNI_PEAK_GOPS_PER_CORE, shapes=SHAPES):
    """One dict per (threads, shape)."""
    from dfpengine._native import _int
    fmt = formats.GemmFormat(formats.dfp16(), formats.dfp16())
    rng = np.random.default_rng(0)
    previous = _native.get_num_threads()
    results = []
    try:
        for t in threads:
            _native.set_num_threads(t)
            for m, n, k in shapes:
                a = rng.standard_normal((m, k)).astype(np.float32)
                b = rng.standard_normal((k, n)).astype(np.float32)
                ops = 2.0 * m * n * k
                t_int = _median_seconds(lambda: _int.gemm_quantized(a, b, fmt=fmt), repeats)
                t_fp32 = _median_seconds(lambda: _native.gemm(a, b), repeats)
                peak = vnni_peak_gops_per_core * t
                results.append({
                    "bench": "gemm", "isa": _native.isa_selected(), "threads": t,
                    "m": m, "n": n, "k": k,
                    "dfp16_gops": round(ops / t_int * 1e-9, 1),
                    "fp32_gflops": round(ops / t_fp32 * 1e-9, 1),
                    "dfp16_over_fp32": round(t_fp32 / t_int, 2),
                    "pct_vnni_peak": round(100.0 * ops / t_int * 1e-9 / peak, 1),
                    "vnni_peak_gops": peak,
                })
    finally:
        _native.set_num_threads(previous)
    return results
