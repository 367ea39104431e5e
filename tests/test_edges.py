"""Nothing lost at the edges (issue 28): recipe state on resume, caches that heal, overwrite
without loss, hostile names, disk full, bad inputs and hand-edited files. One test (or more)
per finding; docs/guarantees.md lists them."""

import json
import logging
import os
import re

import numpy as np
import pytest
from click.testing import CliRunner

from dcgan_tf_cli.main import cli
from dcgan_tf.config import ModelConfig, TrainConfig
from dcgan_tf.training import checkpoint
from dcgan_tf.training.run import TrainingError, build_gan, train

TINY = ModelConfig(image_size=32, channels=1, ngf=8, ndf=8)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cfg(out, **kw):
    return TrainConfig(out=str(out), **{"batch_size": 32, "precision": "fp32", **kw})


def _one_line(result, code=1):
    assert result.exit_code == code, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "Traceback" not in result.output
    return result.output.strip()


def _error_line(result):
    """The one error line of a failed command that may have printed its progress notes first."""
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert "Traceback" not in result.output and "tensorflow" not in result.output, result.output
    assert [ln for ln in lines if ln.startswith("Error")] == lines[-1:], result.output
    assert len(lines) <= 4, result.output  # Notes (resume point, resize, precision), then the error.
    return lines[-1]


# Finding 1: recipe options that add variables are model flags.

def _has_rotation_head(path):
    """Whether checkpoint `path` restores into an ssgan model (rotation head and its slots)."""
    ssgan = build_gan(TINY, _cfg(path, rotation_weight=1.0, rotation_weight_g=0.2))
    try:
        checkpoint.restore(ssgan, path)
    except checkpoint.CheckpointError:
        return False
    return True


def test_resume_without_recipe_keeps_the_runs_rotation_head(tmp_path, caplog):
    run = tmp_path / "run"
    train(_cfg(run, max_steps=2, recipe="ssgan", rotation_weight=1.0, rotation_weight_g=0.2),
          TINY, verbose=0)
    assert _has_rotation_head(checkpoint.select(run, "last"))
    args = ["train", str(run), "--batch-size", "32"]
    with caplog.at_level(logging.INFO, logger="dcgan_tf"):
        result = CliRunner().invoke(cli, args + ["--max-steps", "4"])
    assert result.exit_code == 0, result.output
    assert "--rotation-weight 1.0" in caplog.text and "--recipe ssgan" in caplog.text
    assert _has_rotation_head(checkpoint.select(run, "last"))
    with open(run / "config.json") as f:
        segments = json.load(f)["segments"]
    assert [(s["start_step"], s["train"]["recipe"], s["train"]["rotation_weight"],
             s["train"]["rotation_weight_g"], s["train"]["precision"]) for s in segments] == [
        (0, "ssgan", 1.0, 0.2, "fp32"), (2, "ssgan", 1.0, 0.2, "fp32")]

    # Contradicting it, from the CLI or the library: one line naming the flag, nothing trained.
    line = _one_line(CliRunner().invoke(cli, args + ["--max-steps", "6", "--recipe", "paper"]))
    assert "--rotation-weight 1.0" in line and "new run directory" in line
    with pytest.raises(TrainingError, match="trained with --rotation-weight 1.0"):
        train(_cfg(run, max_steps=6), TINY, verbose=0)
    assert checkpoint.select(run, "last").endswith("ckpt-000000004")


def test_switching_precision_on_resume_is_one_line_naming_precision(tmp_path):
    run = tmp_path / "run"
    train(_cfg(run, max_steps=2), TINY, verbose=0)
    line = _one_line(CliRunner().invoke(
        cli, ["train", str(run), "--batch-size", "32", "--max-steps", "4",
              "--precision", "fp16"]))
    assert "--precision fp32" in line and "not fp16" in line
    # Not given: the run's own precision.
    train(_cfg(run, max_steps=4, precision="auto"), TINY, verbose=0, given={"max_steps"})
    with open(run / "config.json") as f:
        assert json.load(f)["segments"][-1]["train"]["precision"] == "fp32"


