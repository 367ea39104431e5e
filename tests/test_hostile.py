"""Nothing lost, nothing half-published (issue 37): links resolved before every inside/outside
check, destinations checked before the work, portable versions published whole, and the cases
a hostile or unlucky user tries. docs/guarantees.md lists each guarantee with its test."""

import os
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from dcgan_tf_cli.export import export as export_command
from dcgan_tf_cli.main import cli
from dcgan_tf.config import ModelConfig, TrainConfig
from dcgan_tf.training import checkpoint
from dcgan_tf.training.run import build_gan

TINY = ModelConfig(image_size=32, channels=1, ngf=8, ndf=8)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The portable folder's flag (`--out` before the option renames, `--portable-dir` after).
PORTABLE_DIR = next(o for p in export_command.params if p.name in ("portable_dir", "out")
                    for o in p.opts if o.startswith("--"))


def _cfg(out, **kw):
    return TrainConfig(out=str(out), **{"batch_size": 32, "precision": "fp32", **kw})


def _save_untrained(run_dir, step=1):
    gan = build_gan(TINY, _cfg(run_dir))
    checkpoint.write_run_config(str(run_dir), TINY, _cfg(run_dir))
    checkpoint.save(gan, str(run_dir), step=step, epoch=1)
    return str(run_dir)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return _save_untrained(tmp_path_factory.mktemp("hostile") / "run")


