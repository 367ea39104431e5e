"""Reading checkpoints of dcgan-tf before TensorFlow checkpoints: `ckpt-<step>/state.npz`.

Each variable was stored under `<group>/<index>/<Keras path>`, groups and order as in
`_groups`. Kept so that runs trained before the change still resume and export.
"""

import os

import numpy as np

from dcgan_tf.training.errors import CheckpointError


def _groups(gan):
    """The variables of a legacy `state.npz` checkpoint, by group, in a fixed order."""
    groups = {
        "generator": gan.generator.variables,
        "discriminator": gan.discriminator.variables,
    }
    if getattr(gan, "seed_generator", None) is not None:
        groups["rng"] = [gan.seed_generator.state]
    for name in ("d_optimizer", "g_optimizer"):
        opt = getattr(gan, name, None)
        if opt is not None:
            groups[name] = opt.variables
    return groups


def damage(path):
    """Says why `path/state.npz` cannot be read, or `None`."""
    try:
        with np.load(os.path.join(path, "state.npz")) as state:
            for key in state.files:
                state[key]
    except Exception as e:  # zipfile, zlib and NumPy each raise their own kind.
        return f"unreadable state.npz: {type(e).__name__}: {e}"
    return None


def restore(gan, path, groups=None):
    """Restores a legacy `state.npz` checkpoint (dcgan-tf before TensorFlow checkpoints)."""
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
