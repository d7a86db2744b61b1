"""DFP16 conv pass timings (FPROP, BPROP, WTGRAD) on ResNet-20 layer shapes,
batch 128, with the FP32 conv of the same shape in the same run; JSON lines.

    python bench/conv_dfp16.py [--threads 1 2] [--repeats 5]
"""
import argparse
import json
import time

import numpy as np

from dfpengine import _native, precision
from dfpengine._native import _fp32, _int

SHAPES = [  # name, C, H, O, stride
    ("stage1", 16, 32, 16, 1),
    ("stage2", 32, 16, 32, 1),
    ("stage3", 64, 8, 64, 1),
    ("down2", 16, 32, 32, 2),
]


def _median_ms(fn, repeats):
    fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1e3)
    return float(np.median(ts))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args(argv)
    pol = precision.preset("dfp16")
    fp, bp, wg = (pol.gemm_format(None, p) for p in precision.PASSES)
    rng = np.random.default_rng(0)
    for threads in args.threads:
        _native.set_num_threads(threads)
        for name, c, h, o, s in SHAPES:
            x = rng.standard_normal((args.batch, c, h, h)).astype(np.float32)
            w = rng.standard_normal((o, c, 3, 3)).astype(np.float32)
            oh = (h + 2 - 3) // s + 1
            dy = rng.standard_normal((args.batch, o, oh, oh)).astype(np.float32)
            geo = ((s, s), (1, 1), (1, 1))
            ops = 2.0 * args.batch * o * c * 9 * oh * oh
            passes = {
                "fprop": (lambda: _int.conv2d_forward_quantized(x, w, None, *geo, fmt=fp),
                          lambda: _fp32.conv2d_forward(x, w, None, *geo)),
                "bprop": (lambda: _int.conv2d_backward_data_quantized(dy, w, x.shape, *geo, fmt=bp),
                          lambda: _fp32.conv2d_backward_data(dy, w, x.shape, *geo)),
                "wtgrad": (lambda: _int.conv2d_backward_weight_quantized(x, dy, w.shape, *geo, fmt=wg),
                           lambda: _fp32.conv2d_backward_weight(x, dy, w.shape, *geo)),
            }
            for pname, (f16, f32) in passes.items():
                t16 = _median_ms(f16, args.repeats)
                t32 = _median_ms(f32, args.repeats)
                print(json.dumps({"shape": name, "pass": pname, "threads": threads,
                                  "dfp16_ms": round(t16, 2), "fp32_ms": round(t32, 2),
                                  "dfp16_gops": round(ops / t16 / 1e6, 1),
                                  "speedup_vs_fp32": round(t32 / t16, 2)}), flush=True)


if __name__ == "__main__":
    main()
