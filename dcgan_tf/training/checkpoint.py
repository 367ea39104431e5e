"""Atomic checkpoints of a whole run: both networks, both optimizers, counters and z RNG state.

A checkpoint is a directory `RUN/checkpoints/ckpt-<step>/` holding `state.npz` (every variable,
keyed by group and Keras path) and `meta.json` (step, epoch, logged metrics). It is written
to a hidden temporary directory and renamed into place, so a killed run never leaves a
half-written checkpoint that resume or export would pick up.
"""

import json
import math
import os
import re
import shutil
import tempfile

import numpy as np

from dcgan_tf.atomic import save_json
from dcgan_tf.config import FeatureConfig, ModelConfig, TrainConfig

_NAME = re.compile(r"^ckpt-(\d+)$")


class CheckpointError(ValueError):
    """A checkpoint or run directory that cannot be used."""


def _groups(gan):
    groups = {
        "generator": gan.generator.variables,
        "discriminator": gan.discriminator.variables,
    }
    if getattr(gan, "rotation_head", None) is not None:
        groups["rotation_head"] = gan.rotation_head.variables
    if getattr(gan, "seed_generator", None) is not None:
        groups["rng"] = [gan.seed_generator.state]
    for name in ("d_optimizer", "g_optimizer"):
        opt = getattr(gan, name, None)
        if opt is not None:
            groups[name] = opt.variables
    return groups


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


def save(gan, run_dir, step, epoch, metrics=None, keep=5):
    """Writes checkpoint `ckpt-<step>` atomically and keeps the newest `keep`.

    The best checkpoint (see `select`) is kept too, so that a
    late collapse never deletes the good weights.

    Returns:
        The checkpoint's path.
    """
    root = checkpoint_dir(run_dir)
    os.makedirs(root, exist_ok=True)
    final = os.path.join(root, f"ckpt-{step:09d}")
    tmp = tempfile.mkdtemp(prefix=".tmp-ckpt-", dir=root)
    try:
        arrays = {}
        for group, variables in _groups(gan).items():
            for i, v in enumerate(variables):
                arrays[f"{group}/{i:04d}/{v.path}"] = np.asarray(v.numpy())
        np.savez(os.path.join(tmp, "state.npz"), **arrays)
        save_json(
            os.path.join(tmp, "meta.json"),
            {"step": int(step), "epoch": int(epoch), "metrics": _clean(metrics or {})},
        )
        if os.path.exists(final):
            shutil.rmtree(final)
        os.rename(tmp, final)
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


def _prune(run_dir, keep):
    found = list_checkpoints(run_dir)
    best = select(run_dir, "best") if found else None
    for _, path in found[:-keep]:
        if path != best:
            shutil.rmtree(path, ignore_errors=True)


def select(run_dir, which="last"):
    """Picks a checkpoint path: `"last"`, `"best"` or a step number.

    `"best"` is the lowest logged `kid` where the run scored (`--score-every`), else the
    highest `diversity_score`.

    Raises:
        CheckpointError: when the run has no checkpoint, or none at that step.
    """
    found = list_checkpoints(run_dir)
    if not found:
        raise CheckpointError(
            f"No checkpoint in {checkpoint_dir(run_dir)}. Train first: dcgan-tf train --out {run_dir}"
        )
    if which in (None, "last"):
        return found[-1][1]
    if which == "best":
        metrics = [(read_meta(p)["metrics"], s, p) for s, p in found]
        kids = [(m["kid"], s, p) for m, s, p in metrics if m.get("kid") is not None]
        if kids:
            return min(kids)[2]
        scored = [(m.get("diversity_score"), s, p) for m, s, p in metrics]
        scored = [t for t in scored if t[0] is not None]
        return max(scored)[2] if scored else found[-1][1]
    try:
        step = int(which)
    except (TypeError, ValueError):
        raise CheckpointError(
            f"Expected checkpoint 'last', 'best' or a step number. Received: {which!r}"
        ) from None
    for s, p in found:
        if s == step:
            return p
    raise CheckpointError(
        f"No checkpoint at step {step} in {checkpoint_dir(run_dir)}. "
        f"Available steps: {', '.join(str(s) for s, _ in found)}"
    )


def restore(gan, path, groups=None):
    """Assigns the variables saved at `path` to `gan` (built, optimizers built).

    Args:
        gan: A `DCGAN`, or any object with `generator` and `discriminator`.
        path: A checkpoint directory.
        groups: Restrict to these groups (e.g. `("generator", "discriminator")`).

    Returns:
        The checkpoint's metadata dict.
    """
    state = np.load(os.path.join(path, "state.npz"))
    saved = {}
    for key in state.files:
        group, index, _ = key.split("/", 2)
        saved.setdefault(group, {})[int(index)] = state[key]
    for group, variables in _groups(gan).items():
        if groups is not None and group not in groups:
            continue
        values = saved.get(group, {})
        if len(values) != len(variables):
            raise CheckpointError(
                f"Checkpoint {path} has {len(values)} {group} variables, the model has "
                f"{len(variables)}. Was it written with a different configuration?"
            )
        for i, v in enumerate(variables):
            if tuple(values[i].shape) != tuple(v.shape):
                raise CheckpointError(
                    f"Checkpoint {path}: {group} variable {v.path} has shape {values[i].shape}, "
                    f"the model expects {tuple(v.shape)}."
                )
            v.assign(values[i])
    return read_meta(path)


def write_run_config(run_dir, model_cfg, train_cfg, feature_cfg=None):
    os.makedirs(run_dir, exist_ok=True)
    features = (feature_cfg or FeatureConfig()).to_dict()
    save_json(
        os.path.join(run_dir, "config.json"),
        {"model": model_cfg.to_dict(), "train": train_cfg.to_dict(), "features": features},
    )


def read_feature_config(run_dir):
    """The run's default `features` choices (`FeatureConfig`); the paper's when none is stored."""
    path = os.path.join(run_dir, "config.json")
    if not os.path.isfile(path):
        return FeatureConfig()
    with open(path, encoding="utf-8") as f:
        return FeatureConfig.from_dict(json.load(f).get("features"))


def read_run_config(run_dir):
    """Returns `(ModelConfig, TrainConfig)` stored in `RUN/config.json`."""
    path = os.path.join(run_dir, "config.json")
    if not os.path.isfile(path):
        raise CheckpointError(
            f"{run_dir} is not a run directory (no config.json). "
            "Pass the --out directory of a `dcgan-tf train` run."
        )
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    return ModelConfig.from_dict(raw["model"]), TrainConfig.from_dict(raw["train"])


def load_networks(run_dir, which="last"):
    """Builds float32 G and D from a run's config and fills them from a checkpoint.

    Args:
        run_dir: A `dcgan-tf train` output directory.
        which: `"last"`, `"best"` or a step number.

    Returns:
        `(model_cfg, train_cfg, generator, discriminator, meta)`; `meta` has `step`,
        `epoch`, `metrics` and `path`.
    """
    from dcgan_tf.training.models import build_discriminator, build_generator, dtype_policy

    model_cfg, train_cfg = read_run_config(run_dir)
    path = select(run_dir, which)

    class _Nets:
        # float32 whatever precision trained them: their variables are float32 anyway.
        with dtype_policy("float32"):
            generator = build_generator(model_cfg)
            discriminator = build_discriminator(model_cfg)
        seed_generator = None

    nets = _Nets()
    meta = restore(nets, path, groups=("generator", "discriminator"))
    meta["path"] = path
    return model_cfg, train_cfg, nets.generator, nets.discriminator, meta
