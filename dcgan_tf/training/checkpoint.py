"""Atomic, checksummed checkpoints of a whole run: both networks, both optimizers, counters, RNG.

A checkpoint is a directory `RUN/checkpoints/ckpt-<step>/` holding a TensorFlow checkpoint
(`state.index`, `state.data-*`, readable with `tf.train.load_checkpoint`) and `meta.json`
(step, epoch, logged metrics and the SHA-256 of every other file). It is written to a hidden
temporary directory and renamed into place, so a killed run never leaves a half-written
checkpoint that resume or export would pick up; a checkpoint damaged afterwards fails its
checksum and `select("last")` falls back to the previous good one.

The generator is stored with the batch-norm statistics re-estimated for sampling (what
exports use), and its training-time moving statistics separately (`training_stats`), so a
resumed run continues exactly as an uninterrupted one. A run with `--g-ema` also stores the
running average of G's weights (`g_ema`, what training continues from) and `ema_generator`:
the average in a generator whose batch-norm statistics were re-estimated for it (what
`export --generator ema` serves).
"""

import json
import logging
import math
import os
import re
import shutil
import tempfile

import tensorflow as tf

from dcgan_tf.atomic import file_sha256, fsync, publish_dir, recover_dirs, save_json
from dcgan_tf.config import FeatureConfig, ModelConfig, TrainConfig
from dcgan_tf.training import legacy_checkpoint as legacy
from dcgan_tf.training import history
from dcgan_tf.training.errors import CheckpointError  # noqa: F401  (re-exported)
from dcgan_tf.training.models import build_discriminator, build_generator, dtype_policy

_NAME = re.compile(r"^ckpt-(\d+)$")
_TMP_PREFIX = ".tmp-ckpt-"
_DAMAGED_PREFIX = "damaged-"
# What `damage` says of a checkpoint deleted since it was listed (pruned by a training run).
PRUNED = "deleted meanwhile, e.g. pruned by a training run"
_PREFIX = "state"
# Which generator a read-only restore (export, sampling) takes: the trained one or the average.
GENERATORS = ("raw", "ema")

logger = logging.getLogger("dcgan_tf")


def _trackables(gan, training_stats=None):
    """What `tf.train.Checkpoint` saves: networks, optimizers, z RNG state, training BN stats."""
    if hasattr(gan, "checkpoint_objects"):  # A model: its networks and its parts' state.
        objects = gan.checkpoint_objects()
    else:
        objects = {"generator": gan.generator, "discriminator": gan.discriminator}
    if getattr(gan, "seed_generator", None) is not None:
        objects["rng"] = gan.seed_generator.state
    for name in ("d_optimizer", "g_optimizer"):
        if getattr(gan, name, None) is not None:
            objects[name] = getattr(gan, name)
    if training_stats is not None:
        objects["training_stats"] = training_stats
    return objects


def build_optimizers(gan):
    """Creates the optimizers' slot variables so that a restore can fill them."""
    gan.d_optimizer.build(gan.d_trainable_variables)
    gan.g_optimizer.build(gan.generator.trainable_variables)


def checkpoint_dir(run_dir):
    return os.path.join(run_dir, "checkpoints")


def list_checkpoints(run_dir):
    """Returns `[(step, path)]` of complete checkpoints, oldest first."""
    root = checkpoint_dir(run_dir)
    if not os.path.isdir(root):
        return []
    found = []
    for name in os.listdir(root):
        match = _NAME.match(name)
        path = os.path.join(root, name)
        if match and os.path.isfile(os.path.join(path, "meta.json")):
            found.append((int(match.group(1)), path))
    return sorted(found)


def read_meta(path):
    with open(os.path.join(path, "meta.json"), encoding="utf-8") as f:
        return json.load(f)


def damage(path):
    """Says what is wrong with checkpoint `path` (unreadable meta, missing file, checksum), or `None`."""
    if not os.path.isdir(path):
        return PRUNED
    run = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    inside = os.path.join(os.path.realpath(run), "checkpoints", os.path.basename(path))
    if os.path.realpath(path) != inside:
        return f"a symbolic link out of its run, to {os.path.realpath(path)}"
    try:
        meta = read_meta(path)
    except (OSError, ValueError) as e:
        if not os.path.isdir(path):
            return PRUNED
        return f"unreadable meta.json: {e}"
    if not isinstance(meta, dict):
        return "meta.json is not a JSON object"
    files = meta.get("files")
    if files is None:  # A checkpoint from before checksums: check that it opens.
        return legacy.damage(path)
    if not isinstance(files, dict):
        return "meta.json's file list is not an object"
    problem = _listing_problem(path, files)
    if problem:
        return problem
    for name, expected in sorted(files.items()):
        file = os.path.join(path, name)
        if not os.path.isfile(file):
            return f"{name} is missing"
        if file_sha256(file) != expected:
            return f"{name} fails its sha256 checksum"
    return None


