"""Nothing lost at the edges (issue 28): recipe state on resume, caches that heal, overwrite
without loss, hostile names, disk full, bad inputs and hand-edited files. One test (or more)
per finding; docs/guarantees.md lists them."""

import json
import logging
import os

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import cli
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
    args = ["train", "--out", str(run), "--batch-size", "32"]
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
    assert "--rotation-weight 1.0" in line and "new --out" in line
    with pytest.raises(TrainingError, match="trained with --rotation-weight 1.0"):
        train(_cfg(run, max_steps=6), TINY, verbose=0)
    assert checkpoint.select(run, "last").endswith("ckpt-000000004")


def test_switching_precision_on_resume_is_one_line_naming_precision(tmp_path):
    run = tmp_path / "run"
    train(_cfg(run, max_steps=2), TINY, verbose=0)
    line = _one_line(CliRunner().invoke(
        cli, ["train", "--out", str(run), "--batch-size", "32", "--max-steps", "4",
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
    from dcgan_tf.scoring.features import ClassifierConfig, classifier_space

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
