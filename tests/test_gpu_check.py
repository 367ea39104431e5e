"""benchmarks/gpu_check.sh and gpu_check.py: arguments, the plan, output parsing, the CPU-side path."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dcgan_tf import hardware

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_check)


def test_defaults_cover_both_sizes_both_precisions_with_and_without_xla():
    args = gpu_check.parse_args([])
    assert gpu_check.plan(args) == [(s, v) for s in (32, 64)
                                    for v in ("fp32", "fp32-xla", "bf16", "bf16-xla")]
    assert gpu_check.VARIANTS["bf16-xla"] == {"precision": "bf16", "jit": "on"}
    assert args.devices == [] and args.batch == 128


@pytest.mark.parametrize("argv, message", [
    (["--sizes", "48"], "--sizes takes 32 and 64"),
    (["--sizes", "a,b"], "comma list of integers"),
    (["--variants", "fp32,fp16"], "Unknown --variants ['fp16']"),
    (["--batch", "0"], "--batch must be >= 1"),
])
def test_bad_arguments_are_one_line_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        gpu_check.parse_args(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_rows_round_trip_with_their_ratios():
    text = "\n".join([
        "machine: ...",
        gpu_check.format_row(64, "fp32", 2, 1000.0, 1000.0),
        gpu_check.format_row(64, "bf16", 2, 2500.0, 1000.0),
        "serve size=64: ...",
        "gpu_check: replicas=2 fp32@64=1000.0 bf16@64=2500.0",
    ])
    rows = gpu_check.parse_rows(text)
    assert [(r["variant"], r["replicas"], r["img_s"]) for r in rows] == [
        ("fp32", 2, 1000.0), ("bf16", 2, 2500.0)]
    assert rows[1]["vs_fp32"] == pytest.approx(2.5) and rows[1]["per_replica"] == pytest.approx(1250.0)


def _script(*args, path=None):
    env = {**os.environ, "PATH": path or os.environ["PATH"]}
    return subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_script_without_a_driver_says_so_in_one_line(tmp_path):
    # A PATH with python and bash but no nvidia-smi.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("python", "bash", "dirname", "sed"):
        found = subprocess.run(["bash", "-c", f"command -v {tool}"], capture_output=True,
                               text=True).stdout.strip()
        (bin_dir / tool).symlink_to(found if tool != "python" else sys.executable)
    result = _script("--no-install", path=str(bin_dir))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "gpu_check.sh: no nvidia-smi: this machine has no NVIDIA driver; run it where GPUs are"]


def test_script_passes_its_arguments_on():
    result = _script("--no-install", "--dry-run", "--sizes", "64", "--variants", "bf16-xla")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["plan size=64 variant=bf16-xla batch/replica=128"]
    bad = _script("--no-install", "--dry-run", "--sizes", "16")
    assert bad.returncode == 2 and "--sizes takes 32 and 64" in bad.stderr


@pytest.mark.slow
def test_the_whole_check_runs_on_two_logical_cpus():
    # The GPU code path (MirroredStrategy over two devices, fit, export, serve) on CPU devices.
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--devices", "CPU:0,CPU:1",
         "--sizes", "32", "--variants", "fp32,bf16", "--width", "8", "--batch", "4", "--steps", "2",
         "--windows", "1", "--serve-steps", "4"],
        capture_output=True, text=True, timeout=900, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    rows = gpu_check.parse_rows(result.stdout)
    if hardware.bf16_runs(hardware.cpu_kind()):
        assert [(r["variant"], r["replicas"]) for r in rows] == [("fp32", 2), ("bf16", 2)]
    else:
        assert [(r["variant"], r["replicas"]) for r in rows] == [("fp32", 2)]
        assert "not run: bf16 (bf16 cannot run on this CPU, kind avx2)" in result.stdout
    assert rows[0]["vs_fp32"] == 1.0 and all(r["img_s"] > 0 for r in rows)
    assert "every signature ran" in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("gpu_check: replicas=2 fp32@32=")