def _listing_problem(path, files):
    """What differs between meta.json's file list and the directory (hand edits, links)."""
    present = set()
    for entry in os.scandir(path):
        if entry.name == "meta.json":
            continue
        if entry.is_symlink():
            return f"{entry.name} is a symbolic link (checkpoints hold their own files)"
        present.add(entry.name)
    listed = set(files)
    if not listed:
        return "meta.json lists no files"
    strange = [n for n in listed if not isinstance(n, str) or os.path.basename(n) != n
               or n in (".", "..")]
    if strange:
        return f"meta.json lists {strange[0]!r}, not a file of the checkpoint"
    if present - listed:
        return f"{sorted(present - listed)[0]} is not in meta.json's file list"
    return None


def remove_stale(run_dir):
    """Deletes temporary checkpoint directories left by killed writers (call under the run's lock)."""
    root = checkpoint_dir(run_dir)
    if os.path.isdir(root):
        recover_dirs(root)  # A replayed step's replacement killed between its renames.
        for entry in os.listdir(root):
            if entry.startswith(_TMP_PREFIX):
                shutil.rmtree(os.path.join(root, entry), ignore_errors=True)


def set_aside_after(run_dir, path):
    """Renames checkpoints newer than `path` (damaged ones skipped on resume) out of the way.

    They keep their files for inspection as `damaged-ckpt-*`, which nothing loads.
    """
    root = checkpoint_dir(run_dir)
    for _, other in list_checkpoints(run_dir):
        if os.path.basename(other) > os.path.basename(path):
            aside = os.path.join(root, _DAMAGED_PREFIX + os.path.basename(other))
            shutil.rmtree(aside, ignore_errors=True)  # One set aside earlier at the same step.
            os.replace(other, aside)


def save(gan, run_dir, step, epoch, metrics=None, keep=5, training_stats=None):
    """Writes checkpoint `ckpt-<step>` atomically, with checksums, and keeps the newest `keep`.

    The best checkpoint (see `select`) is kept too, so that a
    late collapse never deletes the good weights. Equivalent to `serialize` then `publish`.

    Args:
        gan: A built and compiled `DCGAN`.
        run_dir: The run directory.
        step: Training step, the checkpoint's name.
        epoch: Epochs completed.
        metrics: The logged figures, stored in `meta.json`.
        keep: How many recent checkpoints to keep. Defaults to 5.
        training_stats: The generator's non-trainable values (batch-norm moving statistics)
            that training continues from, when its variables hold statistics re-estimated
            for sampling. Defaults to the variables' current values.

    Returns:
        The checkpoint's path.
    """
    return publish(serialize(gan, run_dir, training_stats), run_dir, step, epoch, metrics, keep)


def serialize(gan, run_dir, training_stats=None):
    """Writes the run's state into a new hidden temporary directory and returns its path.

    This is the part of a checkpoint that reads the variables, so it runs between training
    steps; `publish` (checksums, fsync, rename, pruning) only touches files and can run on a
    background thread. A temporary directory never published is removed by `remove_stale`.
    """
    root = checkpoint_dir(run_dir)
    os.makedirs(root, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=root)
    if training_stats is None:
        training_stats = [v.numpy() for v in gan.generator.non_trainable_variables]
    stats = [tf.Variable(value, trainable=False) for value in training_stats]
    try:
        tf.train.Checkpoint(**_trackables(gan, stats)).write(os.path.join(tmp, _PREFIX))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def publish(tmp, run_dir, step, epoch, metrics=None, keep=5):
    """Turns `serialize`'s directory into checkpoint `ckpt-<step>`: checksums, fsync, rename, prune.

    Returns:
        The checkpoint's path.
    """
    root = checkpoint_dir(run_dir)
    final = os.path.join(root, f"ckpt-{step:09d}")
    try:
        files = {name: file_sha256(os.path.join(tmp, name)) for name in sorted(os.listdir(tmp))}
        save_json(
            os.path.join(tmp, "meta.json"),
            {"step": int(step), "epoch": int(epoch), "metrics": _clean(metrics or {}),
             "files": files},
        )
        for name in os.listdir(tmp):
            fsync(os.path.join(tmp, name))  # Data, then the rename: whole or absent.
        publish_dir(tmp, final, overwrite=True, sync=True)  # A replayed step replaces its own.
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _prune(run_dir, keep)
    return final


def _clean(metrics):
    out = {}
    for k, v in metrics.items():
        v = float(v)
        out[k] = v if math.isfinite(v) else None
    return out


