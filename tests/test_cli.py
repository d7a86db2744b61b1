"""`dfpengine train / eval / report` end to end in subprocesses: exit codes, files, JSON."""
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SUMMARY_KEYS = {"test_accuracy", "test_loss", "images_per_s", "epochs", "precision", "seconds"}


def cli(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "dfpengine.cli", *map(str, args)],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "lenet"
    result = cli("train", "--max-steps", 3, "--out", out, "--plot", "--show-precision", "--json")
    return out, result


def test_train_writes_run_files_and_json_summary(trained):
    out, result = trained
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    assert SUMMARY_KEYS <= summary.keys()
    assert 0 <= summary["test_accuracy"] <= 1 and summary["precision"] == "fp32"
    assert summary["steps"] == 3 and summary["images_per_s"] > 0
    for name in ("config.json", "metrics.jsonl", "summary.json", "curves.png",
                 "model.safetensors", "state.npz", "state.json"):
        assert (out / name).is_file(), name
    record = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["partial"] and record["step"] == 3
    assert "conv1  first" in result.stdout and "fc3    last" in result.stdout


def test_eval_reproduces_the_training_result(trained):
    out, result = trained
    summary = json.loads(result.stdout.splitlines()[-1])
    evaluated = cli("eval", "--checkpoint", out, "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout.splitlines()[-1])["test_accuracy"] == summary["test_accuracy"]


def test_report_prints_table_and_writes_png(trained, tmp_path):
    out, _ = trained
    result = cli("report", out, out, "--output", tmp_path / "cmp.png")
    assert result.returncode == 0, result.stderr
    assert "lenet5" in result.stdout and (tmp_path / "cmp.png").stat().st_size > 0


@pytest.mark.parametrize("args", [
    ["train", "--epochs", "0"], ["train", "--model", "resnet21"], ["train", "--dataset", "imagenet"],
    ["train", "--precision", "fp7"], ["train", "--schedule", "linear"], ["train", "--resume"],
    ["eval"],
])
def test_bad_arguments_exit_2(args):
    result = cli(*args)
    assert result.returncode == 2, result.stderr
    assert "usage:" in result.stderr


def test_missing_data_exits_1_with_one_line_reason(tmp_path):
    result = cli("train", "--dataset", "cifar10", "--data-dir", tmp_path, "--out", tmp_path / "r")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cifar10" in lines[0] and str(tmp_path) in lines[0]


def test_corrupt_checkpoint_exits_1(tmp_path):
    (tmp_path / "state.json").write_text("{not json")
    result = cli("eval", "--checkpoint", tmp_path)
    assert result.returncode == 1 and "state.json" in result.stderr


def test_plotting_without_matplotlib_says_how_to_fix(monkeypatch):
    from dfpengine.training import plots
    monkeypatch.setitem(sys.modules, "matplotlib", None)     # makes `import matplotlib` fail
    with pytest.raises(RuntimeError, match="pip install matplotlib"):
        plots.pyplot()


# ------------------------------------------------------------ progress and failures
def tiny_dataset(path, n_train=100, n_test=20):
    from dfpengine import data
    splits = data.load("fashion-mnist-small")
    np.savez(path, x_train=splits.x_train[:n_train], y_train=splits.y_train[:n_train],
             x_test=splits.x_test[:n_test], y_test=splits.y_test[:n_test])
    return f"npz:{path}"


class Recorder:
    def __init__(self):
        self.starts, self.images = [], 0

    def run_start(self, total_images, done_images):
        self.starts.append((total_images, done_images))

    def epoch_start(self, *args):
        pass

    def batch_end(self, images, loss):
        self.images += images

    def epoch_end(self, record):
        pass


def test_progress_totals_cover_the_whole_run_and_a_resume(tmp_path):
    from dfpengine.training import TrainConfig, Trainer
    dataset = tiny_dataset(tmp_path / "tiny.npz")       # 100 images, batches of 32: 32+32+32+4
    settings = dict(model="mlp", dataset=dataset, epochs=2, batch_size=32, out=str(tmp_path / "run"))
    first = Recorder()
    Trainer(TrainConfig(max_steps=5, **settings), first).run()
    assert first.starts == [(100 + 32, 0)] and first.images == 132
    resumed = Recorder()
    trainer = Trainer(TrainConfig(**settings), resumed)
    trainer.resume()
    trainer.run()
    assert resumed.starts == [(200, 132)] and resumed.images == 68


def test_bar_and_epoch_lines_show_the_eta_of_the_whole_run(capsys):
    from dfpengine.cli._progress import ProgressObserver
    now = [100.0]
    observer = ProgressObserver(bar=True, file=io.StringIO(), clock=lambda: now[0])
    observer.run_start(total_images=1000, done_images=200)    # resumed at 200 of 1000 images
    observer.epoch_start(2, 5, 200, 0)
    now[0] += 10.0
    observer.batch_end(100, 0.5)
    assert observer.bar.total == 1000 and observer.bar.n == 300
    assert observer.eta() == pytest.approx(10.0 / 100 * 700)
    record = {"epoch": 3, "partial": False, "train_loss": 1.0, "train_accuracy": 0.5, "test_loss": 1.0,
              "test_accuracy": 0.5, "lr": 0.1, "images_per_s": 10.0}
    observer.epoch_end(record)
    observer.close()
    assert "epoch 3/5" in capsys.readouterr().out.splitlines()[-1]
    assert capsys.readouterr().out == ""
    observer.epoch_end(record)
    assert capsys.readouterr().out.rstrip().endswith("eta 1m10s")


def test_train_prints_epoch_lines_with_eta_then_the_table(tmp_path):
    result = cli("train", "--model", "mlp", "--dataset", tiny_dataset(tmp_path / "tiny.npz"),
                 "--epochs", 2, "--batch-size", 50, "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    first, last = (next(line for line in lines if line.startswith(f"epoch {e}/2")) for e in (1, 2))
    assert " img/s  eta " in first and "eta" not in last     # nothing left after the last epoch
    assert any("test accuracy" in line for line in lines)


def test_json_summary_is_the_last_line_and_matches_summary_json(trained):
    out, result = trained
    summary = json.loads(result.stdout.splitlines()[-1])
    assert isinstance(summary["test_accuracy"], float) and 0 <= summary["test_accuracy"] <= 1
    assert isinstance(summary["test_loss"], float) and summary["test_loss"] > 0
    assert summary["images_per_s"] > 0 and summary["seconds"] > 0
    assert isinstance(summary["epochs"], (int, float)) and isinstance(summary["precision"], str)
    saved = json.loads((out / "summary.json").read_text())
    assert {k: v for k, v in summary.items() if k != "plot"} == saved


@pytest.mark.parametrize("error, line", [
    (ValueError("bad\nvalue"), "dfpengine info: error: bad; value"),
    (TypeError("not\nexpected"), "dfpengine info: error: internal error: TypeError: not; expected "
                                  "(set DFPENGINE_TRACEBACK=1 for the traceback)"),
])
def test_failures_exit_1_with_one_stderr_line(monkeypatch, capsys, error, line):
    from dfpengine import cli as cli_module
    from dfpengine.cli import info

    def fail(args):
        raise error
    monkeypatch.delenv("DFPENGINE_TRACEBACK", raising=False)
    monkeypatch.setattr(info, "run", fail)
    assert cli_module.main(["info"]) == 1
    assert capsys.readouterr().err.splitlines() == [line]


def test_resume_with_other_settings_exits_1(trained, tmp_path):
    out, _ = trained
    result = cli("train", "--out", out, "--resume", "--lr", "0.5", "--json")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot resume with different settings" in lines[0] and "lr" in lines[0]


def fake_run(folder, model, precision, accuracies):
    """A run directory as `dfpengine train` leaves it, with made-up metrics."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model": model, "dataset": "fashion-mnist",
                                                     "precision": precision}))
    records = [{"epoch": e + 1, "partial": False, "train_loss": 1.0 / (e + 1), "test_loss": 1.2 / (e + 1),
                "train_accuracy": a, "test_accuracy": a, "images_per_s": 100.0, "lr": 0.1}
               for e, a in enumerate(accuracies)]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def test_report_compares_six_runs_in_markdown_against_fp32(tmp_path):
    finals = {"fp32": 0.9, "dfp16": 0.895, "fp8": 0.9012, "hbfp8": 0.9, "hbfp4": 0.85, "boosters": 0.899}
    runs = [fake_run(tmp_path / "runs" / f"lenet5-{p}", "lenet5", p, [0.5, acc]) for p, acc in finals.items()]
    docs = tmp_path / "docs"
    docs.mkdir()
    result = cli("report", *runs, "--output", tmp_path / "runs" / "lenet5.png",
                 "--markdown", docs / "lenet5.md", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout.splitlines()[-1])
    assert [r["precision"] for r in rows] == list(finals)
    assert [round(r["delta_vs_fp32"], 2) for r in rows] == [0.0, -0.5, 0.12, 0.0, -5.0, -0.1]
    md = (docs / "lenet5.md").read_text().splitlines()
    table = [line for line in md if line.startswith("| lenet5-")]
    assert len(table) == 6 and "| lenet5-hbfp4 | lenet5 | hbfp4 | 2 | 85.00% | -5.00 |" in table[4]
    assert "![loss and accuracy per epoch](../runs/lenet5.png)" in md
    assert (tmp_path / "runs" / "lenet5.png").stat().st_size > 0


def test_accuracy_study_script_trains_reports_and_skips_finished_runs(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHON": sys.executable, "MODELS": "mlp",
           "PRECISIONS": "fp32 dfp16", "EPOCHS": "1", "BATCH": "50", "OUT": str(tmp_path / "study"),
           "DATASET": tiny_dataset(tmp_path / "tiny.npz"), "EXTRA": "--limit-train 60 --limit-test 10"}
    script = [str(ROOT / "scripts" / "accuracy_study.sh")]
    first = subprocess.run(script, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    study = tmp_path / "study"
    for precision in ("fp32", "dfp16"):
        summary = json.loads((study / f"mlp-{precision}" / "summary.json").read_text())
        assert summary["precision"] == precision and summary["steps"] == 2     # 60 images, batches of 50
        config = json.loads((study / f"mlp-{precision}" / "config.json").read_text())
        assert config["limit_train"] == 60 and config["limit_test"] == 10
    assert "| mlp-dfp16 | mlp | dfp16 |" in (study / "mlp.md").read_text()
    assert (study / "mlp.png").stat().st_size > 0
    (study / "mlp-dfp16" / "summary.json").unlink()          # as if killed after its last checkpoint
    again = subprocess.run(script, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "mlp fp32: finished earlier, skipped" in again.stdout
    assert "mlp dfp16: resuming" in again.stdout
    assert (study / "mlp-dfp16" / "summary.json").is_file()


def test_fresh_run_refuses_a_directory_holding_a_checkpoint(trained):
    out, _ = trained
    result = cli("train", "--max-steps", 1, "--out", out, "--json")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--resume" in lines[0] and str(out) in lines[0]


def test_limits_cut_the_data_set(tmp_path):
    from dfpengine.training import TrainConfig, build
    cfg = TrainConfig(dataset=tiny_dataset(tmp_path / "tiny.npz"), limit_train=30, limit_test=7)
    splits = build.load_data(cfg)
    assert len(splits.x_train) == len(splits.y_train) == 30 and len(splits.y_test) == 7
    with pytest.raises(ValueError, match="limit_train"):
        TrainConfig(limit_train=0)
