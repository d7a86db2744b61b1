"""`dfpengine bench TARGET`: benchmarks printed as JSON (one object per line with
--json). Targets are looked up in TARGETS, so `train` can be added beside `gemm`."""
import json


def _gemm(args):
    from dfpengine.benchmarks import gemm
    if args.precision not in (None, ["dfp16"]):
        args.parser.error(f"bench gemm: --precision must be dfp16 (the integer GEMM), got {' '.join(args.precision)}")
    if any(d < 1 for shape in args.shape or [] for d in shape):
        args.parser.error(f"bench gemm: --shape needs positive M N K, got {args.shape}")
    return gemm.run(threads=args.threads, repeats=args.repeats, vnni_peak_gops_per_core=args.vnni_peak,
                    shapes=[tuple(s) for s in args.shape] if args.shape else gemm.SHAPES)


def _train(args):
    import sys

    from dfpengine.benchmarks import train_step

    def progress(repeat, index, total):
        if not args.json:
            print(f"repeat {repeat + 1}/{args.repeats}, configuration {index + 1}/{total}",
                  file=sys.stderr, flush=True)
    with_torch = False if args.no_torch else None
    results = train_step.run(models=args.model, precisions=args.precision or ["fp32", "dfp16"],
                             threads=args.threads,
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
    gemm = p.add_argument_group("gemm target")
    gemm.add_argument("--vnni-peak", type=float, default=None,
                      help="int16 peak per core in GOP/s for the percentage (default: measured here)")
    gemm.add_argument("--shape", type=int, nargs=3, action="append", metavar=("M", "N", "K"),
                      help="GEMM shape (repeatable; default: the four of issue 3)")
    train = p.add_argument_group("train target")
    train.add_argument("--model", nargs="+", default=["resnet20", "lenet5"],
                       choices=["resnet20", "lenet5"], help="models to step")
    p.add_argument("--precision", nargs="+", default=None,
                   help="train: dfpengine presets to measure (default fp32 dfp16); gemm: dfp16")
    train.add_argument("--steps", type=int, default=20, help="training steps per timed repeat")
    train.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    p.set_defaults(func=run, parser=p)


def run(args):
    for row in TARGETS[args.target](args):
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    return 0
