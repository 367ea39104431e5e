"""Every command, run without TF_CPP_MIN_LOG_LEVEL, prints none of TensorFlow's start-up lines
(absl, oneDNN, cudart_stub, cpu_feature_guard, cuInit); `dcgan-tf --verbose` shows them.

Each command runs in a fresh process (TensorFlow prints them once per process, at import),
with a cheap invocation that imports TensorFlow; the wrapper reports that it did, so a
command that failed before importing it cannot pass by accident.
"""

import os
import re
import subprocess
import sys

import pytest

from dcgan_tf_cli.export import export as export_command
from dcgan_tf_cli.train import train as train_command

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOISE = re.compile(r"absl::InitializeLog|oneDNN custom operations|cudart_stub|cpu_feature_guard|"
                   r"rebuild TensorFlow|cuInit|cuda_platform|^[IWE]\d{4} \d\d:\d\d:\d\d")
_RUNNER = """
import sys
from dcgan_tf_cli.main import cli
try:
    cli(sys.argv[1:], prog_name="dcgan-tf")
finally:
    print("tensorflow imported:", "tensorflow" in sys.modules, file=sys.__stdout__, flush=True)
"""


def _has_option(command, flag):
    return any(flag in p.opts for p in command.params)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 32x32 grey run with one untrained checkpoint, and its export."""
    from dcgan_tf.config import ModelConfig, TrainConfig
    from dcgan_tf.export.savedmodel import export_savedmodel
    from dcgan_tf.training import checkpoint
    from dcgan_tf.training.run import build_gan

    root = tmp_path_factory.mktemp("noise")
    run, model_cfg = str(root / "run"), ModelConfig(image_size=32, channels=1, ngf=8, ndf=8)
    train_cfg = TrainConfig(out=run, batch_size=32, precision="fp32")
    checkpoint.write_run_config(run, model_cfg, train_cfg)
    checkpoint.save(build_gan(model_cfg, train_cfg), run, step=1, epoch=1)
    return root, run, export_savedmodel(run, base_path=str(root / "b"), name="m")


def _small_npz(root):
    import numpy as np

    path = str(root / "small.npz")
    np.savez(path, x=np.random.default_rng(0).integers(0, 256, (16, 32, 32, 3), np.uint8))
    return path


def _invocations(root, run, model):
    from dcgan_tf_cli.investigate import dedup

    out = str(root / "out")
    dedup_epochs = "--epochs" if _has_option(dedup, "--epochs") else "--ae-epochs"
    train_run = (["--out", str(root / "t")] if _has_option(train_command, "--out")
                 else [str(root / "t")])
    return {
        "train": ["train", *train_run, "--max-steps", "1", "--batch-size", "32", "--ngf", "8",
                  "--ndf", "8", "--image-size", "32", "--channels", "1", "--precision", "fp32"],
        "export": ["export", run, "--base-path", str(root / "b2")],
        "sample": ["sample", "--model", model, "--n", "1"],
        "score": ["score", "--model", model, "--dataset", "digits", "--n", "50"],
        "inspect": ["inspect", model],
        "interpolate": ["interpolate", "--model", model, "--out", out],
        "arithmetic": ["arithmetic", "--model", model, "--out", out, "--concept", "a=1",
                       "--concept", "b=2", "--expr", "a - b"],
        "nearest": ["nearest", "--model", model, "--out", out, "--n", "1"],
        "visualize": ["visualize", run, "--out", out],
        "forget": ["forget", run, "--out", out, "--n", "1"],
        "dedup": ["dedup", "--out", out, "--npz", _small_npz(root), dedup_epochs, "1"],
        "nn-classify": ["nn-classify", run, "--out", out],
        "explore": ["explore", "--model", os.path.join(run, "checkpoints")],
        "project": ["project", "--model", model, "--out", out, "--n", "10"],
        "probe": ["probe", "--model", model, "--dataset", "digits", "--labels", "100000"],
    }


def _run(args, cwd, verbose=False, level=None):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update({"TF_CPP_MIN_LOG_LEVEL": level} if level is not None else {})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    return subprocess.run([sys.executable, "-c", _RUNNER, *(["--verbose"] if verbose else []),
                           *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _check_quiet(result, command):
    assert "tensorflow imported: True" in result.stdout, (command, result.stdout[-2000:],
                                                          result.stderr[-2000:])
    noise = [ln for ln in result.stderr.splitlines() if NOISE.search(ln)]
    assert noise == [], (command, noise)


def test_export_prints_no_tensorflow_start_up_line_and_verbose_shows_them(tiny):
    root, run, model = tiny
    args = _invocations(root, run, model)["export"]
    _check_quiet(_run(args, root), "export")
    loud = _run(["export", run, "--base-path", str(root / "b3")], root, verbose=True)
    assert any(NOISE.search(ln) for ln in loud.stderr.splitlines()), loud.stderr[-2000:]


def test_a_users_own_log_level_hides_the_import_lines_and_keeps_its_errors(tiny):
    """TF_CPP_MIN_LOG_LEVEL=2 hides info and warnings, those of the import too; 0 shows all."""
    root, run, model = tiny
    quiet = _run(["export", run, "--base-path", str(root / "b4")], root, level="2")
    assert "tensorflow imported: True" in quiet.stdout, quiet.stderr[-2000:]
    below_errors = [ln for ln in quiet.stderr.splitlines()
                    if NOISE.search(ln) and not re.match(r"E\d{4} ", ln)]
    assert below_errors == [], below_errors
    loud = _run(["export", run, "--base-path", str(root / "b5")], root, level="0")
    assert any(re.match(r"I\d{4} ", ln) for ln in loud.stderr.splitlines()), loud.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("command", [
    "train", "sample", "score", "inspect", "interpolate", "arithmetic", "nearest", "visualize",
    "forget", "dedup", "nn-classify", "explore", "project", "probe"])
def test_every_command_prints_no_tensorflow_start_up_line(tiny, command):
    root, run, model = tiny
    _check_quiet(_run(_invocations(root, run, model)[command], root), command)
