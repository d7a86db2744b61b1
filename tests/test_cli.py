"""`dfpengine train / eval / report` end to end in subprocesses: exit codes, files, JSON."""
import json
import os
import subprocess
import sys
from pathlib import Path

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
