"""The paper's DCGAN as a `keras.Model`: a custom `train_step` that trains D, then G, on each batch.

Every departure from the paper is a part (`dcgan_tf.training.parts`) the model receives: loss
terms add to D's or G's objective, an input transform changes what D sees, and the generator
average updates after each step. Model types that change the data or the networks' inputs
extend this class: `conditional.ConditionalDCGAN` and `semi.SemiSupervisedDCGAN`.
"""

import keras
import tensorflow as tf
from keras import ops

from dcgan_tf.config import Z_DISTRIBUTIONS
from dcgan_tf.training import losses
from dcgan_tf.training.parts.base import GANPart, InputTransform, LossTerm, with_labels


def replica_scale(value):
    """`value` averaged over the global batch: Keras' optimizers sum gradients across replicas."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return value / replicas if replicas > 1 else value


def as_logs(metrics):
    """The step's logs from its trackers.

    Keras' trainer averages step outputs across workers along axis 0, which fails on scalars
    under MultiWorkerMirroredStrategy: there they take shape (1,).
    """
    logs = {m.name: m.result() for m in metrics}
    if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        logs = {k: ops.reshape(v, (1,)) for k, v in logs.items()}
    return logs


def total(loss, terms):
    """`loss` plus the terms that are not `None`."""
    for term in terms:
        if term is not None:
            loss = loss + term
    return loss


@keras.saving.register_keras_serializable(package="dcgan_tf")
class DCGAN(keras.Model):
    """Generator and discriminator trained adversarially (Radford et al. 2015, section 4).

    Args:
        generator: Model mapping z (z_dim,) to images in [-1, 1].
        discriminator: Model mapping images to one logit each.
        z_dim: Width of z.
        z_dist: `"uniform"` on [-1, 1] (paper) or `"normal"`.
        seed: Seed of the z sampler, whose state is checkpointed with the model.
        parts: `parts.base.GANPart`s, each a departure from the paper: loss terms, at most one
            input transform, the generator average. Defaults to none (the paper's GAN).

    Raises:
        ValueError: on an unknown `z_dist`, a part that is not a `GANPart`, two parts of
            one name or two input transforms.
    """

    def __init__(self, generator, discriminator, z_dim, z_dist="uniform", seed=None, parts=(),
                 **kwargs):
        super().__init__(**kwargs)
        if z_dist not in Z_DISTRIBUTIONS:
            raise ValueError(f"Expected `z_dist` in {Z_DISTRIBUTIONS}. Received: z_dist={z_dist!r}")
        self.generator = generator
        self.discriminator = discriminator
        self.z_dim = z_dim
        self.z_dist = z_dist
        self.seed = seed
        self.parts = _checked_parts(parts)
        self.terms = [p for p in self.parts if isinstance(p, LossTerm)]
        self.transform = next((p for p in self.parts if isinstance(p, InputTransform)), None)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        for part in self.parts:
            part.attach(self)
        # Both networks arrive built; `fit` must not build this model by calling it on images.
        self.built = True

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        """Sets the two Adam optimizers (lr 2e-4, beta1 0.5 in the paper)."""
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    def part(self, name):
        """The part called `name`, or `None` when the model has none."""
        return next((p for p in self.parts if p.name == name), None)

    @property
    def step(self):
        """Training steps taken: the generator optimizer's counter, restored with checkpoints."""
        return int(self.g_optimizer.iterations.numpy())

    @property
    def metrics(self):
        trackers = [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker,
                    self.d_fake_tracker]
        return trackers + [m for p in self.parts for m in p.metrics()]

    @property
    def d_trainable_variables(self):
        """What D's optimizer trains: D's weights, then its parts' (heads), in their order."""
        return self.discriminator.trainable_variables + [
            v for p in self.parts for v in p.d_variables()]

    def checkpoint_objects(self):
        """The networks and the parts' state a checkpoint stores, by checkpoint key."""
        objects = {"generator": self.generator, "discriminator": self.discriminator}
        for part in self.parts:
            objects.update(part.checkpoint_objects())
        return objects

    def replica_seed(self):
        """A fresh stateless seed (2,) from the model's seed stream, different on each replica.

        A mirrored seed state alone would give every replica the same draws, shrinking the
        effective batch.
        """
        seed = tf.cast(self.seed_generator.next(), "int64")
        replica = tf.distribute.get_replica_context()
        if replica is not None:
            seed += tf.cast([0, 1], "int64") * tf.cast(replica.replica_id_in_sync_group, "int64")
        return seed

    def sample_z(self, n):
        """Draws `n` latent vectors from the configured distribution."""
        seed = self.replica_seed()
        if self.z_dist == "uniform":
            return tf.random.stateless_uniform((n, self.z_dim), seed, minval=-1.0, maxval=1.0)
        return tf.random.stateless_normal((n, self.z_dim), seed)

    def sample_labels(self, n):
        """The classes to draw `n` fakes for: `None`, as the paper's G takes no class."""
        return None

    def unpack(self, data):
        """`(real images, their labels or None)` of a training batch."""
        return data, None

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def augmenter(self):
        """The input transform for one call site: the identity in the paper's recipe."""
        if self.transform is None:
            return lambda x: x
        seed = self.replica_seed()
        return lambda x: self.transform.transform(x, seed)

    def discriminate_pair(self, real, fake, real_labels, fake_labels):
        """D's training-mode logits on the real and the generated batch."""
        return (self.discriminator(with_labels(real, real_labels), training=True),
                self.discriminator(with_labels(fake, fake_labels), training=True))

    def train_step(self, data):
        real_images, real_labels = self.unpack(data)
        batch = ops.shape(real_images)[0]
        z = self.sample_z(batch)
        fake_labels = self.sample_labels(batch)
        # One input-transform draw for D's step, another for G's, the same for real and fake.
        aug_d, aug_g = self.augmenter(), self.augmenter()

        # One generator forward pass serves both steps: its tape stays open for G's gradient.
        with tf.GradientTape() as g_tape:
            fake_images = self.generator(with_labels(z, fake_labels), training=True)

            # Train the discriminator: maximise log D(x) + log(1 - D(G(z))), plus its terms.
            with tf.GradientTape() as d_tape:
                real_logits, fake_logits = self.discriminate_pair(
                    aug_d(real_images), aug_d(ops.stop_gradient(fake_images)),
                    real_labels, fake_labels)
                d_loss = ops.mean(losses.discriminator_loss(real_logits, fake_logits))
                d_total = total(d_loss, [t.d_loss(self, real_images, real_labels)
                                         for t in self.terms])
                d_scaled = self.d_optimizer.scale_loss(replica_scale(d_total))
            self._apply(self.d_optimizer, d_tape, d_scaled, self.d_trainable_variables)

            # Train the generator: maximise log D(G(z)) against the updated D, plus its terms.
            g_logits = self.discriminator(with_labels(aug_g(fake_images), fake_labels),
                                          training=True)
            g_loss = ops.mean(losses.generator_loss(g_logits))
            g_total = total(g_loss, [t.g_loss(self, fake_images, fake_labels) for t in self.terms])
            g_scaled = self.g_optimizer.scale_loss(replica_scale(g_total))
        self._apply(self.g_optimizer, g_tape, g_scaled, self.generator.trainable_variables)
        for part in self.parts:
            part.after_train_step(self)

        d_real = ops.mean(ops.sigmoid(ops.cast(real_logits, "float32")))
        d_fake = ops.mean(ops.sigmoid(ops.cast(fake_logits, "float32")))
        return self.log_step(d_loss, g_loss, d_real, d_fake)

    def log_step(self, d_loss, g_loss, d_real, d_fake):
        """Updates the four trackers of every model type and returns the step's logs."""
        for tracker, value in zip(self.metrics, (d_loss, g_loss, d_real, d_fake)):
            tracker.update_state(value)
        return as_logs(self.metrics)

    @staticmethod
    def _apply(optimizer, tape, loss, variables):
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

    def get_config(self):
        return {
            **super().get_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "z_dim": self.z_dim,
            "z_dist": self.z_dist,
            "seed": self.seed,
            "parts": [keras.saving.serialize_keras_object(p) for p in self.parts],
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for net in ("generator", "discriminator"):
            config[net] = keras.saving.deserialize_keras_object(config[net])
        config["parts"] = [keras.saving.deserialize_keras_object(p)
                           for p in config.get("parts", [])]
        return cls(**config)


def _checked_parts(parts):
    parts = list(parts)
    for part in parts:
        if not isinstance(part, GANPart):
            raise ValueError(f"Expected `parts` to hold GANParts. Received: {part!r}")
    names = [p.name for p in parts]
    if len(set(names)) != len(names):
        raise ValueError(f"Expected parts of distinct names. Received: {names}")
    if sum(isinstance(p, InputTransform) for p in parts) > 1:
        raise ValueError(f"Expected at most one input transform. Received: {names}")
    return sorted(parts, key=lambda p: p.position)