def _error(result):
    """The one error line of a failed command (no traceback)."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def _visible(root):
    """Every path under `root` without a hidden component."""
    found = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [os.path.relpath(os.path.join(directory, n), root)
                  for n in dirs + files if not n.startswith(".")]
    return sorted(found)


def _hidden(root):
    return sorted(os.path.relpath(os.path.join(d, n), root) for d, dirs, files in os.walk(root)
                  for n in dirs + files if n.startswith((".tmp-", ".old-", ".overwrite-", ".work-")))


# Finding 1: every inside/outside check resolves links.

def test_symlinked_base_path_into_a_runs_checkpoints_is_refused(run, tmp_path):
    link = tmp_path / "linkbase"
    link.symlink_to(os.path.join(run, "checkpoints"))
    before = sorted(os.listdir(os.path.join(run, "checkpoints")))
    line = _error(CliRunner().invoke(cli, ["export", run, "--base-path", str(link), "--name", "x"]))
    assert "outside run directories" in line and "resolves to" in line, line
    assert sorted(os.listdir(os.path.join(run, "checkpoints"))) == before


def test_symlinked_portable_folder_into_a_run_is_refused(run, tmp_path):
    link = tmp_path / "linkout"
    link.symlink_to(run)
    line = _error(CliRunner().invoke(cli, [
        "export", run, "--format", "onnx", PORTABLE_DIR, str(link / "p"),
        "--base-path", str(tmp_path / "b")]))
    assert "outside run directories" in line, line
    assert not os.path.exists(os.path.join(run, "p"))


def test_symlinked_cache_dir_into_a_runs_checkpoints_is_refused(run, tmp_path):
    link = tmp_path / "linkcache"
    link.symlink_to(os.path.join(run, "checkpoints"))
    result = CliRunner().invoke(cli, [
        "probe", "--dataset", "digits", "--baseline", "pixels", "--labels", "100",
        "--validation", "200", "--repeats", "1", "--quiet", "--cache-dir", str(link)])
    line = result.output.strip().splitlines()[-1]
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "--cache-dir outside" in line and "checkpoints" in line, line


def test_symlinked_json_report_into_a_runs_checkpoints_is_refused_before_work(run, tmp_path):
    link = tmp_path / "linkdir"
    link.symlink_to(os.path.join(run, "checkpoints"))
    line = _error(CliRunner().invoke(cli, [
        "probe", "--dataset", "digits", "--baseline", "pixels", "--labels", "100",
        "--validation", "200", "--repeats", "1", "--quiet", "--no-cache",
        "--json", str(link / "r.json")]))
    assert "outside" in line and "checkpoints" in line, line
    assert not os.path.exists(os.path.join(run, "checkpoints", "r.json"))


def test_a_json_report_written_through_a_link_lands_in_its_target(tmp_path):
    from dcgan_tf.atomic import check_writable, save_json

    target, link = tmp_path / "reports" / "r.json", tmp_path / "r.json"
    target.parent.mkdir()
    target.write_text("{}")
    link.symlink_to(target)
    check_writable(str(link))
    save_json(str(link), {"a": 1})
    assert link.is_symlink() and '"a": 1' in target.read_text()


def test_symlinked_run_dir_inside_another_run_is_refused(run, tmp_path):
    from dcgan_tf.training.run import train

    link = tmp_path / "linkrun"
    link.symlink_to(os.path.join(run, "checkpoints"))
    with pytest.raises(ValueError, match="run directory outside other runs.*resolves to"):
        train(_cfg(link / "inner", max_steps=1), TINY, verbose=0)
    assert not os.path.exists(os.path.join(run, "checkpoints", "inner"))


# Finding 4: every destination is checked before the work; a failed command publishes nothing.

@pytest.fixture
def read_only_dir(tmp_path):
    """A directory no one may write: a read-only tmpfs as root, else mode 0555."""
    path = tmp_path / "ro"
    path.mkdir()
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)],
                                 capture_output=True)
        if mounted.returncode:
            pytest.skip(f"cannot mount a read-only tmpfs: {mounted.stderr.decode().strip()}")
        try:
            yield path
        finally:
            subprocess.run(["umount", "-l", str(path)], check=False)
    else:
        path.chmod(0o555)
        yield path
        path.chmod(0o755)


def test_read_only_portable_folder_fails_before_the_savedmodel_is_published(run, tmp_path,
                                                                          read_only_dir):
    base = tmp_path / "b"
    line = _error(CliRunner().invoke(cli, [
        "export", run, "--format", "savedmodel,onnx", PORTABLE_DIR, str(read_only_dir / "p"),
        "--base-path", str(base), "--name", "m"]))
    assert line.startswith(f"Error: Cannot write {read_only_dir / 'p'}") and "not writable" in line
    assert not base.exists() or _visible(base) == []


def test_read_only_base_path_fails_before_any_work(run, read_only_dir):
    line = _error(CliRunner().invoke(cli, ["export", run, "--base-path", str(read_only_dir)]))
    assert "not writable" in line, line


def test_train_into_a_read_only_directory_fails_before_any_work(read_only_dir):
    line = _error(CliRunner().invoke(cli, _train_args(read_only_dir / "r")))
    assert line.startswith(f"Error: Cannot write {read_only_dir / 'r'}") and "not writable" in line


def test_a_resume_without_room_for_a_checkpoint_is_refused_before_training(tmp_path,
                                                                          monkeypatch):
    from dcgan_tf import atomic
    from dcgan_tf.training.run import train

    run_dir = _save_untrained(tmp_path / "r")
    before = checkpoint.list_checkpoints(run_dir)
    monkeypatch.setattr(atomic, "free_bytes", lambda path: 1000)
    with pytest.raises(OSError, match=f"^No space left on device writing {run_dir}: it needs "
                                      r"about \d+\.\d MB free \(0\.0 MB free now\)"):
        train(_cfg(run_dir, max_steps=3), TINY, verbose=0)
    assert checkpoint.list_checkpoints(run_dir) == before


def test_a_failing_portable_stage_publishes_no_savedmodel(run, tmp_path, monkeypatch):
    from dcgan_tf.export import portable

    def broken(*args):
        raise ValueError("ONNX conversion left ops outside the ONNX domain: Foo")

    monkeypatch.setattr(portable, "_convert", broken)
    base = tmp_path / "b"
    line = _error(CliRunner().invoke(cli, [
        "export", run, "--format", "savedmodel,onnx", "--base-path", str(base), "--name", "m"]))
    assert "ONNX domain" in line
    assert _visible(base) == [] and _hidden(base) == []


def test_too_little_space_for_the_portable_folder_is_refused_before_work(run, tmp_path,
                                                                        monkeypatch):
    from dcgan_tf import atomic

    monkeypatch.setattr(atomic, "free_bytes", lambda path: 1000)
    base = tmp_path / "b"
    line = _error(CliRunner().invoke(cli, [
        "export", run, "--format", "savedmodel,web", "--base-path", str(base), "--name", "m"]))
    assert line.startswith(f"Error: No space left on device writing {base / 'm'}"), line
    assert not base.exists() or _visible(base) == []


# Finding 5: a portable version is published whole; a kill leaves no visible half folder.

_KILLED_PORTABLE = """
import os, signal, sys
from dcgan_tf import atomic
from dcgan_tf.export import portable, web
from dcgan_tf_cli.main import cli

