"""Generator averaging (Yazici et al. 2019): an exponential moving average of G's weights."""

import keras
from keras import ops

from dcgan_tf.training.models import recalibrate_batchnorm
from dcgan_tf.training.parts.base import GANPart, deserialize, serialize


@keras.saving.register_keras_serializable(package="dcgan_tf")
class GeneratorAverage(GANPart):
    """Keeps `ema <- decay * ema + (1 - decay) * w` of G's trainable weights after every step.

    The average starts at G's initial weights. Before each checkpoint it is copied into
    `generator`, a network shaped as G whose batch-norm statistics are re-estimated for the
    averaged weights (the running statistics of training belong to the raw weights); that
    network is what `export --generator ema` serves.

    Args:
        decay: The average's decay, in (0, 1).
        generator: A network shaped as the trained generator.

    Raises:
        ValueError: `decay` is not in (0, 1).
    """

    name = "ema"
    position = 40

    def __init__(self, decay, generator):
        if not 0 < decay < 1:
            raise ValueError(f"Expected `decay` in (0, 1). Received: decay={decay}")
        self.decay = float(decay)
        self.generator = generator
        self.weights = []

    @classmethod
    def from_run(cls, model_cfg, train_cfg, new_generator):
        return cls(train_cfg.g_ema, new_generator()) if train_cfg.g_ema else None

    def attach(self, gan):
        # Each replica computes the same update from the same (synchronised) weights: the
        # first replica's value is kept.
        self.weights = [
            keras.Variable(ops.convert_to_tensor(v), trainable=False, name=f"ema_{v.name}",
                           aggregation="only_first_replica")
            for v in gan.generator.trainable_variables
        ]

    def checkpoint_objects(self):
        # The running average itself, and the network holding it with its own batch norm.
        return {"ema_generator": self.generator,
                "g_ema": [getattr(v, "value", v) for v in self.weights]}

    def after_train_step(self, gan):
        for average, weight in zip(self.weights, gan.generator.trainable_variables):
            weight = ops.cast(weight, average.dtype)
            average.assign(self.decay * average + (1.0 - self.decay) * weight)

    def sync(self):
        """Copies the average into `generator` (its batch norm is left as it was)."""
        for target, average in zip(self.generator.trainable_variables, self.weights):
            target.assign(average.numpy())

    def before_checkpoint(self, gan, batches):
        self.sync()
        recalibrate_batchnorm(self.generator, batches(1))

    def get_config(self):
        return {"decay": self.decay, "generator": serialize(self.generator)}

    @classmethod
    def from_config(cls, config):
        return cls(config["decay"], deserialize(config["generator"]))


PART = GeneratorAverage