def test_swapping_data_dir_on_resume_is_said_and_recorded(tmp_path, caplog):
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images[:, :, :, None] * (255 / 16)).astype(np.uint8)
    for name in ("a", "b"):
        np.savez(tmp_path / f"{name}.npz", x=images, y=digits.target)
    run = tmp_path / "run"
    train(_cfg(run, max_steps=2, dataset="npz", data_dir=str(tmp_path / "a.npz")), TINY, verbose=0)
    with caplog.at_level(logging.INFO, logger="dcgan_tf"):
        train(_cfg(run, max_steps=4, dataset="npz", data_dir=str(tmp_path / "b.npz")), TINY,
              verbose=0)
    assert f"--data-dir {tmp_path / 'b.npz'}, not the run's {tmp_path / 'a.npz'}" in caplog.text
    with open(run / "config.json") as f:
        assert [s["data_dir"] for s in json.load(f)["segments"]] == [
            str(tmp_path / "a.npz"), str(tmp_path / "b.npz")]


# Finding 2: pruning never deletes an entry being written (injected pause in the write).

def _digit_images(n=120):
    from sklearn.datasets import load_digits

    return (load_digits().images[:n, :, :, None] * (255 / 16)).astype(np.uint8)


def test_pruning_while_a_probe_writes_its_entry_breaks_nothing(digits_export, tmp_path,
                                                               monkeypatch):
    import threading

    from dcgan_tf.probe import cache
    from dcgan_tf.probe.run import extract_features

    _, model = digits_export
    images, features_dir = _digit_images(), tmp_path / "features"
    writing, pruned, deleted = threading.Event(), threading.Event(), []
    write_array = np.lib.format.write_array

    def paused_write(*args, **kwargs):  # Hold the writer mid-entry while another probe prunes.
        write_array(*args, **kwargs)
        writing.set()
        assert pruned.wait(30)

    def other_probe():
        assert writing.wait(60)
        deleted.extend(cache.prune(str(features_dir), 0))  # A probe with a tiny cap.
        pruned.set()

    monkeypatch.setattr(np.lib.format, "write_array", paused_write)
    pruner = threading.Thread(target=other_probe)
    pruner.start()
    try:
        features = extract_features(model, images, cache_dir=str(tmp_path), tag="t")
    finally:
        pruned.set()
        pruner.join()
    monkeypatch.undo()
    assert deleted == []  # The half-written entry was invisible to pruning.
    assert [n for n in os.listdir(features_dir) if not n.startswith(".")] == os.listdir(features_dir)
    again = extract_features(model, images, batch_size=7, cache_dir=str(tmp_path), tag="t")
    np.testing.assert_array_equal(again, features)


# Finding 6: a corrupt or foreign cache entry is recomputed with a note, never used or fatal.

