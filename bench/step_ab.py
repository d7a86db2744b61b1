"""A/B of two checkouts' training steps, paired in time: one worker process per
checkout (PYTHONPATH set to it), built once, and the two take turns running a few
steps each, alternating which goes first, so both see the same machine load. On a
shared machine this is far steadier than alternating whole processes.

Usage: python bench/step_ab.py CHECKOUT_A CHECKOUT_B [--model resnet20]
           [--precision dfp16] [--batch 128] [--threads 2] [--rounds 16] [--steps 3]
Prints one JSON object: per checkout the median and minimum over rounds of the best
step of each turn (ms), and the median and quartiles of the paired ratio A / B of
those (above 1: B is faster)."""
import argparse
import json
import os
import subprocess
import sys
import time


def worker(args):
    import dfpengine
    from dfpengine.benchmarks import train_step
    dfpengine.set_num_threads(args.threads)
    step = train_step.dfpengine_step(args.model, args.precision, args.batch)
    for _ in range(3):
        step()
    print("ready", flush=True)
    for line in sys.stdin:
        best = float("inf")
        for _ in range(int(line)):
            t0 = time.perf_counter()
            step()
            best = min(best, time.perf_counter() - t0)
        print(best, flush=True)


def spawn(checkout, args):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(checkout))
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--model", args.model, "--precision",
           args.precision, "--batch", str(args.batch), "--threads", str(args.threads)]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                         cwd=os.path.dirname(os.path.abspath(checkout)))
    if p.stdout.readline().strip() != "ready":
        raise RuntimeError(f"the worker for {checkout} did not start")
    return p


def quantile(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkouts", nargs="*")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", default="resnet20")
    ap.add_argument("--precision", default="dfp16")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=16)
    ap.add_argument("--steps", type=int, default=3, help="steps per turn (the best one counts)")
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    if len(args.checkouts) != 2:
        ap.error("give two checkouts")
    procs = [spawn(c, args) for c in args.checkouts]
    times = [[], []]
    try:
        for r in range(args.rounds):
            for i in (0, 1) if r % 2 == 0 else (1, 0):
                procs[i].stdin.write(f"{args.steps}\n")
                procs[i].stdin.flush()
                times[i].append(float(procs[i].stdout.readline()))
    finally:
        for p in procs:
            p.stdin.close()
            p.wait()
    ratios = [a / b for a, b in zip(*times)]
    out = {"model": args.model, "precision": args.precision, "batch": args.batch, "threads": args.threads,
           "rounds": args.rounds}
    for name, t, checkout in zip("ab", times, args.checkouts):
        out[f"{name}_checkout"] = checkout
        out[f"{name}_ms_median"] = round(1e3 * quantile(t, 0.5), 2)
        out[f"{name}_ms_min"] = round(1e3 * min(t), 2)
    out.update(ratio_a_over_b_median=round(quantile(ratios, 0.5), 3),
               ratio_q1=round(quantile(ratios, 0.25), 3), ratio_q3=round(quantile(ratios, 0.75), 3))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
