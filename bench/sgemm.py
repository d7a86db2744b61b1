"""SGEMM through the Python glue (dfpengine._native.gemm): GFLOP/s as JSON lines.

    python bench/sgemm.py [--threads 1 2] [--repeats 7] [--isa avx512]

Medians of repeated runs; the same shapes as the C benchmark (native/bench).
"""
import argparse
import json
import time

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from dfpengine import _native  # noqa: E402  (after the path set-up: runs from a checkout)

SHAPES = [(1024, 1024, 1024), (16384, 64, 576), (4096, 128, 1152), (1024, 256, 2304), (131072, 16, 144)]


def bench_shape(m, n, k, repeats):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    _native.gemm(a, b)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _native.gemm(a, b)
        times.append(time.perf_counter() - t0)
    return 2.0 * m * n * k / float(np.median(times)) * 1e-9


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--isa", default=None, help="scalar | avx2 | avx512 | avx512_vnni")
    args = parser.parse_args(argv)
    if args.isa:
        _native.select_isa(args.isa)
    for threads in args.threads:
        _native.set_num_threads(threads)
        for m, n, k in SHAPES:
            print(json.dumps({"bench": "sgemm_python", "isa": _native.isa_selected(), "threads": threads,
                              "m": m, "n": n, "k": k,
                              "gflops": round(bench_shape(m, n, k, args.repeats), 1)}), flush=True)


if __name__ == "__main__":
    main()