@pytest.mark.parametrize("damage", ["garbage", "noise", "truncated"])
def test_bad_feature_cache_entry_is_recomputed_with_one_note(digits_export, tmp_path, caplog,
                                                              damage):
    from dcgan_tf.probe.run import extract_features

    _, model = digits_export
    images = _digit_images()
    fresh = extract_features(model, images, cache_dir=None)
    extract_features(model, images, cache_dir=str(tmp_path), tag="t")
    (entry,) = (tmp_path / "features").iterdir()
    if damage == "garbage":
        entry.write_bytes(b"\x80\x04 not a cache entry" * 50)
    elif damage == "noise":  # The right row count and width: only its key and checksum tell.
        with open(entry, "wb") as f:
            np.save(f, np.random.default_rng(0).normal(size=fresh.shape).astype(np.float32))
    else:
        with open(entry, "r+b") as f:
            f.truncate(entry.stat().st_size // 2)
    for _ in range(2):  # The second call finds the rewritten, good entry.
        with caplog.at_level(logging.WARNING, logger="dcgan_tf"):
            caplog.clear()
            got = extract_features(model, images, cache_dir=str(tmp_path), tag="t")
        np.testing.assert_allclose(got, fresh, rtol=1e-5, atol=1e-6)
        if _ == 0:
            assert f"Recomputing the cached features {entry}" in caplog.text
        else:
            assert caplog.text == ""


def test_feature_cache_entry_with_a_bad_checksum_or_key_is_recomputed(digits_export, tmp_path,
                                                                      caplog):
    from dcgan_tf.probe import cache

    features = np.arange(12, dtype=np.float32).reshape(4, 3)
    path = str(tmp_path / "e.npz")
    assert cache.write(path, "k1", features)
    np.testing.assert_array_equal(cache.read(path, "k1", 4), features)
    with caplog.at_level(logging.WARNING, logger="dcgan_tf"):
        assert cache.read(path, "k2", 4) is None
        assert "made for other data" in caplog.text
        with open(path, "wb") as f:  # The right key, tampered values.
            np.savez(f, features=features + 1, key=np.array("k1"),
                     sha256=np.array(cache._checksum(features)))
        assert cache.read(path, "k1", 4) is None
        assert "fails its sha256 checksum" in caplog.text


def test_garbage_classifier_cache_is_retrained_with_one_note(tmp_path, caplog):
    from dcgan_tf.data.datasets import load_split
    from dcgan_tf.metrics.features import ClassifierConfig, classifier_space

    train_split = load_split("digits", "train")
    cfg = ClassifierConfig(epochs=1, width=4)
    first = classifier_space(train_split, cfg, str(tmp_path))
    (weights,) = (tmp_path / "scoring").glob("*.weights.h5")
    weights.write_bytes(b"garbage" * 100)
    with caplog.at_level(logging.WARNING, logger="dcgan_tf"):
        again = classifier_space(train_split, cfg, str(tmp_path))
    assert f"Retraining the cached classifier {weights}" in caplog.text
    assert again.info["heldout_examples"] == first.info["heldout_examples"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dcgan_tf"):
        third = classifier_space(train_split, cfg, str(tmp_path))  # The rewritten entry.
    assert caplog.text == ""
    images = train_split.images[:50]
    np.testing.assert_array_equal(third.embed(images), again.embed(images))
    assert sorted(n.rsplit(".", 2)[-2:][-1] for n in os.listdir(tmp_path / "scoring")) == [
        "h5", "json"]


# Finding 3: a kill at any point of `export --overwrite` loses neither version.

def _save_untrained(run_dir, step=1):
    gan = build_gan(TINY, _cfg(run_dir))
    checkpoint.write_run_config(str(run_dir), TINY, _cfg(run_dir))
    checkpoint.save(gan, str(run_dir), step=step, epoch=1)
    return str(run_dir)


_KILLED_OVERWRITE = """
import os, signal, sys
from dcgan_tf.export.config import ExportConfig
from dcgan_tf.export.savedmodel import export_savedmodel

model_dir, kill_at = os.path.join(sys.argv[2], "m"), int(sys.argv[3])
rename, calls = os.rename, []

def rename_then_maybe_die(src, dst):
    if os.path.dirname(os.path.abspath(dst)) == os.path.abspath(model_dir):
        calls.append(dst)
        if len(calls) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    return rename(src, dst)

os.rename = rename_then_maybe_die
export_savedmodel(sys.argv[1], base_path=sys.argv[2], name="m", version=1,
                  config=ExportConfig(overwrite=True))
print("finished", flush=True)
"""


@pytest.mark.parametrize("kill_at, survivor", [
    (1, "old"),  # Before the old version moves aside.
    (2, "old"),  # Between the renames: the old one is aside, the new one not yet in place.
    (3, "new"),  # After both renames (no further rename: the export finishes).
])
def test_kill_during_overwrite_keeps_a_whole_version(tmp_path, kill_at, survivor):
    import subprocess
    import sys

    from dcgan_tf.export.savedmodel import export_savedmodel, list_versions
    from dcgan_tf.serving.clients import SavedModelClient

    run, base = _save_untrained(tmp_path / "run"), tmp_path / "b"
    first = export_savedmodel(run, base_path=str(base), name="m")
    (tmp_path / "b" / "m" / "1" / "old-marker").write_text("the version being replaced")
    child = subprocess.run([sys.executable, "-c", _KILLED_OVERWRITE, run, str(base), str(kill_at)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert (child.returncode == 0) == (kill_at == 3), child.stderr[-2000:]
    # The next export (another name, so version 1 of m is left to the recovery) repairs it.
    export_savedmodel(run, base_path=str(base), name="other")
    assert list_versions(str(base / "m")) == [1]
    assert os.path.isfile(base / "m" / "1" / "old-marker") == (survivor == "old")
    assert SavedModelClient(first).metadata()["version"] == 1  # Whole and loadable.
    assert sorted(os.listdir(base / "m")) == [".lock", "1"]  # No journal or hidden copies left.
    # An automatic version never reuses 1.
    assert export_savedmodel(run, base_path=str(base), name="m").endswith(os.path.join("m", "2"))


# Finding 4: names, versions and base paths.

@pytest.mark.parametrize("args, match", [
    (["--version", str(10**20)], "in \\[1, 9223372036854775807\\]"),
    (["--name", "models.config"], "that is a file of the base path"),
    (["--name", "abc\n"], "Expected `name` to be 1 to 200 letters"),
    (["--name", "README.md"], "is a file, not a model directory"),
])
def test_export_refuses_bad_names_and_versions_in_one_line(tmp_path, args, match):
    run, base = _save_untrained(tmp_path / "run"), tmp_path / "b"
    os.makedirs(base)
    (base / "README.md").write_text("notes")
    result = CliRunner().invoke(cli, ["export", run, "--base-path", str(base), *args])
    if result.exit_code == 2:  # Refused while the flags are parsed: Click's usage, then one line.
        assert "Traceback" not in result.output
        line = result.output.strip().splitlines()[-1]
    else:
        line = _one_line(result)
    assert re.search(match, line), line
    assert sorted(os.listdir(base)) == ["README.md"]


def test_export_refuses_the_version_after_int64s_largest(tmp_path):
    from dcgan_tf.export.savedmodel import ExportError, export_savedmodel

    run, base = _save_untrained(tmp_path / "run"), tmp_path / "b"
    os.makedirs(base / "m" / str(2**63 - 1))
    with pytest.raises(ExportError, match="TF Serving's largest"):
        export_savedmodel(run, base_path=str(base), name="m")


@pytest.mark.parametrize("inside", ["run", "run/checkpoints", "run/checkpoints/ckpt-000000001"])
def test_export_refuses_a_base_path_inside_a_run(tmp_path, inside):
    run = _save_untrained(tmp_path / "run")
    base = tmp_path / inside / "savedmodels"
    line = _one_line(CliRunner().invoke(cli, ["export", run, "--base-path", str(base)]))
    assert "outside run directories" in line
    assert not base.exists()


# Finding 7: a checkpoint pruned while an export reads it is not "damaged".

def test_export_takes_the_next_checkpoint_when_training_prunes_the_chosen_one(tmp_path,
                                                                             monkeypatch):
    import shutil

    from dcgan_tf.export.savedmodel import export_savedmodel

    run = tmp_path / "run"
    train(_cfg(run, max_steps=4, keep_checkpoints=1), TINY, verbose=0)  # ckpt-4 only
    newer = checkpoint.select(run, "last")
    aside = tmp_path / "aside"
    shutil.move(newer, aside)  # Training is about to publish it...
    older = str(run / "checkpoints" / "ckpt-000000002")
    shutil.copytree(aside, older)
    meta = json.loads((aside / "meta.json").read_text())
    (run / "checkpoints" / "ckpt-000000002" / "meta.json").write_text(
        json.dumps({**meta, "step": 2}))
    damage, calls = checkpoint.damage, []

    def damage_then_train_moves_on(path):
        found = damage(path)
        calls.append(path)
        if len(calls) == 1:  # ...right after the export chose ckpt-2: publish 4, prune 2.
            shutil.move(aside, newer)
            shutil.rmtree(older)
        return found

    monkeypatch.setattr(checkpoint, "damage", damage_then_train_moves_on)
    path = export_savedmodel(str(run), base_path=str(tmp_path / "b"), name="m")
    with open(os.path.join(path, "assets.extra", "metadata.json")) as f:
        assert json.load(f)["step"] == 4


# Finding 8: reports checked before the work; models.config repaired at the next export.

def test_unwritable_json_report_is_refused_before_the_probe_runs(tmp_path):
    (tmp_path / "file").write_text("a file where the report's directory should be")
    result = CliRunner().invoke(cli, [
        "probe", "--dataset", "digits", "--baseline", "pixels", "--labels", "100",
        "--validation", "200", "--repeats", "1", "--quiet", "--no-cache",
        "--json", str(tmp_path / "file" / "r.json")])
    line = _one_line(result)
    assert f"{tmp_path / 'file'} is a file" in line and "test error" not in result.output


def test_unwritable_json_report_is_refused_before_scoring(tmp_path, digits_export):
    _, model = digits_export
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "r.json").mkdir()  # A directory where the report should go.
    result = CliRunner().invoke(cli, [
        "score", "--model", model, "--dataset", "digits", "--n", "100",
        "--json", str(tmp_path / "ro" / "r.json")])
    line = _one_line(result)
    assert "r.json" in line and "is a directory" in line


def test_a_model_published_by_a_killed_export_is_listed_when_the_next_starts(tmp_path,
                                                                            monkeypatch):
    import tensorflow as tf

    from dcgan_tf.export import savedmodel, serving_config

    run, base = _save_untrained(tmp_path / "run"), tmp_path / "b"
    write = serving_config.write

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # Killed after publishing, before models.config.

    monkeypatch.setattr(serving_config, "write", killed)
    with pytest.raises(KeyboardInterrupt):
        savedmodel.export_savedmodel(run, base_path=str(base), name="first")
    assert os.path.isdir(base / "first" / "1") and not (base / "models.config").exists()
    monkeypatch.setattr(serving_config, "write", write)
    seen = []

    def save_and_look(*args, **kwargs):  # What a server sees while the next export writes.
        seen.append(serving_config.read(str(base)))
        raise KeyboardInterrupt

    monkeypatch.setattr(tf.saved_model, "save", save_and_look)
    with pytest.raises(KeyboardInterrupt):
        savedmodel.export_savedmodel(run, base_path=str(base), name="second")
    assert list(seen[0]) == ["first"]


# Finding 5: a full disk is one line naming the path and the space needed; nothing partial.

@pytest.fixture
def small_disk(tmp_path):
    """An 8 MB tmpfs mounted for the test (root only; skipped elsewhere)."""
    import subprocess

    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)],
                             capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk, leave):
    """Fills `disk` until `leave` bytes are free; returns the filler file."""
    stat = os.statvfs(disk)
    filler = disk / "filler"
    with open(filler, "ab") as f:
        f.write(b"\0" * max(0, stat.f_bavail * stat.f_frsize - leave))
    return filler


