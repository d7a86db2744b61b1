"""The profiler sees every layer and pass of a step, and stays out of the way when off."""
import json

import numpy as np
import pytest

import dfpengine
from dfpengine import nn, optim, profiler


def small_model():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))


def one_step(model, opt):
    x = dfpengine.from_numpy(np.random.default_rng(0).standard_normal((4, 3, 8, 8)).astype(np.float32))
    y = dfpengine.from_numpy(np.array([1, 2, 3, 4]))
    opt.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()


def test_profile_rows_cover_layers_and_passes():
    model = small_model()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with profiler.Profiler(model) as prof:
        one_step(model, opt)
        one_step(model, opt)
    rows = {(r["layer"], r["pass"], r["kind"]): r for r in prof.summary(steps=2)}
    # BatchNorm2d then ReLU in a Sequential run as one fused op, timed under the BatchNorm layer
    expected = {("0", "fprop", "conv"), ("0", "wtgrad", "conv"), ("1", "fprop", "batch_norm_relu"),
                ("1", "bprop", "batch_norm_relu"), ("3", "fprop", "pool"),
                ("5", "fprop", "linear"), ("5", "bprop", "linear"), ("5", "wtgrad", "linear"),
                ("optimizer", "update", "optimizer")}
    assert expected <= set(rows)
    # the first layer's input needs no gradient: no BPROP is computed for it
    assert ("0", "bprop", "conv") not in rows
    conv = rows[("0", "fprop", "conv")]
    assert conv["ops"] == 2 * 4 * 8 * 8 * 8 * 3 * 3 * 3
    assert conv["calls"] == 1 and conv["seconds"] > 0 and conv["gops"] > 0


def test_chrome_trace_is_json_with_complete_events():
    model = small_model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with profiler.Profiler(model) as prof:
        one_step(model, opt)
    trace = json.loads(json.dumps(prof.chrome_trace()))
    events = trace["traceEvents"]
    assert events and all(e["ph"] == "X" and e["dur"] >= 0 for e in events)
    assert any(e["name"] == "0 fprop" for e in events)


def test_off_records_nothing():
    assert profiler.scope() is None
    model = small_model()
    prof = profiler.Profiler(model)
    one_step(model, optim.SGD(model.parameters(), lr=0.1))
    assert prof.events == []


def test_nested_profilers_rejected():
    with profiler.Profiler():
        with pytest.raises(RuntimeError, match="already active"):
            with profiler.Profiler():
                pass


def test_profile_command_json(tmp_path):
    import subprocess
    import sys
    trace = tmp_path / "trace.json"
    env = dict(__import__("os").environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, "-m", "dfpengine.cli", "profile", "--model", "lenet5",
                          "--precision", "dfp16", "--batch-size", "8", "--steps", "1", "--warmup", "1", "--json",
                          "--trace", str(trace)], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert lines[0]["record"] == "step" and lines[0]["images_per_s"] > 0
    rows = [r for r in lines if r["record"] == "row"]
    convs = [r for r in rows if r["kind"] == "conv" and r["pass"] == "wtgrad"]
    assert convs and all(r["flushes"] > 0 for r in convs if r["ops"] > 0)
    assert json.loads(trace.read_text())["traceEvents"]


def test_dfp16_quantisation_is_its_own_row():
    """A DFP16 conv's FP32 -> INT16 passes are timed inside the native call and
    reported as kind "quantize", taken out of the conv row; an FP32 conv has none."""
    from dfpengine import precision
    for preset, quantized in (("dfp16", True), ("fp32", False)):
        model = small_model()
        opt = optim.SGD(model.parameters(), lr=0.1)
        with precision.preset(preset), profiler.Profiler(model) as prof:
            one_step(model, opt)
        rows = {(r["layer"], r["pass"], r["kind"]): r for r in prof.summary()}
        fprop_q = rows.get(("0", "fprop", "quantize"))
        if not quantized:
            assert not any(kind == "quantize" for _, _, kind in rows)
            continue
        assert fprop_q and fprop_q["seconds"] > 0 and fprop_q["ops"] == 0
        # x (4x3x8x8) and w (8x3x3x3) read as FP32, written as int16
        assert fprop_q["bytes"] == profiler.QUANTIZE_BYTES_PER_ELEMENT * (4 * 3 * 8 * 8 + 8 * 3 * 3 * 3)
        assert ("0", "wtgrad", "quantize") in rows and rows[("0", "fprop", "conv")]["seconds"] > 0
        events = [e for e in prof.events if e[0][0] == "0" and e[0][1] == "fprop"]
        (q_key, q0, q1, *_), (c_key, c0, c1, *_) = events
        assert q_key[2] == "quantize" and c_key[2] == "conv" and q1 == c0 and q0 < q1 < c1
