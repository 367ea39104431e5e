"""Contrastive loss on D (SimCLR's NT-Xent, Chen et al. 2020; a GAN's auxiliary loss as in
ContraD, Jeong & Shin 2021): D tells two views of one real image from views of the others."""

import keras
import tensorflow as tf
from keras import ops

from dcgan_tf.training import augment, losses
from dcgan_tf.training.models import build_projection_head, with_last_features
from dcgan_tf.training.parts.base import LossTerm, deserialize, serialize, with_labels


@keras.saving.register_keras_serializable(package="dcgan_tf")
class ContrastiveLoss(LossTerm):
    """A projection head on D's last block, trained with D on two SimCLR views of each real image.

    Args:
        head: Model from D's flattened last block to projections
            (`models.build_projection_head`), trained with D.
        weight: Weight of D's contrastive loss, > 0.
        temperature: NT-Xent's temperature, > 0. Defaults to 0.5.

    Raises:
        ValueError: `weight` or `temperature` is not > 0.
    """

    name = "contrastive"
    position = 20

    def __init__(self, head, weight, temperature=0.5):
        if weight <= 0 or temperature <= 0:
            raise ValueError("Expected `weight` > 0 and `temperature` > 0. "
                             f"Received: weight={weight}, temperature={temperature}")
        self.head = head
        self.weight = float(weight)
        self.temperature = float(temperature)
        self.tracker = keras.metrics.Mean(name="d_contrastive_loss")
        self._features = None

    @classmethod
    def from_run(cls, model_cfg, train_cfg, new_generator):
        if not train_cfg.contrastive_weight:
            return None
        return cls(build_projection_head(model_cfg), train_cfg.contrastive_weight,
                   train_cfg.contrastive_temperature)

    def attach(self, gan):
        self._features = with_last_features(gan.discriminator)

    def checkpoint_objects(self):
        return {"contrastive_head": self.head}

    def d_variables(self):
        return self.head.trainable_variables

    def metrics(self):
        return [self.tracker]

    def d_loss(self, gan, images, labels):
        # Both views go through D in one call, so batch norm sees them together (as SimCLR's
        # global batch norm does).
        seeds = tf.random.experimental.stateless_split(gan.replica_seed(), num=2)
        views = ops.concatenate([augment.contrastive_view(images, seeds[0]),
                                 augment.contrastive_view(images, seeds[1])], axis=0)
        both = None if labels is None else ops.concatenate([labels, labels], axis=0)
        _, last = self._features(with_labels(views, both), training=True)
        a, b = ops.split(self.head(last, training=True), 2, axis=0)
        contrastive = ops.mean(losses.contrastive_loss(a, b, self.temperature))
        self.tracker.update_state(contrastive)
        return self.weight * contrastive

    def get_config(self):
        return {"head": serialize(self.head), "weight": self.weight,
                "temperature": self.temperature}

    @classmethod
    def from_config(cls, config):
        return cls(**{**config, "head": deserialize(config["head"])})


PART = ContrastiveLoss