where = sys.argv[3]

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if where == "convert":
    portable._convert = die
elif where == "page":
    web.write_page = die
elif where == "publish":
    publish = atomic.publish_dir
    def publish_or_die(tmp, final, **kw):
        if "-portable" in final:
            die()
        return publish(tmp, final, **kw)
    atomic.publish_dir = publish_or_die
cli(["export", sys.argv[1], "--format", "savedmodel,onnx,web", "--base-path", sys.argv[2],
     "--name", "m"], prog_name="dcgan-tf")
"""


@pytest.mark.slow
@pytest.mark.parametrize("where", ["convert", "page", "publish"])
def test_kill_during_the_portable_stage_leaves_no_visible_half_folder(run, tmp_path, where):
    from dcgan_tf.export.bundle import export_formats

    base = tmp_path / "b"
    child = subprocess.run([sys.executable, "-c", _KILLED_PORTABLE, run, str(base), where],
                           cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    # Neither the SavedModel version nor a portable version is visible.
    assert [p for p in _visible(base) if p.split(os.sep)[-1].isdigit()] == [], _visible(base)
    # The next export cleans up and publishes whole versions.
    path, written = export_formats(run, ("savedmodel", "onnx"), base_path=str(base), name="m")
    assert path.endswith(os.path.join("m", "1")) and sorted(written) == ["onnx"]
    assert _hidden(base) == [], _hidden(base)
    assert sorted(os.listdir(base / "m-portable" / "1" / "onnx")) == [
        "contract.json", "features.onnx", "generator.onnx"]


# Not yet tried before: an export over an existing portable version.

@pytest.mark.slow
def test_an_export_over_an_existing_portable_version(run, tmp_path):
    from dcgan_tf.export.bundle import export_formats
    from dcgan_tf.export.config import ExportConfig

    base = str(tmp_path / "b")
    export_formats(run, ("savedmodel", "tflite"), base_path=base, name="m")
    version = os.path.join(base, "m-portable", "1")
    marker = os.path.join(version, "tflite", "generator.tflite")
    before = os.stat(marker).st_mtime_ns
    # Adding a format keeps the one there, without --overwrite.
    export_formats(run, ("onnx",), base_path=base, name="m", version=1)
    assert sorted(os.listdir(version)) == ["onnx", "tflite"]
    assert os.stat(marker).st_mtime_ns == before
    # Replacing one needs --overwrite, and then keeps the others.
    with pytest.raises(ValueError, match="already exists. Pass --overwrite"):
        export_formats(run, ("onnx",), base_path=base, name="m", version=1)
    export_formats(run, ("onnx",), base_path=base, name="m", version=1,
                   config=ExportConfig(overwrite=True))
    assert sorted(os.listdir(version)) == ["onnx", "tflite"]
    assert _hidden(base) == []
    # A folder holding something else is not taken over.
    other = tmp_path / "notes"
    other.mkdir()
    (other / "todo.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds 'todo.txt'"):
        export_formats(run, ("onnx",), base_path=base, name="m", out=str(other))


# Also seen: a 300-character name; `project --n` above the split's size.

def test_a_300_character_name_is_one_line_naming_the_bound(run, tmp_path):
    result = CliRunner().invoke(cli, ["export", run, "--base-path", str(tmp_path / "b"),
                                      "--name", "a" * 300])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    line = result.output.strip().splitlines()[-1]  # Refused at parse time, after Click's usage.
    assert "Errno" not in line and ("200" in line), line
    assert not (tmp_path / "b").exists() or _visible(tmp_path / "b") == []


def test_a_file_name_near_the_filesystems_limit_is_written_and_a_longer_one_refused(tmp_path):
    from dcgan_tf.atomic import check_dir_writable, check_writable, save_json

    near = tmp_path / ("r" * 250 + ".json")  # 255 bytes: its temporary name must fit too.
    check_writable(str(near))
    save_json(str(near), {"a": 1})
    assert '"a": 1' in near.read_text() and sorted(os.listdir(tmp_path)) == [near.name]
    for check, path in ((check_writable, tmp_path / ("r" * 300 + ".json")),
                        (check_dir_writable, tmp_path / ("d" * 300) / "inner")):
        with pytest.raises(ValueError, match=r"^Expected each name in `the output` to be at "
                                             r"most 255 bytes .*\(30\d bytes\)$"):
            check(str(path))


def test_seeds_past_the_largest_are_refused_by_sample_and_score_before_work(run, tmp_path,
                                                                          monkeypatch):
    """`--seed SEED+i --n 1` redraws image i, so the last seed may not pass `--seed`'s bound
    (the explorer refuses the same request)."""
    from dcgan_tf.scoring.score import ScoreConfig
    from dcgan_tf.serving import clients

    opened = []
    monkeypatch.setattr(clients, "open_client", lambda *a, **k: opened.append(1))
    grid = tmp_path / "grid.png"
    result = CliRunner().invoke(cli, ["sample", "--model", run, "--seed", str(2**31 - 1),
                                      "--n", "4", "--out-file", str(grid)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    line = result.output.strip().splitlines()[-1]
    assert "end by 2147483647" in line and "pass --seed 2147483644 or less" in line, line
    assert not opened and not grid.exists()
    with pytest.raises(ValueError, match=r"pass --seed 2147482648 or less for n=1000\. "
                                         r"Received: seed=2147483000, n=1000"):
        ScoreConfig(n=1000, seed=2147483000)
    ScoreConfig(n=1000, seed=2147482648)


def test_project_notes_that_it_capped_the_request(run, tmp_path):
    from dcgan_tf.export.savedmodel import export_savedmodel

    model = export_savedmodel(run, base_path=str(tmp_path / "b"), name="m")
    result = CliRunner().invoke(cli, ["project", "--model", model, "--dataset", "digits",
                                      "--n", "500", "--out", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert "Asked for 500 images; the test split of digits holds 360" in result.output
    assert result.output.count("Asked for 500") == 1, result.output
    assert "360 images of digits" in result.output


# Not yet tried before: hostile npz files, a malformed TF_CONFIG, --max-minutes 0.1.

def _train_args(out, steps=("--max-steps", "1")):
    from dcgan_tf_cli.train import train as train_command

    where = (["--out", str(out)] if any("--out" in p.opts for p in train_command.params)
             else [str(out)])
    return ["train", *where, "--batch-size", "32", "--ngf", "8", "--ndf", "8", "--image-size",
            "32", "--channels", "1", "--precision", "fp32", *steps]


def _write_npz(path, kind):
    import numpy as np

    if kind == "zero-size":
        open(path, "wb").close()
    elif kind == "no images":
        np.savez(path, x=np.zeros((0, 32, 32, 3), np.uint8))
    elif kind == "NaN floats":
        np.savez(path, x=np.full((40, 32, 32, 3), np.nan))
    elif kind == "objects":
        np.savez(path, x=np.array([{"a": 1}] * 40, dtype=object))
    elif kind == "rank 2":
        np.savez(path, x=np.zeros((40, 32), np.uint8))
    elif kind == "no x":
        np.savez(path, y=np.zeros(40, np.int64))


@pytest.mark.parametrize("kind, match", [
    ("zero-size", "Cannot read .* as a NumPy .npz file"),
    ("no images", "N > 0"),
    ("NaN floats", "to be uint8 .*Received: x float64"),
    ("objects", "to be uint8 .*Received: x object"),
    ("rank 2", r"Received: x uint8 \(40, 32\)"),
    ("no x", "has no `x` key"),
])
def test_hostile_npz_files_are_one_line(tmp_path, kind, match):
    import re

    path = tmp_path / "data.npz"
    _write_npz(path, kind)
    line = _error(CliRunner().invoke(cli, [*_train_args(tmp_path / "r"), "--dataset", "npz",
                                           "--data-dir", str(path)]))
    assert re.search(match, line), line
    assert not os.path.exists(tmp_path / "r" / "checkpoints")


@pytest.mark.parametrize("value, match", [
    ("{bad", "TF_CONFIG is not valid JSON"),
    ("[]", "Expected TF_CONFIG of the form"),
    ('{"cluster": []}', "Expected TF_CONFIG of the form"),
    ('{"cluster": {"worker": 5}}', "Expected TF_CONFIG of the form"),
    ('{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 5}}',
     "task to name a type of its cluster"),
    ('{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "chief", "index": 0}}',
     "task to name a type of its cluster"),
])
def test_a_malformed_tf_config_is_one_line(tmp_path, monkeypatch, value, match):
    monkeypatch.setenv("TF_CONFIG", value)
    line = _error(CliRunner().invoke(cli, _train_args(tmp_path / "r")))
    assert match in line, line


def test_max_minutes_a_tenth_stops_in_seconds_with_a_checkpoint(tmp_path):
    import time

    from dcgan_tf.training.run import train

    start = time.monotonic()
    summary = train(_cfg(tmp_path / "r", epochs=1000, max_minutes=0.1), TINY, verbose=0)
    elapsed = time.monotonic() - start
    assert summary["timed_out"] and elapsed < 6 + 60, elapsed  # Start-up, then 6 s of steps.
    last = checkpoint.select(str(tmp_path / "r"), "last")
    assert checkpoint.damage(last) is None
    assert int(checkpoint.read_meta(last)["step"]) == summary["step"] > 0


# Not yet tried before: 16-bit and RGBA PNG folders end to end.

def test_sixteen_bit_and_rgba_png_folder_trains_exports_and_samples(tmp_path):
    import numpy as np
    from PIL import Image

    from dcgan_tf.export.savedmodel import export_savedmodel
    from dcgan_tf.serving.clients import SavedModelClient
    from dcgan_tf.training.run import train

    folder = tmp_path / "pngs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(24):
        grey16 = (rng.integers(0, 65536, (40, 40))).astype(np.uint16)
        Image.fromarray(grey16).save(folder / f"g{i}.png")
        rgba = rng.integers(0, 256, (36, 36, 4)).astype(np.uint8)
        Image.fromarray(rgba, "RGBA").save(folder / f"c{i}.png")
    run_dir = tmp_path / "r"
    summary = train(_cfg(run_dir, dataset="folder", data_dir=str(folder), max_steps=2),
                    ModelConfig(image_size=32, channels=3, ngf=8, ndf=8), verbose=0)
    assert summary["step"] == 2
    path = export_savedmodel(str(run_dir), base_path=str(tmp_path / "b"), name="pngs")
    client = SavedModelClient(path)
    pixels = client.sample([0, 1])["pixels"]
    assert pixels.shape == (2, 32, 32, 3) and pixels.dtype == np.uint8
    # The export's discriminator takes the same 16-bit grey and RGB images the loader took.
    probability = client.discriminate(np.asarray(Image.open(folder / "c0.png").convert("RGB"))[None])
    assert np.isfinite(probability["probability"]).all()


# Not yet tried before: `classify` on a semi-supervised export with bad input.

@pytest.fixture(scope="module")
def semi_export(tmp_path_factory):
    from dcgan_tf.export.savedmodel import export_savedmodel

    root = tmp_path_factory.mktemp("semi")
    model_cfg = ModelConfig(image_size=32, channels=1, ngf=8, ndf=8, labels=100, label_classes=10,
                            label_validation=200)
    cfg = _cfg(root / "run")
    gan = build_gan(model_cfg, cfg)
    checkpoint.write_run_config(str(root / "run"), model_cfg, cfg)
    checkpoint.save(gan, str(root / "run"), step=1, epoch=1)
    return export_savedmodel(str(root / "run"), base_path=str(root / "b"), name="semi")


@pytest.mark.parametrize("images, match", [
    ("rank3", r"rank 4|of shape \(N, any, any, any\)"),
    ("two channels", r"1 \(grey\) or 3 \(RGB\) channels"),
    ("zero height", "non-zero height and width"),
    ("floats", "uint8"),
])
def test_classify_on_a_semi_export_refuses_bad_input_in_one_line(semi_export, images, match):
    import numpy as np

    from dcgan_tf.serving.clients import SavedModelClient, ServingError

    client = SavedModelClient(semi_export)
    batch = {"rank3": np.zeros((32, 32, 1), np.uint8),
             "two channels": np.zeros((1, 32, 32, 2), np.uint8),
             "zero height": np.zeros((1, 0, 32, 1), np.uint8),
             "floats": np.zeros((1, 32, 32, 1), np.float32)}[images]
    with pytest.raises((ServingError, ValueError)) as error:
        client.classify(batch)
    message = str(error.value)
    assert len(message.strip().splitlines()) == 1 and __import__("re").search(match, message), \
        message
    empty = client.classify(np.zeros((0, 32, 32, 1), np.uint8))
    assert empty["probabilities"].shape == (0, 10) and empty["classes"].shape == (0,)


# Not yet tried before: Ctrl-C (SIGINT) in train, then resume.

_SIGINT_CHILD = """
import signal, sys, time
from dcgan_tf.training import checkpoint
from dcgan_tf_cli.main import cli

