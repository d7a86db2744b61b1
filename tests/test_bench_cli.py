"""`dfpengine bench`: the JSON the issues' checks read (keys, units, consistency) and
usage errors. Tiny shapes and one step: these check the plumbing, never speed."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def bench(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "dfpengine.cli", "bench", *map(str, args)],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


def json_lines(result):
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_gemm_reports_gops_percent_of_peak_and_sgemm_of_the_same_shapes():
    rows = json_lines(bench("gemm", "--json", "--precision", "dfp16", "--threads", 1, 2, "--repeats", 1,
                            "--shape", 64, 48, 96, "--shape", 33, 17, 70))
    assert [(r["threads"], r["m"], r["n"], r["k"]) for r in rows] == [
        (1, 64, 48, 96), (1, 33, 17, 70), (2, 64, 48, 96), (2, 33, 17, 70)]
    for r in rows:
        assert r["precision"] == "dfp16" and r["peak_source"] == "measured"
        assert r["gops"] > 0 and r["fp32_gflops"] > 0 and r["peak_gops"] > 0
        assert r["percent_of_peak"] == pytest.approx(100 * r["gops"] / r["peak_gops"], rel=0.02, abs=0.1)
        # the integer GEMM alone on int16 operands, same shape, same run
        assert r["int16_gops"] > 0
        assert r["int16_percent_of_peak"] == pytest.approx(100 * r["int16_gops"] / r["peak_gops"], rel=0.02, abs=0.1)
        assert r["int16_over_fp32"] == pytest.approx(r["int16_gops"] / r["fp32_gflops"], rel=0.02, abs=0.01)
        # the peak measured just before and after the int16 repeats
        assert r["peak_same_run_gops"] > 0
        assert r["int16_percent_of_peak_same_run"] == pytest.approx(
            100 * r["int16_gops"] / r["peak_same_run_gops"], rel=0.02, abs=0.1)


def test_gemm_percent_uses_a_given_per_core_peak():
    (row,) = json_lines(bench("gemm", "--json", "--threads", 2, "--repeats", 1, "--shape", 32, 32, 32,
                              "--vnni-peak", 100))
    assert row["peak_gops"] == 200 and row["peak_source"] == "given"
    assert "peak_same_run_gops" not in row  # a given peak is not measured


@pytest.mark.parametrize("args", [["gemm", "--precision", "fp8"], ["gemm", "--shape", 0, 4, 4],
                                  ["train", "--model", "resnet21"]])
def test_bad_bench_arguments_exit_2(args):
    result = bench(*args)
    assert result.returncode == 2 and "usage:" in result.stderr, result.stderr


def test_train_prints_one_object_per_configuration_and_ratios():
    rows = json_lines(bench("train", "--json", "--model", "lenet5", "--precision", "fp32", "dfp16",
                            "--threads", 1, "--steps", 1, "--warmup", 0, "--repeats", 2, "--batch-size", 8,
                            "--no-torch"))
    configs = [r for r in rows if r.get("kind") != "ratio"]
    assert [(r["engine"], r["model"], r["precision"], r["layout"], r["threads"], r["batch"])
            for r in configs] == [("dfpengine", "lenet5", p, "NCHW", 1, 8) for p in ("fp32", "dfp16")]
    for r in configs:
        assert len(r["images_per_s_runs"]) == 2 and r["images_per_s"] > 0
    ratios = {r["precision"]: r for r in rows if r.get("kind") == "ratio"}
    assert ratios["fp32"]["step_time_vs_fp32"] == 1.0
    assert ratios["dfp16"]["step_time_vs_fp32"] == pytest.approx(
        configs[0]["images_per_s"] / configs[1]["images_per_s"], rel=0.01)


def test_train_ratios_pair_repeats():
    """Ratios to PyTorch: of the medians, and paired (median over repeats of the ratio to
    the best peer of the same repeat), which a slow repeat affecting both sides leaves alone."""
    from dfpengine.benchmarks import train_step

    def row(engine, precision, layout, runs):
        return dict(engine=engine, model="resnet20", precision=precision, layout=layout, threads=2,
                    images_per_s=sorted(runs)[len(runs) // 2], images_per_s_runs=runs)
    results = [row("dfpengine", "fp32", "NCHW", [100.0, 50.0, 100.0]),
               row("dfpengine", "dfp16", "NCHW", [150.0, 60.0, 140.0]),
               row("pytorch", "fp32", "NCHW", [80.0, 40.0, 70.0]),
               row("pytorch", "fp32", "channels_last", [100.0, 30.0, 110.0]),
               row("pytorch", "bf16", "NCHW", [50.0, 25.0, 55.0])]
    by = {r["precision"]: r for r in train_step.ratios(results)}
    assert by["dfp16"]["vs_pytorch_best_fp32"] == pytest.approx(140 / 100, abs=1e-3)
    # per repeat: 150/100, 60/40, 140/110 -> median 1.5
    assert by["dfp16"]["vs_pytorch_best_fp32_paired"] == pytest.approx(1.5, abs=1e-3)
    assert by["fp32"]["vs_pytorch_best_bf16_paired"] == pytest.approx(2.0, abs=1e-3)  # 2, 2, 1.82
    assert by["dfp16"]["step_time_vs_fp32"] == pytest.approx(100 / 140, abs=1e-3)
