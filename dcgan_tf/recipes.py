"""Named recipes: presets of the options that depart from the paper, for `dcgan-tf train --recipe`.

`paper` is section 4 as written, every option off. The others are candidates for the feature
study of issue 14, each from the paper that proposed it; `auto` names the one the study picks
(`AUTO`). A preset only supplies defaults: explicit flags override its values.
"""

from dcgan_tf.config import AUTO_RECIPE, FeatureConfig, ModelConfig, TrainConfig

# Each preset: values for ModelConfig ("model"), TrainConfig ("train") and FeatureConfig
# ("features"); what a preset leaves out keeps the paper's default.
RECIPES = {
    "paper": {},
    # Self-supervised GAN (Chen et al., CVPR 2019): D predicts the rotation of real images
    # (their beta = 1), G is rewarded when D can tell its images' rotations (alpha = 0.2).
    "ssgan": {"train": {"rotation_weight": 1.0, "rotation_weight_g": 0.2}},
    # DiffAugment (Zhao et al. 2020): all three policies, as they use for small data sets.
    "diffaug": {"train": {"diffaugment": "translation,cutout,color"}},
    # Spectral norm in D (Miyato et al. 2018) with TTUR's unequal rates as in SAGAN (Zhang et
    # al. 2019): D at 4e-4, G at 1e-4.
    "sngan": {"model": {"spectral_norm": True}, "train": {"d_lr": 4e-4, "g_lr": 1e-4}},
    # The paper's training (section 4 unchanged), its features read out with a 1x1+2x2+4x4
    # pyramid (spatial pyramid pooling, He et al. 2014), averaged over the image, its shifts
    # by 2 pixels and their mirror images, and power-normalised (Perronnin et al. 2010).
    "probe": {"features": {"pooling": "pyramid", "flip": True, "shift": 2, "power": True}},
    # A contrastive loss on D (SimCLR's NT-Xent between two augmented views of each real
    # image, Chen et al. 2020; as a GAN discriminator's auxiliary loss, Jeong & Shin 2021),
    # read out as `probe` is.
    "contrastive": {
        "train": {"contrastive_weight": 1.0},
        "features": {"pooling": "pyramid", "flip": True, "shift": 2, "power": True},
    },
    # Semi-supervised D (Salimans et al. 2016, "Improved Techniques for Training GANs"): a
    # K+1-class D on 1000 class-balanced labels (the probe's draw 0), feature matching for G,
    # D's inputs shifted and mirrored (DiffAugment's translation, Zhao et al. 2020, and the
    # mirror of Laine & Aila 2017), read out as `probe` is. Issue 27's study (dev colour set,
    # 11,969 steps): `classify` 62.6% at 1000 labels and 71.4% at 4000, against 50.2% for the
    # unaugmented D with dropout and 57.9% / 66.4% for the default's SVM probe.
    "semi": {
        "model": {"labels": 1000},
        "train": {"diffaugment": "translation,flip"},
        "features": {"pooling": "pyramid", "flip": True, "shift": 2, "power": True},
    },
    # The candidates combined: rotation, augmentation and the richer probe features.
    "ssgan-da": {
        "train": {"rotation_weight": 1.0, "rotation_weight_g": 0.2,
                  "diffaugment": "translation,cutout,color"},
        "features": {"pooling": "pyramid", "flip": True},
    },
}
# The preset `--recipe auto` (the CLI's default) resolves to, chosen by the study of
# issue 14 (benchmarks/README.md, "Recipe study"): at equal 10-minute budgets on the dev
# colour set, the paper's training read out with the pyramid and mirror averaging probed
# best at 1000 labels (51.7% against 47.2% for the paper's read-out, 50.6% for ssgan-da and
# under 47% for rotation or DiffAugment alone with the paper's read-out), at the paper's
# throughput and KID. At 30 minutes (9,500 steps) its read-out gained the 2-pixel shifts and
# the signed square root: 57.6% against 51.3% (1000 labels) and 66.3% against 58.8% (4000
# labels), against 55.1% and 63.2% with the pyramid and mirror alone.
AUTO = AUTO_RECIPE
NAMES = (*RECIPES, "auto")


def resolve_name(name):
    """Returns the preset `name` stands for (`auto` -> `AUTO`).

    Raises:
        ValueError: on an unknown name.
    """
    if name not in NAMES:
        raise ValueError(f"Expected `recipe` to be one of {NAMES}. Received: recipe={name!r}")
    return AUTO if name == "auto" else name


def preset(name):
    """The `(model, train, features)` value dicts of recipe `name` (copies)."""
    values = RECIPES[resolve_name(name)]
    return tuple(dict(values.get(part, {})) for part in ("model", "train", "features"))


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
    train.update(train_values)
    features.update(feature_values)
    train["recipe"] = resolved
    return ModelConfig(**model), TrainConfig(**train), FeatureConfig(**features)
