"""`dfpengine report`: compare training runs: a table on stdout, one PNG of their curves, and
with --markdown the table (and the PNG) as a markdown file for the docs."""
import json
import os
from pathlib import Path


def add_parser(subparsers):
    p = subparsers.add_parser("report", help="compare run directories: table and PNG",
                              description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="directories written by `dfpengine train`")
    p.add_argument("--output", default="report.png", help="PNG to write (default report.png)")
    p.add_argument("--no-plot", action="store_true", help="only print the table")
    p.add_argument("--markdown", metavar="FILE",
                   help="also write the table as markdown, with the PNG below it, to FILE")
    p.add_argument("--json", action="store_true", help="last stdout line is a JSON list of the runs")
    p.set_defaults(func=run, parser=p)


def _row(run_dir, metrics, summary):
    last = metrics[-1]
    best = max(r["test_accuracy"] for r in metrics)
    config = json.loads((Path(run_dir) / "config.json").read_text())
    return {
        "run": str(run_dir), "model": config["model"], "dataset": config["dataset"],
        "precision": config["precision"], "epochs": last["epoch"], "partial": bool(last.get("partial")),
        "test_accuracy": last["test_accuracy"], "best_test_accuracy": best,
        "test_loss": last["test_loss"], "images_per_s": last["images_per_s"],
        "seconds": summary["seconds"] if summary else None,
    }


def _add_fp32_deltas(rows):
    """`delta_vs_fp32`: accuracy points against the FP32 run of the same model and data set, if any."""
    fp32 = {(r["model"], r["dataset"]): r["test_accuracy"] for r in rows if r["precision"] == "fp32"}
    for r in rows:
        ref = fp32.get((r["model"], r["dataset"]))
        r["delta_vs_fp32"] = None if ref is None else 100 * (r["test_accuracy"] - ref)


HEADER = ("run", "model", "precision", "epochs", "test acc", "vs fp32", "best acc", "test loss", "img/s")


def _cells(r, run_label):
    delta = "-" if r["delta_vs_fp32"] is None else f"{r['delta_vs_fp32']:+.2f}"
    epochs = f"{r['epochs']}{' (partial)' if r['partial'] else ''}"
    return (run_label, r["model"], r["precision"], epochs, f"{100 * r['test_accuracy']:.2f}%", delta,
            f"{100 * r['best_test_accuracy']:.2f}%", f"{r['test_loss']:.4f}", f"{r['images_per_s']:.0f}")


def _table(rows):
    lines = [HEADER] + [_cells(r, r["run"]) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in lines)


def markdown(rows, png=None, relative_to="."):
    """The runs as a markdown table (run names without their folders), then the PNG if given,
    linked relative to the folder the markdown lives in."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(_cells(r, Path(r["run"]).name)) + " |" for r in rows]
    datasets = sorted({r["dataset"] for r in rows})
    lines += ["", f"Data set: {', '.join(datasets)}. 'vs fp32': test accuracy points against the FP32 "
                  "run of the same model; 'img/s': training throughput of the machine that ran it."]
    if png:
        lines += ["", f"![loss and accuracy per epoch]({os.path.relpath(png, relative_to)})"]
    return "\n".join(lines) + "\n"


def run(args):
    from dfpengine.training.runlog import read_metrics, read_summary

    runs, rows = [], []
    for run_dir in args.runs:
        metrics = read_metrics(run_dir)
        if not metrics or not (Path(run_dir) / "config.json").is_file():
            raise FileNotFoundError(f"{run_dir}: not a run directory with metrics (config.json, metrics.jsonl)")
        runs.append((Path(run_dir).name, metrics))
        rows.append(_row(run_dir, metrics, read_summary(run_dir)))
    _add_fp32_deltas(rows)
    print(_table(rows))
    png = None
    if not args.no_plot:
        from dfpengine.training.plots import plot_runs
        png = plot_runs(runs, args.output)
        print(f"wrote {png}")
    if args.markdown:
        folder = Path(args.markdown).resolve().parent
        Path(args.markdown).write_text(markdown(rows, png and Path(png).resolve(), folder))
        print(f"wrote {args.markdown}")
    if args.json:
        print(json.dumps(rows))
    return 0
