"""The class-conditional DCGAN of the paper's supplementary material: both networks take a label."""

import keras
import tensorflow as tf
from keras import ops

from dcgan_tf.training.gan import DCGAN


@keras.saving.register_keras_serializable(package="dcgan_tf")
class ConditionalDCGAN(DCGAN):
    """A DCGAN whose G and D take `[x, label]` and which trains on `(images, labels)` batches.

    G draws its fakes for uniformly random classes. The number of classes is read from the
    networks (their `onehot` layer, `models.build_generator` for a config with
    `num_classes`). Arguments as `DCGAN`'s.

    Raises:
        ValueError: the generator has no `onehot` layer (an unconditional network).
    """

    def __init__(self, generator, discriminator, z_dim, z_dist="uniform", seed=None, parts=(),
                 **kwargs):
        try:
            onehot = generator.get_layer("onehot")
        except ValueError:
            raise ValueError("Expected a conditional generator (one with a `onehot` label "
                             f"layer). Received: {generator.name}") from None
        super().__init__(generator, discriminator, z_dim, z_dist, seed, parts, **kwargs)
        self.conditional_classes = int(onehot.num_tokens)

    def sample_labels(self, n):
        """Draws `n` uniformly random class labels (int32, shape (n, 1))."""
        seed = self.replica_seed()
        return tf.random.stateless_uniform((n, 1), seed, 0, self.conditional_classes,
                                           dtype=tf.int32)

    def unpack(self, data):
        images, labels = data
        return images, ops.reshape(ops.cast(labels, "int32"), (-1, 1))
