"""Each benchmark runs one tiny iteration, so they never rot (the figures come from real runs)."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(script, *args):
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", script), *args],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("machine: ")
    return proc.stdout


@pytest.mark.slow
def test_train_throughput_smoke():
    out = _run("train_throughput.py", "--size", "32", "--width", "8", "--batch", "8", "--steps", "2",
               "--warmup", "1", "--variants", "fp32,bf16", "--train-path", "--steps-per-epoch", "2")
    assert re.fullmatch(r"img/s=[\d.]+ gflops=[\d.]+ ceiling_ratio=[\d.]+", out.strip().splitlines()[-1])
    assert "train()" in out and "bf16" in out


@pytest.mark.slow
def test_serve_latency_smoke():
    out = _run("serve_latency.py", "--size", "32", "--width", "8", "--repeats", "2", "--batches", "1,4")
    assert "features p50" in out and len(out.strip().splitlines()[-1].split()) >= 10


@pytest.mark.slow
def test_probe_throughput_smoke():
    out = _run("probe_throughput.py", "--width", "8", "--images", "64", "--labels", "20",
               "--validation", "20", "--batch", "32", "--skip-primal")
    assert "feature extraction" in out and "fit_svm" in out


@pytest.mark.slow
def test_probe_all_labels_smoke():
    out = _run("probe_all_labels.py", "--train", "600", "--test", "200", "--features", "40",
               "--validation", "100", "--subset-train", "400", "--subset-features", "30")
    assert "liblinear / primal time" in out and "solver primal" in out and "peak RSS" in out