def _no_temporaries(root):
    return [os.path.join(d, n) for d, dirs, files in os.walk(root) for n in dirs + files
            if n.startswith((".tmp-", ".old-", ".overwrite-"))]


@pytest.mark.slow
def test_disk_full_is_one_line_and_leaves_state_intact(small_disk, tmp_path):
    from dcgan_tf.export.savedmodel import list_versions

    run = small_disk / "run"
    args = ["train", str(run), "--batch-size", "32", "--precision", "fp32",
            "--ngf", "8", "--ndf", "8", "--image-size", "32", "--channels", "1"]
    assert CliRunner().invoke(cli, args + ["--max-steps", "2"]).exit_code == 0
    before = checkpoint.select(run, "last")
    filler = _fill(small_disk, 100_000)

    # Train: the next checkpoint does not fit.
    line = _error_line(CliRunner().invoke(cli, args + ["--max-steps", "4"]))
    assert line.startswith(f"Error: No space left on device writing {run}: it needs about")
    assert "MB free now" in line
    assert checkpoint.select(run, "last") == before and checkpoint.damage(before) is None
    assert not _no_temporaries(run)

    # Export onto the full disk: one line, no version, no half-written directory.
    base = small_disk / "savedmodels"
    line = _one_line(CliRunner().invoke(cli, ["export", str(run), "--base-path", str(base)]))
    assert f"No space left on device writing {base / 'run'}" in line
    assert list_versions(str(base / "run")) == [] and not _no_temporaries(base)
    assert not (base / "models.config").exists()

    # Probe with its feature cache on the full disk: it still probes, with one note.
    exported = tmp_path / "b"
    assert CliRunner().invoke(cli, ["export", str(run), "--base-path", str(exported)]).exit_code == 0
    result = CliRunner().invoke(cli, [
        "probe", "--model", str(exported / "run"), "--dataset", "digits", "--labels", "100",
        "--validation", "200", "--repeats", "1", "--quiet", "--cache-dir", str(small_disk / "c")])
    assert result.exit_code == 0, result.output
    notes = [ln for ln in result.output.splitlines() if "Not caching" in ln]
    assert len(notes) == 1 and "No space left on device" in notes[0], result.output
    assert "test error" in result.output and "Traceback" not in result.output
    assert not _no_temporaries(small_disk / "c")

    # A report that does not fit: one line naming it, no partial file.
    report = small_disk / "r.json"
    _fill(small_disk, 0)
    result = CliRunner().invoke(cli, [
        "probe", "--dataset", "digits", "--baseline", "pixels", "--labels", "100",
        "--validation", "200", "--repeats", "1", "--quiet", "--no-cache", "--json", str(report)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1].startswith(
        f"Error: No space left on device writing {report}")
    assert not report.exists() and not _no_temporaries(small_disk)

    # Space freed: the run resumes from its last good checkpoint.
    filler.unlink()
    assert CliRunner().invoke(cli, args + ["--max-steps", "4"]).exit_code == 0
    assert checkpoint.select(run, "last").endswith("ckpt-000000004")


# Finding 10: hand-edited and linked files.

def test_meta_json_with_an_empty_file_list_is_damage_and_falls_back(tmp_path, caplog):
    run = tmp_path / "run"
    _save_untrained(run, step=1)
    gan = build_gan(TINY, _cfg(run))
    checkpoint.save(gan, str(run), step=2, epoch=1)
    edited = checkpoint.select(run, "last")
    meta = checkpoint.read_meta(edited)
    with open(os.path.join(edited, "meta.json"), "w") as f:
        json.dump({**meta, "files": {}}, f)
    data = [n for n in os.listdir(edited) if n.startswith("state.data")][0]
    with open(os.path.join(edited, data), "r+b") as f:
        f.truncate(10)
    with caplog.at_level(logging.WARNING, logger="dcgan_tf"):
        assert checkpoint.select(run, "last").endswith("ckpt-000000001")
    assert "meta.json lists no files" in caplog.text
    # A file the list leaves out is damage too.
    first = checkpoint.select(run, "last")
    (tmp_path / "run" / "checkpoints" / "ckpt-000000001" / "extra").write_text("x")
    assert "extra is not in meta.json's file list" in checkpoint.damage(first)


def test_a_checkpoint_linked_from_another_run_is_not_resumed(tmp_path, caplog):
    other = tmp_path / "other"
    _save_untrained(other, step=5)
    run = tmp_path / "run"
    _save_untrained(run, step=1)
    os.symlink(checkpoint.select(other, "last"), run / "checkpoints" / "ckpt-000000005")
    with caplog.at_level(logging.WARNING, logger="dcgan_tf"):
        assert checkpoint.select(run, "last").endswith("ckpt-000000001")
    assert "a symbolic link out of its run" in caplog.text
    with pytest.raises(checkpoint.CheckpointError, match="symbolic link out of its run"):
        checkpoint.select(run, 5)


@pytest.mark.parametrize("content, match", [
    ("{not json", "is not readable JSON"),
    ("[1, 2]", "holds a JSON list, not an object"),
])
def test_malformed_export_metadata_names_the_file(digits_export, tmp_path, content, match):
    import shutil

    _, model = digits_export
    copy = tmp_path / "m" / "1"
    shutil.copytree(model, copy)
    asset = copy / "assets.extra" / "metadata.json"
    asset.write_text(content)
    line = _one_line(CliRunner().invoke(cli, ["inspect", str(copy)]))
    assert str(asset) in line and match in line


# Finding 9: inputs.

@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    from dcgan_tf.export.savedmodel import export_savedmodel

    root = tmp_path_factory.mktemp("tiny-export")
    run = _save_untrained(root / "run")
    return export_savedmodel(run, base_path=str(root / "b"), name="m")


def test_empty_batches_give_empty_outputs_in_every_signature(tiny_export):
    import tensorflow as tf

    loaded = tf.saved_model.load(tiny_export)
    for shape in [(0, 32, 32, 1), (0, 5, 7, 3)]:
        empty = tf.zeros(shape, tf.uint8)
        out = loaded.signatures["discriminate"](images=empty)
        assert out["logits"].shape == (0,) and out["probability"].shape == (0,)
        assert loaded.signatures["features"](images=empty)["features"].shape[0] == 0
    assert loaded.signatures["serving_default"](z=tf.zeros((0, 100)))["images"].shape[0] == 0
    assert loaded.signatures["sample"](seed=tf.zeros((0,), tf.int64))["z"].shape[0] == 0
    with pytest.raises(tf.errors.InvalidArgumentError, match="non-zero height and width"):
        loaded.signatures["discriminate"](images=tf.zeros((2, 0, 0, 1), tf.uint8))


def _session_images_call(savedmodel, signature_name, images):
    """Runs a signature as TF Serving's session does: the feed's rank is not checked."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    model = saved_model_pb2.SavedModel()
    with open(os.path.join(savedmodel, "saved_model.pb"), "rb") as f:
        model.ParseFromString(f.read())
    meta = model.meta_graphs[0]
    signature = meta.signature_def[signature_name]
    with tf.Graph().as_default() as graph:
        feed = tf.compat.v1.placeholder(tf.uint8, None)
        saver = tf.compat.v1.train.import_meta_graph(
            meta, input_map={signature.inputs["images"].name: feed})
        with tf.compat.v1.Session(graph=graph) as sess:
            saver.restore(sess, os.path.join(savedmodel, "variables", "variables"))
            name = next(iter(signature.outputs.values())).name
            return sess.run(graph.get_tensor_by_name(name), {feed: images})


@pytest.mark.parametrize("signature", ["discriminate", "features"])
def test_rank_3_images_get_a_named_error_in_graph(tiny_export, signature):
    import tensorflow as tf

    assert len(_session_images_call(tiny_export, signature, np.zeros((2, 32, 32, 1), np.uint8))) == 2
    with pytest.raises(tf.errors.InvalidArgumentError, match="Expected `images` of rank 4"):
        _session_images_call(tiny_export, signature, np.zeros((2, 32, 32), np.uint8))


def test_sixteen_bit_and_transparent_pngs_are_scaled_and_composited(tmp_path, caplog):
    from PIL import Image

    from dcgan_tf.data.formats import read_image_folder

    folder = tmp_path / "imgs"
    folder.mkdir()
    ramp = (np.arange(32 * 32).reshape(32, 32) * 64).astype(np.uint16)  # 0..65472
    Image.fromarray(ramp).save(folder / "a16.png")
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., 0], rgba[:16, :, 3] = 200, 255  # Red top half; the bottom half transparent.
    Image.fromarray(rgba, "RGBA").save(folder / "b_alpha.png")
    with caplog.at_level(logging.WARNING, logger="dcgan_tf"):
        images, _, _ = read_image_folder(str(folder), "train", 32)
    expected = np.clip(np.round(ramp * (255 / 65535)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(images[0, :, :, 0], expected)  # Scaled, not clipped at 255.
    assert (images[0] == 255).mean() < 0.01
    np.testing.assert_array_equal(images[1, 0, 0], [200, 0, 0])
    np.testing.assert_array_equal(images[1, 31, 0], [255, 255, 255])  # Composited onto white.
    notes = [r.getMessage() for r in caplog.records if str(folder) in r.getMessage()]
    assert len(notes) == 1 and "16-bit" in notes[0] and "alpha" in notes[0]


def _npz_claiming(path, shape):
    """An .npz whose `x` header claims `shape` (uint8) without the data behind it."""
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", header.getvalue() + b"\0" * 64)
    return str(path)


@pytest.mark.parametrize("shape, match", [
    ((10, 0, 32, 1), r"sides in \[1, 4096\]"),
    ((1, 131072, 131072, 1), r"sides in \[1, 4096\]"),
    ((100_000, 1024, 1024, 1), r"holds 104.9 GB of images; loading it needs about 209.7 GB"),
])
def test_npz_sizes_are_refused_from_the_header_in_one_line(tmp_path, shape, match, monkeypatch):
    from dcgan_tf.data import npz

    # The same available memory on any machine.
    monkeypatch.setattr(npz, "available_memory", lambda: 16 * 10**9, raising=False)
    path = _npz_claiming(tmp_path / "d.npz", shape)
    line = _one_line(CliRunner().invoke(
        cli, ["train", "--dataset", "npz", "--data-dir", path, str(tmp_path / "run")]))
    assert re.search(match, line), line
    line = _one_line(CliRunner().invoke(
        cli, ["train", "--dataset", "npz", "--data-dir", path, str(tmp_path / "run"),
              "--image-size", "32", "--channels", "1"]))
    assert re.search(match, line), line


@pytest.mark.parametrize("grid", ["inf", "1e-3,nan", "0", "-1"])
def test_non_finite_c_grid_is_refused_at_parse_time(grid, monkeypatch):
    from dcgan_tf.probe import run as probe_run

    monkeypatch.setattr(probe_run, "load_labelled", lambda *a: pytest.fail("work started"))
    result = CliRunner().invoke(cli, ["probe", "--dataset", "digits", "--baseline", "pixels",
                                      "--c-grid", grid])
    assert result.exit_code == 2 and "--c-grid" in result.output and "finite positive" in result.output


def test_score_refuses_too_few_images_before_any_work(tiny_export):
    # Refused while the flags are parsed (a usage error), before TensorFlow starts.
    result = CliRunner().invoke(cli, ["score", "--model", tiny_export, "--dataset", "digits",
                                      "--n", "4"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "Expected `n` >= 10" in result.output.strip().splitlines()[-1]
