"""Nothing lost, nothing misrecorded (issue 12): locks, honest and exact resume, damaged
checkpoints, metrics after kills, serving-time checks of z. One test (or more) per finding."""

import json
import logging
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from click.testing import CliRunner

from dcgan_tf_cli.main import cli
from dcgan_tf import locks
from dcgan_tf.config import ModelConfig, TrainConfig
from dcgan_tf.contract import METADATA_ASSET
from dcgan_tf.export.savedmodel import ExportError, export_savedmodel, list_versions
from dcgan_tf.training import checkpoint
from dcgan_tf.training.run import TrainingError, build_gan, train

TINY = ModelConfig(image_size=32, channels=1, ngf=8, ndf=8)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cfg(out, **kw):
    return TrainConfig(out=str(out), **{"batch_size": 32, "precision": "fp32", **kw})


def _metric_steps(run):
    with open(os.path.join(run, "metrics.jsonl")) as f:
        return [json.loads(line)["step"] for line in f]


def _weights(path, prefixes=("generator/", "discriminator/", "d_optimizer/", "g_optimizer/")):
    return {k: v for k, v in checkpoint.read_arrays(path).items() if k.startswith(prefixes)}


def _hold_lock_in_child(directory):
    """A separate process holding `directory`'s lock until killed; returns it once it holds."""
    code = ("import sys, time\nfrom dcgan_tf import locks\n"
            "with locks.hold(sys.argv[1], 'dcgan-tf train'):\n"
            "    print('held', flush=True)\n    time.sleep(600)\n")
    child = subprocess.Popen([sys.executable, "-c", code, str(directory)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    return child


# Finding 1: one writer per run directory and per model directory.

def test_second_train_on_a_run_gets_one_line_naming_the_holder(tmp_path):
    run = tmp_path / "run"
    holder = _hold_lock_in_child(run)
    try:
        with pytest.raises(locks.LockError, match=rf"in use by PID {holder.pid} on \S+"):
            train(_cfg(run, max_steps=2), TINY, verbose=0)
        result = CliRunner().invoke(cli, ["train", str(run), "--max-steps", "2"])
        assert result.exit_code == 1
        assert f"in use by PID {holder.pid}" in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
    finally:
        holder.kill()
        holder.wait()
    assert not os.path.exists(run / "checkpoints")


def test_lock_of_a_dead_process_is_taken_over_with_a_note(tmp_path, caplog):
    run = tmp_path / "run"
    holder = _hold_lock_in_child(run)
    holder.kill()  # SIGKILL: the record stays in the lock file, the kernel drops the lock.
    holder.wait()
    with caplog.at_level(logging.WARNING, logger="dcgan_tf"):
        summary = train(_cfg(run, max_steps=2), TINY, verbose=0)
    assert summary["step"] == 2
    assert f"Taking over the lock of PID {holder.pid}" in caplog.text
    with open(run / locks.LOCK_FILE) as f:
        assert f.read() == ""  # Released cleanly this time.


def _save_untrained(run_dir, step=1):
    gan = build_gan(TINY, _cfg(run_dir))
    checkpoint.write_run_config(str(run_dir), TINY, _cfg(run_dir))
    checkpoint.save(gan, str(run_dir), step=step, epoch=1)
    return str(run_dir)


def test_concurrent_exports_never_share_or_replace_a_version(tmp_path):
    run = _save_untrained(tmp_path / "run")
    base = tmp_path / "savedmodels"
    code = ("import sys\nfrom dcgan_tf.export.savedmodel import export_savedmodel\n"
            "try:\n    print('OK', export_savedmodel(sys.argv[1], base_path=sys.argv[2], name='c'))\n"
            "except Exception as e:\n    print('ERR', e)\n")
    children = [subprocess.Popen([sys.executable, "-c", code, run, str(base)], cwd=ROOT,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                for _ in range(3)]
    outputs = [c.communicate(timeout=300)[0].strip().splitlines()[-1] for c in children]
    published = [line.split()[1] for line in outputs if line.startswith("OK")]
    refused = [line for line in outputs if line.startswith("ERR")]
    assert published and len(published) == len(set(published)), outputs
    assert all("in use by PID" in line for line in refused), outputs
    assert len(list_versions(str(base / "c"))) == len(published)
    with open(base / "models.config") as f:
        assert f.read().count('name: "c"') == 1


def test_publish_never_replaces_a_version_without_overwrite(tmp_path, monkeypatch):
    from dcgan_tf.export import savedmodel

    run = _save_untrained(tmp_path / "run")
    first = export_savedmodel(run, base_path=str(tmp_path / "b"), name="m")
    mtime = os.stat(os.path.join(first, "saved_model.pb")).st_mtime_ns
    # A racing writer that chose the same number: publishing must refuse, not rename over it.
    monkeypatch.setattr(savedmodel, "_choose_version", lambda *a: 1)
    with pytest.raises(ExportError, match="already exists. Pass --overwrite"):
        export_savedmodel(run, base_path=str(tmp_path / "b"), name="m")
    assert os.stat(os.path.join(first, "saved_model.pb")).st_mtime_ns == mtime


# Finding 2: a resume applies changed optimisation flags and records what trained.

def test_resume_applies_new_lr_and_beta1_and_records_segments(tmp_path, caplog):
    run = tmp_path / "run"
    train(_cfg(run, max_steps=4), TINY, verbose=0)
    with caplog.at_level(logging.INFO, logger="dcgan_tf"):
        train(_cfg(run, max_steps=8, lr=5e-5, beta1=0.7), TINY, verbose=0)
    assert "Resuming ckpt-000000004 at step 4" in caplog.text
    assert "lr 5e-05 beta1 0.7" in caplog.text  # Read from the live optimizers.

    saved = checkpoint.read_arrays(checkpoint.select(run, "last"))
    rates = [v for k, v in saved.items() if k.endswith("_learning_rate/.ATTRIBUTES/VARIABLE_VALUE")]
    assert len(rates) == 2 and all(float(r) == np.float32(5e-5) for r in rates)

    with open(run / "config.json") as f:
        segments = json.load(f)["segments"]
    assert [(s["start_step"], s["train"]["lr"], s["train"]["beta1"]) for s in segments] == [
        (0, 2e-4, 0.5), (4, 5e-5, 0.7)]

    path = export_savedmodel(str(run), base_path=str(tmp_path / "b"), name="r")
    with open(os.path.join(path, METADATA_ASSET)) as f:
        meta = json.load(f)
    assert meta["train"]["lr"] == 5e-5 and meta["step"] == 8
    assert [(s["steps"], s["train"]["lr"]) for s in meta["segments"]] == [([0, 4], 2e-4), ([4, 8], 5e-5)]


def test_resume_refuses_another_batch_size_in_one_line(tmp_path):
    run = tmp_path / "run"
    train(_cfg(run, max_steps=2), TINY, verbose=0)
    with pytest.raises(TrainingError, match="trained with --batch-size 32, not 64"):
        train(_cfg(run, max_steps=4, batch_size=64), TINY, verbose=0)


# Finding 3: damaged checkpoints.

def _truncate_largest_file(path):
    files = [os.path.join(path, n) for n in os.listdir(path) if n != "meta.json"]
    largest = max(files, key=os.path.getsize)
    with open(largest, "r+b") as f:
        f.truncate(os.path.getsize(largest) // 2)


def test_damaged_latest_checkpoint_falls_back_with_one_warning(tmp_path, caplog):
    run = tmp_path / "run"
    train(_cfg(run, max_steps=88), TINY, verbose=0)  # digits at batch 32: checkpoints 44, 88
    damaged = checkpoint.select(run, "last")
    _truncate_largest_file(damaged)
    with caplog.at_level(logging.WARNING, logger="dcgan_tf"):
        assert checkpoint.select(run, "last").endswith("ckpt-000000044")
    assert f"Skipping damaged checkpoint {damaged}" in caplog.text

    # export/probe/sample on the damaged one by step: one line; "last" falls back.
    result = CliRunner().invoke(
        cli, ["export", str(run), "--base-path", str(tmp_path / "b"), "--checkpoint", "88"])
    assert result.exit_code == 1 and "is damaged" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "step 44 " in CliRunner().invoke(
        cli, ["export", str(run), "--base-path", str(tmp_path / "b")]).output

    summary = train(_cfg(run, max_steps=88), TINY, verbose=0)
    assert summary["start_step"] == 44 and summary["step"] == 88
    assert checkpoint.damage(checkpoint.select(run, "last")) is None
    assert _metric_steps(run) == [44, 88]


# Finding 4: one metrics line per logged step after kills; stale temporary checkpoints.

def test_replayed_steps_log_once_and_stale_temp_dirs_are_removed(tmp_path):
    run = tmp_path / "run"
    train(_cfg(run, max_steps=88), TINY, verbose=0)
    # What a kill between an epoch's line and its checkpoint leaves (today's order, or a torn
    # line), plus a half-written checkpoint directory.
    import shutil

    shutil.rmtree(checkpoint.select(run, "last"))
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 2, "step": 88, "d_lo')
    os.makedirs(run / "checkpoints" / ".tmp-ckpt-killed")
    train(_cfg(run, max_steps=132), TINY, verbose=0)
    assert _metric_steps(run) == [44, 88, 132]
    assert not [n for n in os.listdir(run / "checkpoints") if n.startswith(".tmp-ckpt-")]


def test_a_line_lost_between_checkpoint_and_metrics_is_restored(tmp_path):
    run = tmp_path / "run"
    train(_cfg(run, max_steps=44), TINY, verbose=0)
    os.remove(run / "metrics.jsonl")  # Killed after the checkpoint, before its line.
    train(_cfg(run, max_steps=88), TINY, verbose=0)
    assert _metric_steps(run) == [44, 88]


# Finding 7: resume is exact.

def test_stopped_and_resumed_run_equals_an_uninterrupted_one(tmp_path):
    whole = train(_cfg(tmp_path / "whole", max_steps=40), TINY, verbose=0)
    train(_cfg(tmp_path / "split", max_steps=20), TINY, verbose=0)  # Mid-epoch (44 per epoch).
    split = train(_cfg(tmp_path / "split", max_steps=40), TINY, verbose=0)
    a, b = _weights(whole["checkpoint"]), _weights(split["checkpoint"])
    assert a.keys() == b.keys() and len(a) > 20
    different = [k for k in a if not np.array_equal(a[k], b[k])]
    assert not different, different[:5]


# Finding 6: serving_default checks z in the graph, where TF Serving runs it.

def _session_call(savedmodel, z):
    """Runs serving_default as a C++ session does: the feed is not checked against z's shape.

    Python's `Session.run` refuses a wrong shape before the graph runs; TF Serving does not,
    so the graph is imported with z mapped to a placeholder of any shape.
    """
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    model = saved_model_pb2.SavedModel()
    with open(os.path.join(savedmodel, "saved_model.pb"), "rb") as f:
        model.ParseFromString(f.read())
    meta = model.meta_graphs[0]
    signature = meta.signature_def["serving_default"]
    with tf.Graph().as_default() as graph:
        feed = tf.compat.v1.placeholder(tf.float32, [None, None])
        saver = tf.compat.v1.train.import_meta_graph(meta, input_map={signature.inputs["z"].name: feed})
        with tf.compat.v1.Session(graph=graph) as sess:
            saver.restore(sess, os.path.join(savedmodel, "variables", "variables"))
            return sess.run(graph.get_tensor_by_name(signature.outputs["images"].name), {feed: z})


@pytest.mark.parametrize("z, match", [
    (np.zeros((2, 7), np.float32), r"Expected `z` of shape \[N, 100\]"),
    (np.full((2, 100), np.nan, np.float32), r"Expected `z` of finite values"),
    (np.r_[np.zeros((1, 100)), np.full((1, 100), np.inf)].astype(np.float32),
     r"Expected `z` of finite values"),
])
def test_serving_default_rejects_bad_z_in_graph(digits_export, z, match):
    import tensorflow as tf

    _, savedmodel = digits_export
    assert _session_call(savedmodel, np.zeros((2, 100), np.float32)).shape == (2, 32, 32, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        _session_call(savedmodel, z)


# Fault injection: SIGKILL at random moments, checkpoint writes included.

_CHILD = textwrap.dedent("""
    import sys, time
    from dcgan_tf.training import checkpoint
    from dcgan_tf.config import ModelConfig, TrainConfig
    from dcgan_tf.training.run import train

    if sys.argv[2] == "slow":
        # Widen the checkpoint-write window so that kills land inside it.
        fsync = checkpoint.fsync
        checkpoint.fsync = lambda path: (time.sleep(0.05), fsync(path))
    train(TrainConfig(out=sys.argv[1], batch_size=128, max_steps=44, precision="fp32",
                      keep_checkpoints=100),
          ModelConfig(image_size=32, channels=1, ngf=8, ndf=8), verbose=0)
    print("done", flush=True)
""")


def _child(run, mode):
    return subprocess.Popen([sys.executable, "-c", _CHILD, str(run), mode], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _kill_at_random(run, rng):
    """Starts a child and SIGKILLs it inside a checkpoint write or at a random time.

    Returns:
        `"finished"` if the child completed first, else what the kill interrupted.
    """
    child = _child(run, "slow")
    ckpts, lock = os.path.join(run, "checkpoints"), os.path.join(run, locks.LOCK_FILE)
    in_write = rng.random() < 0.5
    deadline = time.monotonic() + 120
    while child.poll() is None and time.monotonic() < deadline:
        if in_write and os.path.isdir(ckpts) and any(
                n.startswith(".tmp-ckpt-") for n in os.listdir(ckpts)):
            time.sleep(rng.uniform(0.0, 0.15))
            break
        if not in_write and os.path.isfile(lock) and os.path.getsize(lock):
            # The child holds the run: from resume through training to checkpoint writes.
            deadline = min(deadline, time.monotonic() + rng.uniform(0.0, 3.0))
        time.sleep(0.002)
    if child.poll() is not None:
        child.communicate()
        return "finished"
    child.kill()
    child.wait()
    return "checkpoint write" if in_write else "random moment"


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_equals_an_unkilled_run(tmp_path):
    reference = tmp_path / "reference"
    assert _child(reference, "fast").communicate(timeout=600)[0].strip() == "done"
    run, rng, kills = tmp_path / "killed", np.random.default_rng(12), []
    while len(kills) < 10:
        outcome = _kill_at_random(run, rng)
        if outcome == "finished":  # Finished before its kill: start over, so 10 kills hit one run.
            run, kills = tmp_path / f"killed{rng.integers(1 << 30)}", []
            continue
        kills.append(outcome)
    assert "checkpoint write" in kills and "random moment" in kills
    assert _child(run, "fast").communicate(timeout=600)[0].strip() == "done"

    found = checkpoint.list_checkpoints(run)
    assert not [n for n in os.listdir(run / "checkpoints") if n.startswith(".tmp-ckpt-")]
    assert all(checkpoint.damage(path) is None for _, path in found)
    for _, path in found:  # Every checkpoint loads into a model.
        checkpoint.restore(build_gan(TINY, _cfg(run)), path)
    steps = _metric_steps(run)
    assert steps == sorted(set(steps)) == [11, 22, 33, 44]
    a = _weights(checkpoint.select(reference, "last"))
    b = _weights(checkpoint.select(run, "last"))
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a), "killed run's weights differ"


def test_runs_checkpointed_as_state_npz_still_load_and_damage_is_seen(tmp_path):
    from dcgan_tf.training import legacy_checkpoint

    gan = build_gan(TINY, _cfg(tmp_path))
    path = tmp_path / "checkpoints" / "ckpt-000000003"
    os.makedirs(path)
    arrays = {f"{group}/{i:04d}/{v.path}": v.numpy() + 1
              for group, variables in legacy_checkpoint._groups(gan).items()
              for i, v in enumerate(variables)}
    np.savez(path / "state.npz", **arrays)
    (path / "meta.json").write_text('{"step": 3, "epoch": 1, "metrics": {}}')
    other = build_gan(TINY, _cfg(tmp_path))
    assert checkpoint.restore(other, checkpoint.select(tmp_path))["step"] == 3
    assert np.array_equal(other.generator.variables[0].numpy(), gan.generator.variables[0].numpy() + 1)
    with open(path / "state.npz", "r+b") as f:
        f.truncate(1000)
    assert "BadZipFile" in checkpoint.damage(str(path))


def test_background_writes_keep_order_and_raise_in_the_training_thread():
    import threading

    from dcgan_tf.training.background import BackgroundWriter

    writer, done, release = BackgroundWriter(max_pending=2), [], threading.Event()
    writer.submit(lambda: (release.wait(5), done.append(1)))
    writer.submit(done.append, 2)
    release.set()
    writer.submit(done.append, 3)  # Waits for the first task to make room.
    writer.wait()
    assert done == [1, 2, 3]

    def fail():
        raise OSError("disk full")

    writer.submit(fail)
    with pytest.raises(OSError, match="disk full"):
        writer.close()
