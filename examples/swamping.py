"""Swamping in low-precision accumulation, reproduced through the emulated GEMM.

Sums N values drawn from U(0, 1) with the FP16 (1,6,9) accumulator of FP8
training (Wang et al. 2018) and reports the relative error against a float64
sum, median over trials, for:
  - chunk 1, nearest: plain sequential accumulation (stalls at 1024),
  - chunk 64, nearest: chunk-based accumulation,
  - chunk 1, stochastic: sequential accumulation with stochastic rounding.
Writes a CSV and a PNG (log-log plot).

    python examples/swamping.py --out-dir swamping_out [--trials 16] [--acc fp16]
"""
import argparse
import csv
import os

import numpy as np

from dfpengine.formats import floats

CASES = (("chunk1_nearest", 1, "nearest"), ("chunk64_nearest", 64, "nearest"),
         ("chunk1_stochastic", 1, "stochastic"))


def relative_error(n, chunk, rounding, trials, acc):
    errs = []
    for t in range(trials):
        v = np.random.default_rng(t).random(n).astype(np.float32)
        exact = v.astype(np.float64).sum()
        errs.append(abs(floats.accumulate(v, acc, chunk, rounding, seed=t) - exact) / exact)
    return float(np.median(errs))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", default="swamping_out")
    p.add_argument("--trials", type=int, default=16)
    p.add_argument("--acc", default="fp16", choices=sorted(floats.FLOAT_FORMATS))
    p.add_argument("--max-log2", type=int, default=16)
    args = p.parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    lengths = [2 ** e for e in range(6, args.max_log2 + 1)]
    rows = [[n] + [relative_error(n, c, r, args.trials, args.acc) for _, c, r in CASES]
            for n in lengths]
    csv_path = os.path.join(args.out_dir, "swamping.csv")
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["n"] + [name for name, _, _ in CASES])
        w.writerows(rows)
    for row in rows:
        print(" ".join(f"{v:>10}" if i == 0 else f"{100 * v:9.3f}%" for i, v in enumerate(row)))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for col, (name, _, _) in enumerate(CASES, start=1):
        ax.loglog(lengths, [max(r[col], 1e-7) for r in rows], marker="o", label=name)
    ax.set_xlabel("accumulation length N")
    ax.set_ylabel("relative error (median)")
    ax.set_title(f"Sum of U(0,1), {args.acc} accumulator")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    png_path = os.path.join(args.out_dir, "swamping.png")
    fig.tight_layout()
    fig.savefig(png_path, dpi=120)
    print(f"wrote {csv_path} and {png_path}")


if __name__ == "__main__":
    main()
