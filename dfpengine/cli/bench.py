"""`dfpengine bench TARGET`: benchmarks printed as JSON (one object per line with
--json). Targets are looked up in TARGETS, so `train` can be added beside `gemm`."""
import json


def _gemm(args):
    from dfpengine.benchmarks import gemm
    return gemm.run(threads=args.threads, repeats=args.repeats,
                    vnni_peak_gops_per_core=args.vnni_peak)


def _train(args):
    import sys

    from dfpengine.benchmarks import train_step

    def progress(repeat, index, total):
        if not args.json:
            print(f"repeat {repeat + 1}/{args.repeats}, configuration {index + 1}/{total}",
                  file=sys.stderr, flush=True)
    with_torch = False if args.no_torch else None
    results = train_step.run(models=args.model, precisions=args.precision, threads=args.threads,
                             batch=args.batch_size, steps=args.steps, repeats=args.repeats,
                             warmup=args.warmup, with_torch=with_torch, progress=progress)
    return results + train_step.ratios(results)


TARGETS = {"gemm": _gemm, "train": _train}


def add_parser(sub):
    p = sub.add_parser("bench", help="run a benchmark and print its measurements")
    p.add_argument("target", choices=sorted(TARGETS), help="what to measure")
    p.add_argument("--json", action="store_true", help="print JSON lines")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats (median reported)")
    p.add_argument("--vnni-peak", type=float, default=232.0,
                   help="VNNI peak per core in GOP/s for the percentage (dfp_bench igemm measures it)")
    train = p.add_argument_group("train target")
    train.add_argument("--model", nargs="+", default=["resnet20", "lenet5"],
                       choices=["resnet20", "lenet5"], help="models to step")
    train.add_argument("--precision", nargs="+", default=["fp32", "dfp16"],
                       help="dfpengine precision presets to measure")
    train.add_argument("--steps", type=int, default=20, help="training steps per timed repeat")
    train.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    p.set_defaults(func=run)


def run(args):
    for row in TARGETS[args.target](args):
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    return 0
