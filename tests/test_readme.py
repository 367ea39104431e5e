"""The README's copy-paste blocks, run as a newcomer runs them in a fresh clone: every shell line
of the quick start and of "Your own images" (on a folder of PNGs and on the .npz it makes), in a
directory holding nothing else, with flags that make training and the read-outs tiny; the install,
GPU and server lines are accounted for instead of run."""

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"```(\w*)\n(.*?)```", re.S)

# What each README section's shell blocks need; a section not named here fails the test below,
# so a new copy-paste block is either run or says why not.
RUN = ("Quick start", "Your own images")
NOT_RUN = {
    "dcgan-tf": "the install and test one-liners: the suite itself is their check",
    "Install": "clones and installs: CI's .ci/run installs the project the same way",
    "GPUs": "needs NVIDIA GPUs and CIFAR-10's files (benchmarks/gpu_check.sh)",
    "Serve with TF Serving": "installs and starts tensorflow_model_server (not a pip package)",
}
# Appended to each `dcgan-tf COMMAND` line: the same commands, on a tiny budget.
TINY = {
    "train": ["--max-steps", "2"],
    "probe": ["--labels", "100", "--validation", "200", "--repeats", "2", "--c-grid", "0.1"],
    "score": ["--classifier-epochs", "1", "--kid-subsets", "10", "--kid-subset-size", "100"],
}


def _sections():
    """`{heading: [shell block, ...]}` of the README, the title's section under its name."""
    found, heading = {}, "dcgan-tf"
    for part in re.split(r"^(#+ .*)$", README, flags=re.M):
        if re.match(r"#+ ", part):
            heading = part.lstrip("#").strip()
            continue
        found.setdefault(heading, []).extend(
            block for lang, block in FENCE.findall(part) if lang in ("bash", "sh", "shell"))
    return {name: blocks for name, blocks in found.items() if blocks}


def _tiny(block):
    """The block with TINY's flags added to each `dcgan-tf` command, before its comment."""
    lines = []
    for line in block.splitlines():
        words = line.split()
        if len(words) > 1 and words[0] == "dcgan-tf" and words[1] in TINY:
            command, sep, comment = line.partition("  #")
            line = " ".join([command.rstrip(), *TINY[words[1]]]) + (f"  {sep.strip()}{comment}" if sep else "")
        lines.append(line)
    return "\n".join(lines)


def _png_folder(folder, count=160):
    """`count` PNGs of assorted sizes and modes, as a camera roll would hold."""
    from PIL import Image

    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        h, w = (48, 80) if i % 3 == 0 else (96, 64) if i % 3 == 1 else (64, 64)
        pixels = rng.integers(0, 256, (h, w, 3), np.uint8)
        image = Image.fromarray(pixels)
        (image.convert("L") if i % 5 == 0 else image).save(folder / f"img{i:03d}.png")


