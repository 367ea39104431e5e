"""Self-supervised rotation loss (Chen et al. 2019): D also predicts how real images were rotated."""

import keras
from keras import ops

from dcgan_tf.training import augment, losses
from dcgan_tf.training.models import build_rotation_head, with_last_features
from dcgan_tf.training.parts.base import LossTerm, deserialize, serialize, with_labels


@keras.saving.register_keras_serializable(package="dcgan_tf")
class RotationLoss(LossTerm):
    """A head on D's flattened last block classifies each image's rotation (0/90/180/270).

    D is trained to recognise the rotations of real images; G, with `g_weight`, to make the
    rotations of its own images recognisable (their beta and alpha).

    Args:
        head: Model from D's flattened last block to 4 rotation logits
            (`models.build_rotation_head`), trained with D.
        weight: Weight of D's rotation loss on real images, > 0.
        g_weight: Weight of G's rotation loss on its images. Defaults to 0.

    Raises:
        ValueError: `weight` is not > 0 or `g_weight` is negative.
    """

    name = "rotation"
    position = 10

    def __init__(self, head, weight, g_weight=0.0):
        if weight <= 0 or g_weight < 0:
            raise ValueError("Expected `weight` > 0 and `g_weight` >= 0. "
                             f"Received: weight={weight}, g_weight={g_weight}")
        self.head = head
        self.weight = float(weight)
        self.g_weight = float(g_weight)
        self.tracker = keras.metrics.Mean(name="d_rotation_loss")
        self._features = None

    @classmethod
    def from_run(cls, model_cfg, train_cfg, new_generator):
        if not train_cfg.rotation_weight:
            return None
        return cls(build_rotation_head(model_cfg), train_cfg.rotation_weight,
                   train_cfg.rotation_weight_g)

    def attach(self, gan):
        # D's view returning its flattened last block too; it shares D's layers.
        self._features = with_last_features(gan.discriminator)

    def checkpoint_objects(self):
        return {"rotation_head": self.head}

    def d_variables(self):
        return self.head.trainable_variables

    def metrics(self):
        return [self.tracker]

    def loss(self, images, labels):
        """Mean cross-entropy of the head on `images` rotated by (i mod 4) * 90 degrees."""
        rotated, targets = augment.rotate_batch(images)
        _, last = self._features(with_labels(rotated, labels), training=True)
        logits = self.head(last, training=True)
        return ops.mean(losses.rotation_loss(logits, targets))

    def d_loss(self, gan, images, labels):
        rotation = self.loss(images, labels)
        self.tracker.update_state(rotation)
        return self.weight * rotation

    def g_loss(self, gan, images, labels):
        if not self.g_weight:
            return None
        return self.g_weight * self.loss(images, labels)

    def get_config(self):
        return {"head": serialize(self.head), "weight": self.weight, "g_weight": self.g_weight}

    @classmethod
    def from_config(cls, config):
        return cls(**{**config, "head": deserialize(config["head"])})


PART = RotationLoss
