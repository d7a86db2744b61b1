"""`dfpengine report`: compare training runs: a table on stdout and one PNG of their curves."""
import json
from pathlib import Path


def add_parser(subparsers):
    p = subparsers.add_parser("report", help="compare run directories: table and PNG",
                              description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="directories written by `dfpengine train`")
    p.add_argument("--output", default="report.png", help="PNG to write (default report.png)")
    p.add_argument("--no-plot", action="store_true", help="only print the table")
    p.add_argument("--json", action="store_true", help="last stdout line is a JSON list of the runs")
    p.set_defaults(func=run, parser=p)


def _row(run_dir, metrics, summary):
    last = metrics[-1]
    best = max(r["test_accuracy"] for r in metrics)
    config = json.loads((Path(run_dir) / "config.json").read_text())
    return {
        "run": str(run_dir), "model": config["model"], "dataset": config["dataset"],
        "precision": config["precision"], "epochs": last["epoch"],
        "test_accuracy": last["test_accuracy"], "best_test_accuracy": best,
        "test_loss": last["test_loss"], "images_per_s": last["images_per_s"],
        "seconds": summary["seconds"] if summary else None,
    }


def _table(rows):
    header = ("run", "model", "precision", "epochs", "test acc", "best acc", "test loss", "img/s")
    lines = [header] + [(
        r["run"], r["model"], r["precision"], str(r["epochs"]), f"{100 * r['test_accuracy']:.2f}%",
        f"{100 * r['best_test_accuracy']:.2f}%", f"{r['test_loss']:.4f}", f"{r['images_per_s']:.0f}")
        for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in lines)


def run(args):
    from dfpengine.training.runlog import read_metrics, read_summary

    runs, rows = [], []
    for run_dir in args.runs:
        metrics = read_metrics(run_dir)
        if not metrics or not (Path(run_dir) / "config.json").is_file():
            raise FileNotFoundError(f"{run_dir}: not a run directory with metrics (config.json, metrics.jsonl)")
        runs.append((Path(run_dir).name, metrics))
        rows.append(_row(run_dir, metrics, read_summary(run_dir)))
    print(_table(rows))
    if not args.no_plot:
        from dfpengine.training.plots import plot_runs
        print(f"wrote {plot_runs(runs, args.output)}")
    if args.json:
        print(json.dumps(rows))
    return 0
