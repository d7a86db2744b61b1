"""Time single training steps of one model and precision in this process, for A/B
comparisons of two builds: run it alternately with PYTHONPATH pointing at each
checkout (each process measures its own build), several rounds, and compare.

Usage: python bench/step_time.py [--model resnet20] [--precision dfp16] [--batch 128]
                                 [--threads 2] [--steps 15]
Prints one JSON object: median and minimum wall time of a step (ms), and the
process CPU time per step (both threads), after two warm-up steps."""
import argparse
import json
import time

import dfpengine
from dfpengine.benchmarks import train_step


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet20")
    ap.add_argument("--precision", default="dfp16")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=15)
    args = ap.parse_args()
    dfpengine.set_num_threads(args.threads)
    step = train_step.dfpengine_step(args.model, args.precision, args.batch)
    for _ in range(2):
        step()
    wall, cpu = [], []
    for _ in range(args.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    wall.sort()
    cpu.sort()
    print(json.dumps({"model": args.model, "precision": args.precision, "batch": args.batch,
                      "threads": args.threads, "steps": args.steps, "package": dfpengine.__file__,
                      "wall_median_ms": round(1e3 * wall[len(wall) // 2], 1),
                      "wall_min_ms": round(1e3 * wall[0], 1),
                      "cpu_median_ms": round(1e3 * cpu[len(cpu) // 2], 1)}))


if __name__ == "__main__":
    main()
