"""Named recipes: presets of the options that depart from the paper, for `dcgan-tf train --recipe`.

`paper` is section 4 as written, every option off; `auto` names the preset the recipe study of
docs/results.md picked (`AUTO`). A preset sets only options declared with the `RECIPE` or
`MODEL` role in `dcgan_tf.options` (checked at import) and only supplies defaults: explicit
values override it.
"""

import dataclasses

from dcgan_tf import options
from dcgan_tf.config import AUTO_RECIPE, RECIPE_ALIASES, FeatureConfig, ModelConfig, TrainConfig

_PYRAMID = {"pooling": "pyramid", "flip": True, "shift": 2, "power": True}
RECIPES = {
    "paper": {},
    # Self-supervised GAN (Chen et al., CVPR 2019): D predicts the rotation of real images
    # (their beta = 1), G is rewarded when D can tell its images' rotations (alpha = 0.2).
    "ssgan": {"rotation_weight": 1.0, "rotation_weight_g": 0.2},
    # DiffAugment (Zhao et al. 2020): all three policies, as they use for small data sets.
    "diffaug": {"diffaugment": "translation,cutout,color"},
    # Spectral norm in D (Miyato et al. 2018) with TTUR's unequal rates as in SAGAN (Zhang et
    # al. 2019): D at 4e-4, G at 1e-4.
    "sngan": {"spectral_norm": True, "d_lr": 4e-4, "g_lr": 1e-4},
    # The paper's training (section 4 unchanged), its features read out with a 1x1+2x2+4x4
    # pyramid (spatial pyramid pooling, He et al. 2014), averaged over the image, its shifts
    # by 2 pixels and their mirror images, and power-normalised (Perronnin et al. 2010).
    "pyramid": dict(_PYRAMID),
    # A contrastive loss on D (SimCLR's NT-Xent between two augmented views of each real
    # image, Chen et al. 2020; as a GAN discriminator's auxiliary loss, Jeong & Shin 2021),
    # read out as `pyramid` is.
    "contrastive": {"contrastive_weight": 1.0, **_PYRAMID},
    # Semi-supervised D (Salimans et al. 2016): a K+1-class D on 1000 class-balanced labels
    # (the probe's draw 0), feature matching for G, D's inputs shifted and mirrored
    # (DiffAugment's translation, Zhao et al. 2020, and the mirror of Laine & Aila 2017), read
    # out as `pyramid` is; its study is in docs/results.md.
    "semi": {"labels": 1000, "diffaugment": "translation,flip", **_PYRAMID},
    # The candidates combined: rotation, augmentation and the richer probe features.
    "ssgan-da": {"rotation_weight": 1.0, "rotation_weight_g": 0.2,
                 "diffaugment": "translation,cutout,color", "pooling": "pyramid", "flip": True},
}
# The preset `--recipe auto` (the CLI's default) resolves to: the recipe study
# (`benchmarks/quality.py`; docs/results.md) found the paper's training with this read-out probed
# best at equal wall-clock budgets, at the paper's throughput and KID.
AUTO = AUTO_RECIPE
NAMES = (*RECIPES, "auto")
_CONFIGS = (ModelConfig, TrainConfig, FeatureConfig)
_PART = {f.name: cls for cls in _CONFIGS for f in dataclasses.fields(cls)}
# What a preset states: every option a preset may set, the ones it leaves off too.
PRESET_OPTIONS = tuple(name for name, cls in _PART.items()
                       if options.option(name).role == options.RECIPE
                       or any(name in values for values in RECIPES.values()))


def _check_presets():
    """Refuses a preset naming an unknown option, a run-time option or an invalid value."""
    if set(NAMES) != set(options.option("recipe").choices):
        raise ValueError(f"Expected the `recipe` option's choices to be {NAMES}.")
    for recipe, values in RECIPES.items():
        for name, value in values.items():
            if name not in _PART or options.option(name).role == options.RUN_TIME:
                raise ValueError(f"Expected recipe {recipe!r} to set recipe or model options of "
                                 f"the configs. Received: {name}={value!r}")
            options.option(name).validate(value)


_check_presets()


def resolve_name(name):
    """Returns the preset `name` stands for (`auto` -> `AUTO`; earlier names -> today's).

    Raises:
        ValueError: on an unknown name.
    """
    name = RECIPE_ALIASES.get(name, name)
    if name not in NAMES:
        raise ValueError(f"Expected `recipe` to be one of {NAMES}. Received: recipe={name!r}")
    return AUTO if name == "auto" else name


def split_values(values):
    """Splits flat option values into the `(model, train, features)` dicts."""
    parts = ({}, {}, {})
    for name, value in values.items():
        if name not in _PART:
            raise ValueError(f"Expected an option of ModelConfig, TrainConfig or FeatureConfig. "
                             f"Received: {name}={value!r}")
        parts[_CONFIGS.index(_PART[name])][name] = value
    return parts


def preset(name):
    """The `(model, train, features)` value dicts of recipe `name` (copies)."""
    return split_values(RECIPES[resolve_name(name)])


def feature_config(name):
    """The `FeatureConfig` (the export's default read-out) of recipe `name`."""
    return FeatureConfig(**preset(name)[2])


def apply(name, model_values, train_values, feature_values):
    """Merges recipe `name` under explicit values and builds the three configurations.

    Args:
        name: A recipe name (`NAMES`).
        model_values: Explicit `ModelConfig` fields (must include `image_size` and `channels`).
        train_values: Explicit `TrainConfig` fields.
        feature_values: Explicit `FeatureConfig` fields.

    Returns:
        `(ModelConfig, TrainConfig, FeatureConfig)`; `TrainConfig.recipe` is the resolved name.

    Raises:
        ValueError: on an unknown recipe or an invalid merged configuration.
    """
    resolved = resolve_name(name)
    model, train, features = preset(resolved)
    model.update(model_values)
    train.update(train_values, recipe=resolved)
    features.update(feature_values)
    return ModelConfig(**model), TrainConfig(**train), FeatureConfig(**features)
