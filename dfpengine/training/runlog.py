"""A run directory's files: config.json, metrics.jsonl (one line per epoch), summary.json, and the
checkpoint (model.safetensors, state.npz, state.json) in the run directory itself, so `--out DIR`
holds the weights where PyTorch users look for them."""
import json
from pathlib import Path

CONFIG, METRICS, SUMMARY, CHECKPOINT, CURVES = (
    "config.json", "metrics.jsonl", "summary.json", ".", "curves.png")


def append_metrics(run_dir, record):
    with open(Path(run_dir) / METRICS, "a") as f:
        f.write(json.dumps(record) + "\n")


def read_metrics(run_dir):
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def keep_metrics_before(run_dir, epoch):
    """Drop lines of epochs >= `epoch` (1-based count), which a resumed run will write again."""
    kept = [r for r in read_metrics(run_dir) if r["epoch"] < epoch]
    (Path(run_dir) / METRICS).write_text("".join(json.dumps(r) + "\n" for r in kept))


def write_summary(run_dir, summary):
    (Path(run_dir) / SUMMARY).write_text(json.dumps(summary, indent=1) + "\n")


def read_summary(run_dir):
    path = Path(run_dir) / SUMMARY
    return json.loads(path.read_text()) if path.is_file() else None
