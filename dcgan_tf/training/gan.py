"""The DCGAN as a `keras.Model`: a custom `train_step` that trains D, then G, on each batch."""

import keras
import tensorflow as tf
from keras import ops

from dcgan_tf.training import augment, losses
from dcgan_tf.config import Z_DISTRIBUTIONS, parse_policies
from dcgan_tf.training.models import paired_discriminator, with_class_logits, with_last_features

# Weight of the unsupervised loss beside the supervised one in a semi-supervised D's loss:
# Salimans et al.'s code takes loss_lab + 0.5 * (their two unsupervised terms).
UNSUPERVISED_WEIGHT = 0.5


def _replica_scale(value):
    # Keras' optimizers sum gradients across replicas: average the loss over the global batch.
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return value / replicas if replicas > 1 else value


def _as_logs(metrics):
    # Keras' trainer averages step outputs across workers along axis 0, which fails on
    # scalars under MultiWorkerMirroredStrategy: give it shape (1,) there.
    logs = {m.name: m.result() for m in metrics}
    if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        logs = {k: ops.reshape(v, (1,)) for k, v in logs.items()}
    return logs


@keras.saving.register_keras_serializable(package="dcgan_tf")
class DCGAN(keras.Model):
    """Generator and discriminator trained adversarially (Radford et al. 2015, section 4).

    Args:
        generator: Model mapping z (z_dim,) to images in [-1, 1].
        discriminator: Model mapping images to one logit each.
        z_dim: Width of z.
        z_dist: `"uniform"` on [-1, 1] (paper) or `"normal"`.
        seed: Seed of the z sampler, whose state is checkpointed with the model.
        num_classes: 0, or the number of classes of a conditional model, whose networks
            take `[x, label]` and which trains on `(images, labels)` batches.
        rotation_head: `None` (paper), or a model from D's flattened last block to 4 rotation
            logits, trained with D (Chen et al. 2019).
        rotation_weight: Weight of D's rotation loss on real images. Defaults to 0.
        rotation_weight_g: Weight of G's rotation loss on its images. Defaults to 0.
        contrastive_head: `None` (paper), or a model from D's flattened last block to
            projections, trained with D on two SimCLR views of each real image (Chen et al.
            2020, as a GAN's auxiliary loss in Jeong & Shin 2021, ContraD).
        contrastive_weight: Weight of D's contrastive (NT-Xent) loss. Defaults to 0.
        contrastive_temperature: NT-Xent's temperature. Defaults to 0.5.
        diffaugment: DiffAugment policies applied to all of D's inputs, e.g.
            `"translation,cutout,color"`; `""` (paper) for none.
        paired_d: Run D's step on real and fake through one convolution per layer
            (`models.paired_discriminator`): the same computation as two calls. It measured
            slower on a 2-core CPU (benchmarks/README.md), so it is off unless asked for.
            Ignored where D is not a plain chain. Defaults to `False`.
        semi_supervised: D is the K+1-class classifier of Salimans et al. (2016) (built by
            `build_discriminator` for a config with `labels`): batches are `(unlabelled
            images, labelled images, labels)`, D minimises the supervised cross-entropy plus
            half the unsupervised real/fake loss, G minimises feature matching on D's
            flattened last block. Defaults to `False`.
        g_ema: Decay of the exponential moving average of G's trainable weights (Yazici et
            al. 2019), updated after every G step into `g_ema_weights`; 0 keeps none.
        ema_generator: With `g_ema`, a network shaped as `generator` that checkpoints copy
            the average into (`sync_ema_generator`) and re-estimate batch norm for.
    """

    def __init__(self, generator, discriminator, z_dim, z_dist="uniform", seed=None,
                 num_classes=0, rotation_head=None, rotation_weight=0.0, rotation_weight_g=0.0,
                 contrastive_head=None, contrastive_weight=0.0, contrastive_temperature=0.5,
                 diffaugment="", paired_d=False, semi_supervised=False, g_ema=0.0,
                 ema_generator=None, **kwargs):
        super().__init__(**kwargs)
        if z_dist not in Z_DISTRIBUTIONS:
            raise ValueError(f"Expected `z_dist` in {Z_DISTRIBUTIONS}. Received: z_dist={z_dist!r}")
        self.generator = generator
        self.discriminator = discriminator
        self.z_dim = z_dim
        self.z_dist = z_dist
        self.seed = seed
        self.num_classes = num_classes
        if (rotation_weight or rotation_weight_g) and rotation_head is None:
            raise ValueError(
                "Expected a `rotation_head` with a rotation loss weight. Received: "
                f"rotation_weight={rotation_weight}, rotation_weight_g={rotation_weight_g}"
            )
        if contrastive_weight and contrastive_head is None:
            raise ValueError(
                "Expected a `contrastive_head` with a contrastive loss weight. Received: "
                f"contrastive_weight={contrastive_weight}"
            )
        self.rotation_head = rotation_head
        self.rotation_weight = float(rotation_weight)
        self.rotation_weight_g = float(rotation_weight_g)
        self.contrastive_head = contrastive_head
        self.contrastive_weight = float(contrastive_weight)
        self.contrastive_temperature = float(contrastive_temperature)
        self.diffaugment = ",".join(parse_policies(diffaugment))
        # D's view returning its last block too, for the heads; shares D's layers.
        heads = rotation_head is not None or contrastive_head is not None
        self._d_features = with_last_features(discriminator) if heads else None
        self.paired_d = bool(paired_d)
        self._d_pair = paired_discriminator(discriminator) if self.paired_d else None
        self.semi_supervised = bool(semi_supervised)
        self._d_classes = with_class_logits(discriminator) if self.semi_supervised else None
        if not 0 <= g_ema < 1:
            raise ValueError(f"Expected `g_ema` in [0, 1). Received: g_ema={g_ema}")
        if g_ema and ema_generator is None:
            raise ValueError(f"Expected an `ema_generator` with `g_ema`. Received: g_ema={g_ema}")
        self.g_ema = float(g_ema)
        self.ema_generator = ema_generator if self.g_ema else None
        # The average starts at G's initial weights. Each replica computes the same update
        # from the same (synchronised) weights: the first replica's value is kept.
        self.g_ema_weights = [
            keras.Variable(ops.convert_to_tensor(v), trainable=False, name=f"ema_{v.name}",
                           aggregation="only_first_replica")
            for v in generator.trainable_variables
        ] if self.g_ema else []
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supervised_tracker = keras.metrics.Mean(name="d_supervised_loss")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.rotation_tracker = keras.metrics.Mean(name="d_rotation_loss")
        self.contrastive_tracker = keras.metrics.Mean(name="d_contrastive_loss")
        # Both networks arrive built; `fit` must not build this model by calling it on images.
        self.built = True

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        """Sets the two Adam optimizers (lr 2e-4, beta1 0.5 in the paper)."""
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    @property
    def step(self):
        """Training steps taken: the generator optimizer's counter, restored with checkpoints."""
        return int(self.g_optimizer.iterations.numpy())

    @property
    def metrics(self):
        trackers = [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]
        if self.rotation_head is not None:
            trackers.append(self.rotation_tracker)
        if self.contrastive_head is not None:
            trackers.append(self.contrastive_tracker)
        if self.semi_supervised:
            trackers.append(self.supervised_tracker)
        return trackers

    @property
    def d_trainable_variables(self):
        """What D's optimizer trains: D's weights and its heads', if any."""
        heads = [h for h in (self.rotation_head, self.contrastive_head) if h is not None]
        head_vars = [v for h in heads for v in h.trainable_variables]
        return self.discriminator.trainable_variables + head_vars

    def _replica_seed(self):
        # Each replica folds its id into the seed: a mirrored seed state alone would give every
        # replica the same draws, shrinking the effective fake batch.
        seed = tf.cast(self.seed_generator.next(), "int64")
        replica = tf.distribute.get_replica_context()
        if replica is not None:
            seed += tf.cast([0, 1], "int64") * tf.cast(replica.replica_id_in_sync_group, "int64")
        return seed

    def sample_z(self, n):
        """Draws `n` latent vectors from the configured distribution."""
        seed = self._replica_seed()
        if self.z_dist == "uniform":
            return tf.random.stateless_uniform((n, self.z_dim), seed, minval=-1.0, maxval=1.0)
        return tf.random.stateless_normal((n, self.z_dim), seed)

    def sample_labels(self, n):
        """Draws `n` uniformly random class labels (int32, shape (n, 1)) for a conditional model."""
        seed = self._replica_seed()
        return tf.random.stateless_uniform((n, 1), seed, 0, self.num_classes, dtype=tf.int32)

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def update_ema(self):
        """Moves the average towards G's weights: ema <- decay * ema + (1 - decay) * w."""
        for average, weight in zip(self.g_ema_weights, self.generator.trainable_variables):
            weight = ops.cast(weight, average.dtype)
            average.assign(self.g_ema * average + (1.0 - self.g_ema) * weight)

    def sync_ema_generator(self):
        """Copies the averaged weights into `ema_generator` (its batch-norm statistics are left
        for the caller to re-estimate, `models.recalibrate_batchnorm`)."""
        for target, average in zip(self.ema_generator.trainable_variables, self.g_ema_weights):
            target.assign(average.numpy())

    def train_step(self, data):
        if self.semi_supervised:
            return self._semi_supervised_step(*data)
        if self.num_classes:
            real_images, real_labels = data
            real_labels = ops.reshape(ops.cast(real_labels, "int32"), (-1, 1))
        else:
            real_images, real_labels = data, None
        batch = ops.shape(real_images)[0]
        z = self.sample_z(batch)
        # A conditional model draws its fakes for uniformly random classes.
        fake_labels = self.sample_labels(batch) if self.num_classes else None
        G = self._conditioned(self.generator, fake_labels)
        D_real = self._conditioned(self.discriminator, real_labels)
        D_fake = self._conditioned(self.discriminator, fake_labels)
        # DiffAugment: one draw for D's step, another for G's, same policy for real and fake.
        aug_d, aug_g = self._augmenter(), self._augmenter()

        # One generator forward pass serves both steps: its tape stays open for G's gradient.
        with tf.GradientTape() as g_tape:
            fake_images = G(z)

            # Train the discriminator: maximise log D(x) + log(1 - D(G(z))).
            with tf.GradientTape() as d_tape:
                real_logits, fake_logits = self._discriminate(
                    D_real, D_fake, aug_d(real_images), aug_d(ops.stop_gradient(fake_images))
                )
                d_loss = ops.mean(losses.discriminator_loss(real_logits, fake_logits))
                d_total = d_loss
                if self.rotation_weight:
                    # ... and predict the rotation of real images (Chen et al. 2019).
                    rotation = self._rotation_loss(real_images, real_labels)
                    d_total = d_loss + self.rotation_weight * rotation
                    self.rotation_tracker.update_state(rotation)
                if self.contrastive_weight:
                    # ... and tell apart views of different real images (Chen et al. 2020).
                    contrastive = self._contrastive_loss(real_images, real_labels)
                    d_total = d_total + self.contrastive_weight * contrastive
                    self.contrastive_tracker.update_state(contrastive)
                d_scaled = self.d_optimizer.scale_loss(_replica_scale(d_total))
            d_vars = self.d_trainable_variables
            self.d_optimizer.apply_gradients(zip(d_tape.gradient(d_scaled, d_vars), d_vars))

            # Train the generator: maximise log D(G(z)) against the updated discriminator.
            g_logits = D_fake(aug_g(fake_images))
            g_loss = ops.mean(losses.generator_loss(g_logits))
            g_total = g_loss
            if self.rotation_weight_g:
                # ... and make the rotations of its images recognisable to D.
                g_total = g_loss + self.rotation_weight_g * self._rotation_loss(fake_images, fake_labels)
            g_scaled = self.g_optimizer.scale_loss(_replica_scale(g_total))
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(g_tape.gradient(g_scaled, g_vars), g_vars))
        if self.g_ema:
            self.update_ema()

        d_real = ops.mean(ops.sigmoid(ops.cast(real_logits, "float32")))
        d_fake = ops.mean(ops.sigmoid(ops.cast(fake_logits, "float32")))
        for tracker, value in zip(self.metrics, (d_loss, g_loss, d_real, d_fake)):
            tracker.update_state(value)
        return _as_logs(self.metrics)

    def _semi_supervised_step(self, unlabelled, labelled, labels):
        # Salimans et al. (2016): D is a K+1-class classifier trained on the labelled, the
        # unlabelled and the generated batch; G matches the mean of D's features on real data.
        batch = ops.shape(unlabelled)[0]
        z = self.sample_z(batch)
        D = self._d_classes
        aug_d, aug_g = self._augmenter(), self._augmenter()
        with tf.GradientTape() as g_tape:
            fake_images = self.generator(z, training=True)
            with tf.GradientTape() as d_tape:
                labelled_logits, _ = D(aug_d(labelled), training=True)
                real_logits, _ = D(aug_d(unlabelled), training=True)
                fake_logits, _ = D(aug_d(ops.stop_gradient(fake_images)), training=True)
                supervised = ops.mean(losses.supervised_loss(labelled_logits, labels))
                d_loss = ops.mean(losses.unsupervised_loss(real_logits, fake_logits))
                d_total = supervised + UNSUPERVISED_WEIGHT * d_loss
                d_scaled = self.d_optimizer.scale_loss(_replica_scale(d_total))
            d_vars = self.d_trainable_variables
            self.d_optimizer.apply_gradients(zip(d_tape.gradient(d_scaled, d_vars), d_vars))

            # Feature matching against the updated D, on this step's unlabelled batch.
            _, real_features = D(aug_g(unlabelled), training=True)
            _, fake_features = D(aug_g(fake_images), training=True)
            g_loss = losses.feature_matching_loss(ops.stop_gradient(real_features), fake_features)
            g_scaled = self.g_optimizer.scale_loss(_replica_scale(g_loss))
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(g_tape.gradient(g_scaled, g_vars), g_vars))
        if self.g_ema:
            self.update_ema()

        real_lse = ops.logsumexp(ops.cast(real_logits, "float32"), axis=-1)
        fake_lse = ops.logsumexp(ops.cast(fake_logits, "float32"), axis=-1)
        values = (d_loss, g_loss, ops.mean(ops.sigmoid(real_lse)), ops.mean(ops.sigmoid(fake_lse)))
        for tracker, value in zip(self.metrics, values):
            tracker.update_state(value)
        self.supervised_tracker.update_state(supervised)
        return _as_logs(self.metrics)

    def _discriminate(self, D_real, D_fake, real, fake):
        # D's step on both batches: paired convolutions where D allows, else two calls.
        if self._d_pair is not None:
            return self._d_pair(real, fake)
        return D_real(real), D_fake(fake)

    def _augmenter(self):
        # The identity for the paper recipe; else DiffAugment with one seed per call site.
        if not self.diffaugment:
            return lambda x: x
        seed = self._replica_seed()
        return lambda x: augment.diff_augment(x, self.diffaugment, seed)

    def _rotation_loss(self, images, labels):
        # Mean cross-entropy of the rotation head on a batch rotated by (i mod 4) * 90 degrees.
        rotated, targets = augment.rotate_batch(images)
        inputs = rotated if labels is None else [rotated, labels]
        _, last = self._d_features(inputs, training=True)
        logits = self.rotation_head(last, training=True)
        return ops.mean(losses.rotation_loss(logits, targets))

    def _contrastive_loss(self, images, labels):
        # NT-Xent between two SimCLR views of each real image, both through D in one call
        # (batch norm sees the two views together, as in SimCLR's global batch norm).
        seeds = tf.random.experimental.stateless_split(self._replica_seed(), num=2)
        views = ops.concatenate([augment.contrastive_view(images, seeds[0]),
                                 augment.contrastive_view(images, seeds[1])], axis=0)
        inputs = views if labels is None else [views, ops.concatenate([labels, labels], axis=0)]
        _, last = self._d_features(inputs, training=True)
        projections = self.contrastive_head(last, training=True)
        a, b = ops.split(projections, 2, axis=0)
        return ops.mean(losses.contrastive_loss(a, b, self.contrastive_temperature))

    @staticmethod
    def _conditioned(model, labels):
        # A training-mode call of `model` on x, with the labels as second input when conditional.
        if labels is None:
            return lambda x: model(x, training=True)
        return lambda x: model([x, labels], training=True)

    def get_config(self):
        return {
            **super().get_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "z_dim": self.z_dim,
            "z_dist": self.z_dist,
            "seed": self.seed,
            "num_classes": self.num_classes,
            "rotation_head": (keras.saving.serialize_keras_object(self.rotation_head)
                              if self.rotation_head is not None else None),
            "rotation_weight": self.rotation_weight,
            "rotation_weight_g": self.rotation_weight_g,
            "contrastive_head": (keras.saving.serialize_keras_object(self.contrastive_head)
                                 if self.contrastive_head is not None else None),
            "contrastive_weight": self.contrastive_weight,
            "contrastive_temperature": self.contrastive_temperature,
            "diffaugment": self.diffaugment,
            "paired_d": self.paired_d,
            "semi_supervised": self.semi_supervised,
            "g_ema": self.g_ema,
            "ema_generator": (keras.saving.serialize_keras_object(self.ema_generator)
                              if self.ema_generator is not None else None),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        for head in ("rotation_head", "contrastive_head", "ema_generator"):
            if config.get(head) is not None:
                config[head] = keras.saving.deserialize_keras_object(config[head])
        return cls(**config)
