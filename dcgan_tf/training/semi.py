"""The semi-supervised DCGAN of Salimans et al. (2016): D is a K+1-class classifier.

D ends in K class logits; its real/fake logit is their log-sum-exp (the fake class's logit
fixed at 0, `models.build_discriminator` for a config with `labels`). It trains on the
labelled, the unlabelled and the generated batch, and G matches the mean of D's features on
real data (feature matching) instead of fooling D's logit.
"""

import keras
import tensorflow as tf
from keras import ops

from dcgan_tf.training import losses
from dcgan_tf.training.gan import DCGAN, replica_scale, total
from dcgan_tf.training.models import with_class_logits

# Weight of the unsupervised loss beside the supervised one in D's loss: Salimans et al.'s
# code takes loss_lab + 0.5 * (their two unsupervised terms).
UNSUPERVISED_WEIGHT = 0.5


@keras.saving.register_keras_serializable(package="dcgan_tf")
class SemiSupervisedDCGAN(DCGAN):
    """A DCGAN whose D is the K+1-class classifier, trained on `(unlabelled, labelled, labels)`.

    D minimises the supervised cross-entropy on the labelled batch plus half the
    unsupervised real/fake loss; G minimises feature matching on the vector D's class
    logits read. Loss terms apply to the unlabelled batch. Arguments as `DCGAN`'s.

    Raises:
        ValueError: the discriminator has no class logits (not a semi-supervised D).
    """

    def __init__(self, generator, discriminator, z_dim, z_dist="uniform", seed=None, parts=(),
                 **kwargs):
        super().__init__(generator, discriminator, z_dim, z_dist, seed, parts, **kwargs)
        try:
            self._d_classes = with_class_logits(discriminator)
        except ValueError:
            raise ValueError("Expected a semi-supervised discriminator (one with class "
                             f"logits). Received: {discriminator.name}") from None
        self.supervised_tracker = keras.metrics.Mean(name="d_supervised_loss")

    @property
    def metrics(self):
        return super().metrics + [self.supervised_tracker]

    def train_step(self, data):
        unlabelled, labelled, labels = data
        batch = ops.shape(unlabelled)[0]
        z = self.sample_z(batch)
        D = self._d_classes
        aug_d, aug_g = self.augmenter(), self.augmenter()
        with tf.GradientTape() as g_tape:
            fake_images = self.generator(z, training=True)

            # Train the discriminator: classify the labelled batch, and tell real from fake.
            with tf.GradientTape() as d_tape:
                labelled_logits, _ = D(aug_d(labelled), training=True)
                real_logits, _ = D(aug_d(unlabelled), training=True)
                fake_logits, _ = D(aug_d(ops.stop_gradient(fake_images)), training=True)
                supervised = ops.mean(losses.supervised_loss(labelled_logits, labels))
                d_loss = ops.mean(losses.unsupervised_loss(real_logits, fake_logits))
                d_total = total(supervised + UNSUPERVISED_WEIGHT * d_loss,
                                [t.d_loss(self, unlabelled, None) for t in self.terms])
                d_scaled = self.d_optimizer.scale_loss(replica_scale(d_total))
            self._apply(self.d_optimizer, d_tape, d_scaled, self.d_trainable_variables)

            # Train the generator: match D's mean features on this step's unlabelled batch.
            _, real_features = D(aug_g(unlabelled), training=True)
            _, fake_features = D(aug_g(fake_images), training=True)
            g_loss = losses.feature_matching_loss(ops.stop_gradient(real_features), fake_features)
            g_total = total(g_loss, [t.g_loss(self, fake_images, None) for t in self.terms])
            g_scaled = self.g_optimizer.scale_loss(replica_scale(g_total))
        self._apply(self.g_optimizer, g_tape, g_scaled, self.generator.trainable_variables)
        for part in self.parts:
            part.after_train_step(self)

        real_lse = ops.logsumexp(ops.cast(real_logits, "float32"), axis=-1)
        fake_lse = ops.logsumexp(ops.cast(fake_logits, "float32"), axis=-1)
        self.supervised_tracker.update_state(supervised)
        return self.log_step(d_loss, g_loss, ops.mean(ops.sigmoid(real_lse)),
                             ops.mean(ops.sigmoid(fake_lse)))