def _run_blocks(blocks, cwd, tmp_path):
    """Runs the blocks as one bash script in `cwd`, `dcgan-tf` being this Python's command."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "dcgan-tf"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} -c "
                      "'import sys; from dcgan_tf_cli.main import main; sys.argv[0] = \"dcgan-tf\"; main()' \"$@\"\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "DCGAN_TF_CACHE": str(tmp_path / "cache"), "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    text = "set -euo pipefail\n" + "\n".join(_tiny(block) for block in blocks)
    result = subprocess.run(["bash", "-c", text], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=840)
    assert result.returncode == 0, f"{text}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    return result.stdout


def test_every_shell_block_is_run_or_accounted_for():
    sections = _sections()
    assert set(sections) == set(RUN) | set(NOT_RUN), sorted(sections)
    assert all(sections[name] for name in RUN)


def test_install_names_the_python_and_extras_setup_py_declares():
    setup = (ROOT / "setup.py").read_text(encoding="utf-8")
    version = re.search(r'python_requires=">=(\d+\.\d+)"', setup).group(1)
    assert f"Python {version} or newer" in README
    for extra in re.findall(r"\| `\[(\w+)\]` \|", README):
        assert re.search(rf'^\s*"{extra}": ', setup, re.M), extra
    assert set(re.findall(r"\| `\[(\w+)\]` \|", README)) == {"cuda", "portable", "explore", "test"}


def test_the_probe_output_shown_is_a_recorded_run():
    import json

    shown = README.split("```text\n")[1].split("```")[0]
    std, accuracy, seconds = (float(v) for v in re.search(
        r"test error [\d.]+% \+- ([\d.]+)%  \(accuracy ([\d.]+)%\)  in ([\d.]+)s", shown).groups())
    labels = re.search(r"on digits: (\d+) labels", shown).group(1)
    held = []
    for path in (ROOT / "benchmarks" / "results").glob("*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        figures = record["figures"]
        if record["what"] == "quality" and record.get("dataset") == "digits":
            held.append((figures.get(f"probe_accuracy_{labels}"), figures.get(f"probe_accuracy_{labels}_std"),
                         round(figures.get("probe_seconds", -1), 1)))
    assert (accuracy, std, seconds) in held, held


@pytest.mark.slow
def test_quick_start_and_own_images_run_as_written(tmp_path):
    import keras

    clone = tmp_path / "clone"
    clone.mkdir()
    sections = _sections()
    out = _run_blocks(sections["Quick start"], clone, tmp_path)

    run, version = clone / "runs" / "digits", clone / "savedmodels" / "digits" / "1"
    for name in ("config.json", "metrics.jsonl", "checkpoints", "samples"):
        assert (run / name).exists(), name
    for name in ("saved_model.pb", "README.md", "assets.extra/generator.keras",
                 "assets.extra/discriminator.keras"):
        assert (version / name).exists(), name
    assert (clone / "savedmodels" / "models.config").is_file()
    assert (clone / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (run / "probe.json").is_file() and (run / "score.json").is_file()
    assert any((tmp_path / "cache").rglob("*")), "probe/score left nothing in the cache"
    # The probe prints the table the README shows after the block.
    shown = README.split("```text\n")[1].split("```")[0].splitlines()
    header = next(line for line in shown if line.startswith("draw"))
    assert header in out.splitlines()
    # The feature width shown is today's default run's (the tiny probe draws fewer labels).
    width = re.search(r"feature_dim \d+$", shown[0]).group(0)
    assert re.search(rf"^dcgan probe on digits: .*{width}$", out, re.M), width
    assert re.search(r"^test error [\d.]+% \+- [\d.]+%  \(accuracy [\d.]+%\)  in [\d.]+s$", out, re.M)
    # The line the README gives for plain Keras opens the file.
    call = re.search(r'`(keras\.saving\.load_model\("[^"]+"\))`', README).group(1)
    cwd = os.getcwd()
    try:
        os.chdir(clone)
        generator = eval(call, {"keras": keras})  # noqa: S307 - the README's own line
    finally:
        os.chdir(cwd)
    assert generator.output_shape[1:] == (32, 32, 1)
    # "Reports written into the run directory are listed in the next export's model card."
    _run_blocks(["dcgan-tf export runs/digits\n"], clone, tmp_path)
    card = (clone / "savedmodels" / "digits" / "2" / "README.md").read_text(encoding="utf-8")
    assert "| probe (dcgan) | digits | accuracy" in card and "| score | digits |" in card

    own = tmp_path / "own"
    own.mkdir()
    _png_folder(own / "my_images")
    _run_blocks(sections["Your own images"], own, tmp_path)
    faces = own / "savedmodels" / "faces" / "1"
    assert (faces / "saved_model.pb").is_file() and (faces / "assets.extra" / "generator.keras").is_file()
    assert (own / "runs" / "faces" / "checkpoints").is_dir()
    assert (own / "mine.npz").is_file() and (own / "runs" / "mine" / "checkpoints").is_dir()
