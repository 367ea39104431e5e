"""`RunConfig`: what one `dcgan-tf train` command line runs, built the same way in Python.

`RunConfig.from_recipe("semi", dataset="svhn", labels=100)` is `dcgan-tf train --recipe semi
--dataset svhn --labels 100`: the same three configurations (`--dry-run` prints `to_dict()`),
and the same statement of which options were given, which decides what a resume keeps
(`dcgan_tf.training.resume`).
"""

import dataclasses

from dcgan_tf import recipes
from dcgan_tf.config import FeatureConfig, ModelConfig, TrainConfig, default_widths
from dcgan_tf.data.datasets import native_shape


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """What one `dcgan-tf train` command line runs: the three configurations and what it stated.

    Build it with `from_recipe`; `dcgan_tf.train(run_config)` trains it, and `to_dict()` is what
    `dcgan-tf train --dry-run` prints.

    Args:
        train: The `TrainConfig`.
        model: The `ModelConfig`, or `None` for the dataset's shape (the stored one on resume).
        features: The `FeatureConfig` exports of the run default to.
        stated: The option names given explicitly, the recipe's options included when the
            recipe was named: on resume they must agree with the run's model state, and the
            others are taken from the run (`dcgan_tf.training.resume`).
    """

    train: TrainConfig
    model: ModelConfig | None
    features: FeatureConfig
    stated: frozenset = frozenset()

    @classmethod
    def from_recipe(cls, recipe=None, **values):
        """The configuration of `dcgan-tf train --recipe RECIPE --<option> VALUE ...`.

        Args:
            recipe: A recipe name; `None` for the default (`auto`), not stated, so that a
                resume keeps the run's own recipe.
            **values: Option values by name (`dataset="svhn"`, `labels=100`, `out=...`);
                `conditional=True` stands for `num_classes=10` unless that is given.

        Returns:
            A `RunConfig`.

        Raises:
            ValueError: on an unknown option or recipe, or an invalid configuration.
        """
        values = {k: v for k, v in values.items() if v is not None}
        if values.pop("conditional", False):
            values.setdefault("num_classes", 10)
        stated = set(values)
        if recipe is not None:  # A named preset states all its options, those it leaves off too.
            stated |= {"recipe", *recipes.PRESET_OPTIONS}
        resolved = recipes.resolve_name("auto" if recipe is None else recipe)
        model, train, features = recipes.split_values({**recipes.RECIPES[resolved], **values})
        train["recipe"] = resolved
        train_cfg = TrainConfig(**train)
        model_cfg = None
        if model:
            if "image_size" not in model or "channels" not in model:
                size, channels = native_shape(train_cfg.dataset, train_cfg.data_dir)
                model = {"image_size": size, "channels": channels, **model}
            model = {**default_widths(train_cfg.dataset), **model}
            model_cfg = ModelConfig(**model)
        return cls(train_cfg, model_cfg, FeatureConfig(**features), frozenset(stated))

    def to_dict(self):
        """The resolved configuration, as `dcgan-tf train --dry-run` prints it."""
        return {"train": self.train.to_dict(),
                "model": self.model.to_dict() if self.model else "dataset default",
                "features": self.features.to_dict()}
