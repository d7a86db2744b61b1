"""Training-step time of resnet20 (CIFAR size) per precision preset, with its
ratio to the FP32 step measured in the same run (issue 4 item 8: FP8 and HBFP
at most 2x FP32).

Usage: python bench/lowp_step.py [batch] [steps] [presets...]
Steps of all presets run round-robin (dfpengine.benchmarks.train_step, the
code behind `dfpengine bench train`), so machine noise hits them alike; prints
one JSON object per preset: median step time and ratio to fp32."""
import json
import sys

from dfpengine.benchmarks import train_step


def main():
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    presets = sys.argv[3:] or ["fp32", "dfp16", "fp8", "hbfp8", "hbfp4", "boosters"]
    if "fp32" not in presets:
        presets = ["fp32"] + presets
    results = train_step.run(models=("resnet20",), precisions=presets, threads=(2,), batch=batch,
                             steps=steps, repeats=3, warmup=1, with_torch=False)
    base = next(r for r in results if r["precision"] == "fp32")["images_per_s"]
    for r in results:
        print(json.dumps({"model": "resnet20", "precision": r["precision"], "batch": batch,
                          "threads": r["threads"], "ms_per_step": round(1e3 * batch / r["images_per_s"], 1),
                          "vs_fp32": round(base / r["images_per_s"], 2)}), flush=True)


if __name__ == "__main__":
    main()
