"""Checkpoints: file format, atomic writes, corruption detection, and exact resume after a signal."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from dfpengine import checkpoint

ROOT = Path(__file__).resolve().parents[1]


def test_round_trip_keeps_names_dtypes_and_structure(tmp_path):
    weights = {"conv1.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
               "bn1.num_batches_tracked": np.array(7, np.int64)}
    rng = np.random.default_rng(5)
    state = {"optimizer": {"state": {0: {"momentum_buffer": np.ones(3, np.float32)}},
                           "param_groups": [{"lr": 0.1, "params": [0, 1]}]},
             "rng": rng.bit_generator.state, "position": (2, 3), "none": None}
    checkpoint.save(tmp_path, weights, state)
    on_disk = load_file(str(tmp_path / "model.safetensors"))     # what PyTorch users read
    assert on_disk.keys() == weights.keys() and on_disk["bn1.num_batches_tracked"].shape == ()
    loaded_weights, loaded = checkpoint.load(tmp_path)
    for k in weights:
        np.testing.assert_array_equal(loaded_weights[k], weights[k])
        assert loaded_weights[k].dtype == weights[k].dtype
    assert list(loaded["optimizer"]["state"]) == [0]        # integer keys survive JSON
    np.testing.assert_array_equal(loaded["optimizer"]["state"][0]["momentum_buffer"], np.ones(3))
    assert loaded["rng"] == rng.bit_generator.state and loaded["position"] == (2, 3)
    assert sorted(os.listdir(tmp_path)) == ["model.safetensors", "state.json", "state.npz"]


def test_mismatched_or_missing_files_are_reported(tmp_path):
    checkpoint.save(tmp_path, {"w": np.zeros(2, np.float32)}, {"step": 1})
    checkpoint.save(tmp_path / "other", {"w": np.ones(2, np.float32)}, {"step": 2})
    os.replace(tmp_path / "other" / "model.safetensors", tmp_path / "model.safetensors")
    with pytest.raises(checkpoint.CheckpointError, match="model.safetensors: content does not match"):
        checkpoint.load(tmp_path)
    with pytest.raises(checkpoint.CheckpointError, match="missing from checkpoint"):
        checkpoint.load(tmp_path / "other")
    with pytest.raises(checkpoint.CheckpointError, match="not a checkpoint"):
        checkpoint.load(tmp_path / "nowhere")


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "f.bin"
    checkpoint.atomic_write(target, b"old")

    def broken_fsync(fd):
        raise OSError("disk full")
    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.atomic_write(target, b"new")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["f.bin"]


# ------------------------------------------------------------ exact resume
def small_dataset(path):
    """512 training images of the bundled set: short epochs that still train a real CNN."""
    from dfpengine import data
    splits = data.load("fashion-mnist-small")
    np.savez(path, x_train=splits.x_train[:512], y_train=splits.y_train[:512],
             x_test=splits.x_test[:100], y_test=splits.y_test[:100])


def train_command(dataset, out, model, precision, *extra):
    return [sys.executable, "-m", "dfpengine.cli", "train", "--model", model, "--dataset", dataset,
            "--precision", precision, "--epochs", "3", "--batch-size", "32", "--threads", "1",
            "--seed", "3", "--out", str(out), "--json", *extra]


def wait_for_first_epoch(proc, metrics, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if metrics.is_file() and metrics.read_text().strip():
            return
        time.sleep(0.005)
    pytest.fail(f"no epoch finished before exit or timeout (rc {proc.poll()})")


# dfp16 rounds gradients stochastically, hbfp4 every GEMM operand: their random draws must
# depend on the training position only, not on how many GEMMs the process ran before.
# (hbfp4 convs run through numpy im2col, slow: the MLP keeps that case short; the test below
# covers hbfp4 convs in one process.)
@pytest.mark.parametrize("model, precision", [("lenet5", "fp32"), ("lenet5", "dfp16"), ("mlp", "hbfp4")])
def test_signal_then_resume_is_bit_identical_to_uninterrupted(tmp_path, model, precision):
    dataset = f"npz:{tmp_path / 'small.npz'}"
    small_dataset(tmp_path / "small.npz")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    straight = subprocess.run(train_command(dataset, tmp_path / "straight", model, precision), env=env, cwd=ROOT,
                              capture_output=True, text=True)
    assert straight.returncode == 0, straight.stderr

    proc = subprocess.Popen(train_command(dataset, tmp_path / "cut", model, precision), env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_first_epoch(proc, tmp_path / "cut" / "metrics.jsonl")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "checkpoint" in err and "--resume" in err
    interrupted_at = checkpoint.load(tmp_path / "cut")[1]["position"]["step"]
    assert 0 < interrupted_at < 48

    resumed = subprocess.run(train_command(dataset, tmp_path / "cut", model, precision, "--resume"), env=env,
                             cwd=ROOT, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    a = load_file(str(tmp_path / "straight" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].tobytes() == b[k].tobytes(), k
    summary_a, summary_b = (json.loads(r.stdout.splitlines()[-1]) for r in (straight, resumed))
    assert summary_a["steps"] == summary_b["steps"] == 48
    assert summary_a["test_accuracy"] == summary_b["test_accuracy"]
    metrics = [[json.loads(line) for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
               for run in ("straight", "cut")]
    timing_free = [[{k: v for k, v in r.items() if k not in ("images_per_s", "train_seconds")} for r in m] for m in metrics]
    assert timing_free[0] == timing_free[1]


@pytest.mark.parametrize("precision", ["dfp16", "hbfp4"])
def test_stochastic_draws_depend_on_step_not_on_process_history(precision):
    """What makes the resume above exact, in one process: a training step's gradients are the
    same whatever the glue's call counters hold (a resumed process has run fewer GEMMs), and
    they change with the step (so the draws matter, and a resume drawing the wrong ones fails)."""
    import dfpengine
    from dfpengine import model_zoo, nn
    from dfpengine import precision as prec
    from dfpengine._native import _int, _lowp_streams

    dfpengine.manual_seed(1)
    net = nn.utils.assign_layer_roles(model_zoo.create("lenet5", 10, 1, 28))
    rng = np.random.default_rng(0)
    x = dfpengine.from_numpy(rng.standard_normal((8, 1, 28, 28)).astype(np.float32))
    y = dfpengine.from_numpy(rng.integers(0, 10, 8))

    def gradients(step, counters):
        _int._stream[0] = counters
        _lowp_streams.reset(counters)
        policy = prec.preset(precision)
        with policy:
            policy.set_progress(step=step)
            net.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
        return [p.grad.numpy().tobytes() for p in net.parameters()]

    at_5 = gradients(5, counters=0)
    assert gradients(5, counters=123457) == at_5
    assert gradients(6, counters=0) != at_5