def _best(found):
    # The lowest logged KID where the run scored (`--score-every`), else the highest
    # diversity score.
    kids, scored = [], []
    for step, path in found:
        try:
            metrics = read_meta(path)["metrics"]
        except (OSError, ValueError, KeyError):
            continue
        if metrics.get("kid") is not None:
            kids.append((metrics["kid"], step, path))
        if metrics.get("diversity_score") is not None:
            scored.append((metrics["diversity_score"], step, path))
    if kids:
        return min(kids)[2]
    return max(scored)[2] if scored else None


def _prune(run_dir, keep):
    found = list_checkpoints(run_dir)
    best = _best(found)
    for _, path in found[:-keep]:
        if path != best:
            shutil.rmtree(path, ignore_errors=True)


def select(run_dir, which="last"):
    """Picks a checkpoint path: `"last"`, `"best"` or a step number.

    `"best"` is the lowest logged `kid` where the run scored (`--score-every`), else the
    highest `diversity_score`.

    `"last"` and `"best"` skip damaged checkpoints with a one-line warning each.

    Raises:
        CheckpointError: when the run has no usable checkpoint, none at that step, or the
            one asked for by step is damaged.
    """
    found = list_checkpoints(run_dir)
    if not found:
        raise CheckpointError(
            f"No checkpoint in {checkpoint_dir(run_dir)}. Train first: dcgan-tf train --out {run_dir}"
        )
    if which in (None, "last", "best"):
        good = []
        for step, path in reversed(found):
            problem = damage(path)
            if problem == PRUNED:
                continue
            if problem is None:
                good.append((step, path))
                if which != "best":
                    break
            else:
                logger.warning("Skipping damaged checkpoint %s (%s).", path, problem)
        if not good:
            raise CheckpointError(
                f"Every checkpoint in {checkpoint_dir(run_dir)} is damaged; start a new run "
                "with another --out."
            )
        return (_best(good) if which == "best" else None) or good[0][1]
    try:
        step = int(which)
    except (TypeError, ValueError):
        raise CheckpointError(
            f"Expected checkpoint 'last', 'best' or a step number. Received: {which!r}"
        ) from None
    for s, p in found:
        if s == step:
            problem = damage(p)
            if problem is not None:
                raise CheckpointError(f"Checkpoint {p} is damaged ({problem}); pick another step.")
            return p
    raise CheckpointError(
        f"No checkpoint at step {step} in {checkpoint_dir(run_dir)}. "
        f"Available steps: {', '.join(str(s) for s, _ in found)}"
    )


def restore(gan, path, groups=None, generator="raw"):
    """Assigns the variables saved at `path` to `gan` (built, optimizers built).

    A full restore (no `groups`) puts the generator's training-time batch-norm statistics
    back, to continue training; a restore of `("generator", "discriminator")` keeps the
    statistics re-estimated for sampling.

    Args:
        gan: A `DCGAN`, or any object with `generator` and `discriminator`.
        path: A checkpoint directory.
        groups: Restrict to these groups (e.g. `("generator", "discriminator")`).
        generator: With `groups`, `"raw"` fills `gan.generator` with the trained generator,
            `"ema"` with the averaged one (a run trained with `--g-ema`). Defaults to `"raw"`.

    Returns:
        The checkpoint's metadata dict.

    Raises:
        CheckpointError: the checkpoint is damaged or was written for another model.
    """
    problem = damage(path)
    if problem is not None:
        raise CheckpointError(f"Checkpoint {path} is damaged ({problem}).")
    if not os.path.isfile(os.path.join(path, f"{_PREFIX}.index")):
        if generator == "ema":
            raise CheckpointError(
                f"Checkpoint {path} predates --g-ema: export it with --generator raw.")
        legacy.restore(gan, path, groups)
        return read_meta(path)
    if generator not in GENERATORS:
        raise CheckpointError(
            f"Expected `generator` in {GENERATORS}. Received: generator={generator!r}")
    objects = _trackables(gan)
    stats = None
    if generator == "ema":
        if groups is None:
            raise CheckpointError("Expected `groups` with generator='ema' (a read-only restore).")
        if "ema_generator" not in _checkpoint_keys(path):
            raise CheckpointError(
                f"Checkpoint {path} holds no averaged generator: the run was trained without "
                "--g-ema. Export the trained one with --generator raw."
            )
        objects["ema_generator"] = objects.pop("generator")
        groups = tuple("ema_generator" if g == "generator" else g for g in groups)
    if groups is None:
        stats = [tf.Variable(tf.zeros_like(v), trainable=False)
                 for v in gan.generator.non_trainable_variables]
        objects["training_stats"] = stats
    else:
        objects = {k: v for k, v in objects.items() if k in groups}
    try:
        status = tf.train.Checkpoint(**objects).read(os.path.join(path, _PREFIX))
        status.expect_partial()
        status.assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as e:
        raise CheckpointError(
            f"Checkpoint {path} does not fit this model ({str(e).splitlines()[0]}). "
            "Was it written with a different configuration?"
        ) from None
    if stats is not None:
        for variable, value in zip(gan.generator.non_trainable_variables, stats):
            variable.assign(value)
    return read_meta(path)


