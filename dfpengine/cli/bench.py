"""`dfpengine bench TARGET`: benchmarks printed as JSON (one object per line with
--json). Targets are looked up in TARGETS, so `train` can be added beside `gemm`."""
import json


def _gemm(args):
    from dfpengine.benchmarks import gemm
    return gemm.run(threads=args.threads, repeats=args.repeats,
                    vnni_peak_gops_per_core=args.vnni_peak)


TARGETS = {"gemm": _gemm}


def add_parser(sub):
    p = sub.add_parser("bench", help="run a benchmark and print its measurements")
    p.add_argument("target", choices=sorted(TARGETS), help="what to measure")
    p.add_argument("--json", action="store_true", help="print JSON lines")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats (median reported)")
    p.add_argument("--vnni-peak", type=float, default=232.0,
                   help="VNNI peak per core in GOP/s for the percentage (dfp_bench igemm measures it)")
    p.set_defaults(func=run)


def run(args):
    for row in TARGETS[args.target](args):
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    return 0
