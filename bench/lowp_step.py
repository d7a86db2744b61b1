"""Training-step time of resnet20 (CIFAR size) per precision preset, with its
ratio to the FP32 step measured in the same run (issue 4 item 8: FP8 and HBFP
at most 2x FP32).

Usage: python bench/lowp_step.py [batch] [steps] [presets...] [--threads N] [--repeats R]
Steps of all presets run round-robin (dfpengine.benchmarks.train_step, the
code behind `dfpengine bench train`), so machine noise hits them alike; prints
one JSON object per preset: median step time and ratio to fp32."""
import argparse
import json

from dfpengine.benchmarks import train_step


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("batch", nargs="?", type=int, default=32)
    ap.add_argument("steps", nargs="?", type=int, default=3)
    ap.add_argument("presets", nargs="*", default=["fp32", "dfp16", "fp8", "hbfp8", "hbfp4", "boosters"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    batch, presets = args.batch, list(args.presets)
    if "fp32" not in presets:
        presets = ["fp32"] + presets
    results = train_step.run(models=("resnet20",), precisions=presets, threads=(args.threads,), batch=batch,
                             steps=args.steps, repeats=args.repeats, warmup=1, with_torch=False)
    base = next(r for r in results if r["precision"] == "fp32")["images_per_s"]
    for r in results:
        print(json.dumps({"model": "resnet20", "precision": r["precision"], "batch": batch,
                          "threads": r["threads"], "ms_per_step": round(1e3 * batch / r["images_per_s"], 1),
                          "vs_fp32": round(base / r["images_per_s"], 2)}), flush=True)


if __name__ == "__main__":
    main()
