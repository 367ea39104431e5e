"""Resuming a run: one rule for every option, by its role in `dcgan_tf.options`.

- A `MODEL` option (the networks' shape, the semi-supervised labels, D's heads, the generator's
  average, fp16's loss scale) decides the checkpoint's variables: the run keeps its own. A
  launch that states another value, by a flag or by its recipe, is refused in one line naming
  the option, before anything is noted or trained.
- A recipe option that only changes training (augmentation, learning rates, loss weights) may
  change: a launch naming a recipe trains with that recipe's values, says so in one note, and
  its segment in `config.json` records them. A launch naming no recipe keeps the run's.
- The dataset and batch size must match (steps count batches); another `--data-dir` is noted.
"""

import dataclasses
import logging
import os

from dcgan_tf import options
from dcgan_tf.config import ModelConfig, TrainConfig, default_widths
from dcgan_tf.recipes import PRESET_OPTIONS

logger = logging.getLogger("dcgan_tf")


class ResumeError(ValueError):
    """This launch contradicts the run it would resume."""


def _flag(name):
    return options.option(name).flag_name


def _shown(value):
    return repr(value) if value == "" else value


def _refuse(out, name, old, new, what=None):
    state = f" ({what}: {'present' if options.option(name).state_key(old) else 'absent'})" \
        if what else ""
    raise ResumeError(
        f"{out} was trained with {_flag(name)} {_shown(old)}{state}, not {_shown(new)}: the "
        "checkpoint's variables depend on it. Resume with the same value (or leave it out), or "
        "use a new run directory."
    )


def _stated(stated, train_cfg, model_cfg):
    if stated is not None:
        return set(stated)
    # A library caller states its whole configuration (the model's only when given).
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    if model_cfg is not None:
        names |= {f.name for f in dataclasses.fields(ModelConfig)}
    return names


def check_model(out, saved, requested, stated):
    """Refuses a stated model option that differs from the run's.

    Args:
        out: The run directory, for the message.
        saved: The run's `ModelConfig`.
        requested: This launch's `ModelConfig`; `None` when it gave no model option, where a
            named recipe still states its own (e.g. `--recipe paper`: no spectral norm, no labels).
        stated: The option names this launch stated.

    Raises:
        ResumeError: one line naming the first such option.
    """
    for f in dataclasses.fields(ModelConfig):
        if f.name not in stated:
            continue
        old = getattr(saved, f.name)
        new = getattr(requested, f.name) if requested is not None else f.default
        if f.name == "label_classes" and not new:
            continue  # Filled in by training.
        if old != new:
            raise ResumeError(
                f"{out} holds a different model: it was trained with {_flag(f.name)} "
                f"{_shown(old)}, not {_shown(new)}. Resume with the same value (or leave it "
                "out), or use a new run directory.")


def reconcile(saved_model, saved_train, model_cfg, train_cfg, stated=None):
    """The configuration a resume trains with, and its notes.

    Args:
        saved_model, saved_train: The run's stored `ModelConfig` and `TrainConfig` (its
            latest launch).
        model_cfg: This launch's `ModelConfig`, or `None` (the run's).
        train_cfg: This launch's `TrainConfig`.
        stated: Option names this launch stated (`RunConfig.stated`); `None` counts every
            field as stated (a library caller states its whole configuration).

    Returns:
        `(model_cfg, train_cfg, notes)`: the run's model, the training configuration, and
        one-line notes on what came from where.

    Raises:
        ResumeError: one line naming the option that contradicts the run.
    """
    out = train_cfg.out
    stated = _stated(stated, train_cfg, model_cfg)
    check_model(out, saved_model, model_cfg, stated)
    taken = {}
    for f in dataclasses.fields(TrainConfig):
        opt = f.metadata["option"]
        old, new = getattr(saved_train, f.name), getattr(train_cfg, f.name)
        contradicts = opt.role == options.MODEL and opt.state_key(old) != opt.state_key(new)
        if contradicts and f.name in stated:
            _refuse(out, f.name, old, new, opt.state)
        if old == new or f.name in stated:
            continue
        if opt.role == options.MODEL or (f.name in PRESET_OPTIONS and "recipe" not in stated):
            taken[f.name] = old
    if saved_train.dataset != train_cfg.dataset:
        raise ResumeError(f"{out} holds a run on dataset {saved_train.dataset!r}, not "
                          f"{train_cfg.dataset!r}. Use a new run directory.")
    if saved_train.batch_size != train_cfg.batch_size:
        # Steps count batches: another size would shift every epoch boundary and the position
        # in the data that the resume continues from.
        raise ResumeError(f"{out} was trained with --batch-size {saved_train.batch_size}, not "
                          f"{train_cfg.batch_size}. Resume with the same batch size, or use a "
                          "new run directory.")
    notes = []
    if taken:
        shown = ", ".join(f"{_flag(k)} {_shown(v)}" for k, v in sorted(taken.items()))
        notes.append(f"Resuming with the run's own {shown} (not given on this launch).")
        train_cfg = dataclasses.replace(train_cfg, **taken)
    changed = {name: getattr(saved_train, name) for name in PRESET_OPTIONS
               if name in stated and hasattr(saved_train, name) and name != "recipe"
               and getattr(saved_train, name) != getattr(train_cfg, name)}
    if "recipe" in stated and changed:
        shown = ", ".join(f"{_flag(k)} {_shown(getattr(train_cfg, k))} (was {_shown(v)})"
                          for k, v in sorted(changed.items()))
        notes.append(f"Resuming with --recipe {train_cfg.recipe}'s training options: {shown}; "
                     "recorded in this launch's segment.")
    if saved_train.data_dir != train_cfg.data_dir:
        notes.append(f"Resuming with --data-dir {train_cfg.data_dir}, not the run's "
                     f"{saved_train.data_dir} (recorded in the run's segments).")
    return saved_model, train_cfg, notes


def resolve(train_cfg, model_cfg, stated, read_run_config, native_shape):
    """`(model_cfg, train_cfg, resuming)` of a launch: a new run's, or a resume's (`reconcile`).

    Args:
        train_cfg, model_cfg, stated: As for `reconcile`; `model_cfg` `None` takes the
            dataset's shape for a new run.
        read_run_config: `run_dir -> (ModelConfig, TrainConfig)` of a stored run.
        native_shape: `(dataset, data_dir) -> (image_size, channels)`.

    Raises:
        ResumeError: this launch contradicts the stored run.
    """
    if os.path.isfile(os.path.join(train_cfg.out, "config.json")):
        saved_model, saved_train = read_run_config(train_cfg.out)
        model_cfg, train_cfg, notes = reconcile(saved_model, saved_train, model_cfg, train_cfg,
                                                stated)
        for note in notes:
            (logger.warning if "--data-dir" in note else logger.info)("%s", note)
        return model_cfg, train_cfg, True
    if model_cfg is None:
        size, channels = native_shape(train_cfg.dataset, train_cfg.data_dir)
        model_cfg = ModelConfig(image_size=size, channels=channels,
                                **default_widths(train_cfg.dataset))
    return model_cfg, train_cfg, False
