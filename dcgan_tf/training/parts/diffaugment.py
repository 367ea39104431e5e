"""DiffAugment (Zhao et al. 2020) as a part: the same random transforms on every image D sees."""

import keras

from dcgan_tf.config import parse_policies
from dcgan_tf.training import augment
from dcgan_tf.training.parts.base import InputTransform


@keras.saving.register_keras_serializable(package="dcgan_tf")
class DiffAugment(InputTransform):
    """Transforms D's inputs, real and generated, in D's step and in G's (one draw per step).

    Args:
        policy: Comma-separated policies of `config.AUGMENTATIONS`, e.g.
            `"translation,cutout,color"`.

    Raises:
        ValueError: on an unknown or repeated policy, or none.
    """

    name = "diffaugment"
    position = 30

    def __init__(self, policy):
        names = parse_policies(policy)
        if not names:
            raise ValueError(f"Expected at least one DiffAugment policy. Received: policy={policy!r}")
        self.policy = ",".join(names)

    @classmethod
    def from_run(cls, model_cfg, train_cfg, new_generator):
        return cls(train_cfg.diffaugment) if parse_policies(train_cfg.diffaugment) else None

    def transform(self, images, seed):
        return augment.diff_augment(images, self.policy, seed)

    def get_config(self):
        return {"policy": self.policy}


PART = DiffAugment