signal.signal(signal.SIGINT, signal.default_int_handler)  # Whatever the launcher left.

fsync = checkpoint.fsync
checkpoint.fsync = lambda path: (time.sleep(0.1), fsync(path))  # Widen the write window.
cli(sys.argv[1:], prog_name="dcgan-tf")
"""


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["checkpoint write", "training step"])
def test_sigint_in_train_then_resume(tmp_path, moment):
    import time

    from dcgan_tf.training.run import train

    run_dir = tmp_path / "r"
    args = _train_args(run_dir, steps=("--epochs", "50"))
    child = subprocess.Popen([sys.executable, "-c", _SIGINT_CHILD, *args],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ckpts, deadline = run_dir / "checkpoints", time.monotonic() + 300
    while child.poll() is None and time.monotonic() < deadline:
        names = os.listdir(ckpts) if ckpts.is_dir() else []
        if moment == "checkpoint write" and any(n.startswith(".tmp-ckpt-") for n in names):
            break
        if moment == "training step" and any(n.startswith("ckpt-") for n in names):
            time.sleep(0.5)
            break
        time.sleep(0.005)
    child.send_signal(signal.SIGINT)
    output, _ = child.communicate(timeout=120)
    assert child.returncode != 0 and "Traceback" not in output, output[-3000:]
    assert "Aborted" in output.strip().splitlines()[-1], output[-3000:]
    survived = checkpoint.list_checkpoints(str(run_dir))
    assert survived or moment == "checkpoint write", os.listdir(ckpts)
    # The resume starts from a whole checkpoint and removes what the interrupted write left.
    summary = train(_cfg(run_dir, max_steps=120), TINY, verbose=0)
    assert summary["step"] == 120
    assert (summary["resumed_from"] is not None) == bool(survived)
    assert [n for n in os.listdir(ckpts) if n.startswith(".")] == []
    assert checkpoint.damage(checkpoint.select(str(run_dir), "last")) is None


# Not yet tried before: two exports to one base path; export while train --keep 1 prunes;
# probe while export --overwrite replaces the version it reads.

_EXPORT_CHILD = """
import sys
from dcgan_tf.export.config import ExportConfig
from dcgan_tf.export.savedmodel import export_savedmodel
for _ in range(int(sys.argv[4])):
    print("OK", export_savedmodel(sys.argv[1], base_path=sys.argv[2], name=sys.argv[3],
                                  version=1 if len(sys.argv) > 5 else None,
                                  config=ExportConfig(overwrite=len(sys.argv) > 5)), flush=True)