def _checkpoint_keys(path):
    """The top-level objects of checkpoint `path` (`generator`, `ema_generator`, ...)."""
    names = tf.train.list_variables(os.path.join(path, _PREFIX))
    return {name.split("/", 1)[0] for name, _ in names}


def read_arrays(path):
    """Every variable of checkpoint `path` as `{checkpoint key: NumPy array}`, for inspection."""
    prefix = os.path.join(path, _PREFIX)
    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(prefix)
            if name != "_CHECKPOINTABLE_OBJECT_GRAPH"}


def write_run_config(run_dir, model_cfg, train_cfg, segments=None, feature_cfg=None):
    """Writes `RUN/config.json`: the model, the latest flags and the history of segments.

    Args:
        run_dir: The run directory.
        model_cfg: The run's `ModelConfig`.
        train_cfg: The `TrainConfig` of the latest launch.
        segments: List of `{"start_step", "train", ...}`, one per launch, oldest first
            (see `dcgan_tf.training.history`).
        feature_cfg: The recipe's default `features` choices; the paper's when `None`.
    """
    os.makedirs(run_dir, exist_ok=True)
    payload = {"model": model_cfg.to_dict(), "train": train_cfg.to_dict(),
               "features": (feature_cfg or FeatureConfig()).to_dict()}
    if segments is not None:
        payload["segments"] = segments
    save_json(os.path.join(run_dir, "config.json"), payload)


def _read_raw_config(run_dir):
    path = os.path.join(run_dir, "config.json")
    if not os.path.isfile(path):
        raise CheckpointError(
            f"{run_dir} is not a run directory (no config.json). "
            "Pass the --out directory of a `dcgan-tf train` run."
        )
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except ValueError as e:
        raise CheckpointError(f"{path} is not valid JSON ({e}).") from None


def read_run_config(run_dir):
    """Returns `(ModelConfig, TrainConfig)` stored in `RUN/config.json` (the latest launch's flags)."""
    raw = _read_raw_config(run_dir)
    return ModelConfig.from_dict(raw["model"]), TrainConfig.from_dict(raw["train"])


def read_feature_config(run_dir):
    """The run's default `features` choices (`FeatureConfig`); the paper's when none is stored."""
    if not os.path.isfile(os.path.join(run_dir, "config.json")):
        return FeatureConfig()
    return FeatureConfig.from_dict(_read_raw_config(run_dir).get("features"))


def read_segments(run_dir):
    """The run's launches `[{"start_step", "train", ...}]`, oldest first; `[]` for older runs."""
    return list(_read_raw_config(run_dir).get("segments", []))


def load_networks(run_dir, which="last", generator="raw"):
    """Builds float32 G and D from a run's config and fills them from a checkpoint.

    Args:
        run_dir: A `dcgan-tf train` output directory.
        which: `"last"`, `"best"` or a step number.
        generator: `"raw"` (the trained generator) or `"ema"` (its weight average, a run
            trained with `--g-ema`). Defaults to `"raw"`.

    Returns:
        `(model_cfg, train_cfg, generator, discriminator, meta)`; `meta` has `step`,
        `epoch`, `metrics`, `path` and `segments` (what trained it, see
        `history.trained_segments`); `train_cfg` holds the flags of the launch that wrote it.
    """
    model_cfg, train_cfg = read_run_config(run_dir)
    segments = read_segments(run_dir)

    class _Nets:
        # float32 whatever precision trained them: their variables are float32 anyway.
        with dtype_policy("float32"):
            generator = build_generator(model_cfg)
            discriminator = build_discriminator(model_cfg)
        seed_generator = None

    nets = _Nets()
    for attempt in range(5):
        path = select(run_dir, which)
        try:
            meta = restore(nets, path, groups=("generator", "discriminator"),
                           generator=generator)
            break
        except CheckpointError:
            # A training run may prune the chosen checkpoint while it is read: take the one
            # `which` names now instead of calling the pruned one damaged.
            if attempt == 4 or which not in (None, "last", "best") or select(run_dir, which) == path:
                raise
            logger.info("Checkpoint %s was pruned while being read; taking %s.", path,
                        select(run_dir, which))
    meta["path"] = path
    meta["segments"] = history.trained_segments(segments, int(meta["step"]))
    if meta["segments"]:  # The flags that trained these weights, not the latest launch's.
        trained = meta["segments"][-1]["train"] or {}  # None: a launch from before segments.
        train_cfg = TrainConfig.from_dict({**train_cfg.to_dict(), **trained})
    return model_cfg, train_cfg, nets.generator, nets.discriminator, meta