"""


def _export_child(run_dir, base, name, times=1, overwrite=False):
    return subprocess.Popen([sys.executable, "-c", _EXPORT_CHILD, str(run_dir), str(base), name,
                             str(times), *(["overwrite"] if overwrite else [])], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_exports_to_one_base_path_both_listed(run, tmp_path):
    from dcgan_tf.export import serving_config
    from dcgan_tf.serving.clients import SavedModelClient

    base = tmp_path / "b"
    children = [_export_child(run, base, name) for name in ("one", "two")]
    outputs = [c.communicate(timeout=600) for c in children]
    assert all(c.returncode == 0 for c in children), [o[1][-2000:] for o in outputs]
    assert sorted(serving_config.read(str(base))) == ["one", "two"]
    for name in ("one", "two"):
        assert SavedModelClient(str(base / name / "1")).metadata()["name"] == name
    assert _hidden(base) == []


@pytest.mark.slow
def test_export_while_train_keep_1_prunes(tmp_path):
    import time

    from dcgan_tf.export.savedmodel import export_savedmodel
    from dcgan_tf.serving.clients import SavedModelClient

    run_dir = tmp_path / "r"
    _save_untrained(run_dir)
    trainer = subprocess.Popen([sys.executable, "-c", _SIGINT_CHILD,
                                *_train_args(run_dir, steps=("--max-steps", "400")),
                                "--keep", "1"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    exported = []
    try:
        deadline = time.monotonic() + 300
        while (trainer.poll() is None and time.monotonic() < deadline
               and max(checkpoint.list_checkpoints(str(run_dir)), default=(0,))[0] <= 1):
            time.sleep(0.1)  # Training has written (and pruned) its first checkpoint.
        while trainer.poll() is None and time.monotonic() < deadline and len(exported) < 4:
            exported.append(export_savedmodel(str(run_dir), base_path=str(tmp_path / "b"),
                                              name="m"))
    finally:
        trainer.kill()
        trainer.communicate()
    assert exported, trainer.stdout
    steps = [SavedModelClient(p).metadata()["step"] for p in exported]
    assert steps == sorted(steps) and steps[-1] > 1, steps
    assert len(checkpoint.list_checkpoints(str(run_dir))) == 1  # It pruned as it went.


@pytest.mark.slow
def test_probe_while_export_overwrite_replaces_the_version_it_reads(run, tmp_path):
    from dcgan_tf.export.savedmodel import export_savedmodel
    from dcgan_tf.serving.clients import SavedModelClient

    base = tmp_path / "b"
    version = export_savedmodel(run, base_path=str(base), name="m")
    writer = _export_child(run, base, "m", times=3, overwrite=True)
    results = []
    while writer.poll() is None:
        result = CliRunner().invoke(cli, [
            "probe", "--model", version, "--dataset", "digits", "--labels", "100",
            "--validation", "200", "--repeats", "1", "--quiet", "--no-cache"])
        results.append(result)
    writer.communicate(timeout=600)
    assert writer.returncode == 0
    for result in results:
        # A report, or (when the version vanished for the instant of the rename) one line.
        assert "Traceback" not in result.output, result.output
        assert result.exit_code == 0 or len(result.output.strip().splitlines()) == 1, \
            result.output
    assert any(r.exit_code == 0 for r in results), [r.output for r in results]
    assert SavedModelClient(version).metadata()["version"] == 1
    assert _hidden(base) == []


# Not yet tried before: a full disk under `score --json`.

@pytest.fixture
def full_disk(tmp_path):
    """A 1 MB tmpfs filled to the last byte (root only; skipped elsewhere)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
                             capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        stat = os.statvfs(disk)
        with open(disk / "filler", "wb") as f:
            f.write(b"\0" * (stat.f_bavail * stat.f_frsize))
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_score_json_on_a_full_disk_is_refused_before_any_work(run, tmp_path, full_disk):
    from dcgan_tf.export.savedmodel import export_savedmodel

    model = export_savedmodel(run, base_path=str(tmp_path / "b"), name="m")
    report = full_disk / "r.json"
    line = _error(CliRunner().invoke(cli, [
        "score", "--model", model, "--dataset", "digits", "--n", "50", "--json", str(report),
        "--cache-dir", str(tmp_path / "c")]))
    assert line.startswith(f"Error: No space left on device writing {report}"), line
    assert not report.exists() and not (tmp_path / "c").exists()
    assert sorted(os.listdir(full_disk)) == ["filler"]


# Images: `sample`'s grid and the investigations' folders are checked before the work.

def test_sample_and_investigations_refuse_a_read_only_destination_before_work(
        run, tmp_path, read_only_dir, monkeypatch):
    from dcgan_tf.export.savedmodel import export_savedmodel
    from dcgan_tf.serving import clients
    from dcgan_tf_cli.sample import sample as sample_command

    model = export_savedmodel(run, base_path=str(tmp_path / "b"), name="m")
    opened = []
    monkeypatch.setattr(clients, "open_client", lambda *a, **k: opened.append(1))
    out_flag = next(o for p in sample_command.params if p.name in ("out", "out_file")
                    for o in p.opts if o.startswith("--"))
    line = _error(CliRunner().invoke(cli, ["sample", "--model", model,
                                           out_flag, str(read_only_dir / "grid.png")]))
    assert "not writable" in line and not opened, line
    line = _error(CliRunner().invoke(cli, ["interpolate", "--model", model,
                                           "--out", str(read_only_dir / "walks")]))
    assert "not writable" in line, line
