"""What a run records at epoch ends: metrics, and on a schedule samples, figures and a checkpoint.

Every epoch appends its losses and throughput to `metrics.jsonl`. The rest (batch-norm
re-estimation, the sample grid, the diversity and collapse figures, KID, the checkpoint)
costs the same whatever the epoch length, so it runs after an epoch only once the training
time since it last ran reaches its own measured cost divided by `MONITOR_SHARE`: at most 2%
of a run, every epoch when epochs are long, every few when they are a few seconds. The first
and last epochs always get it, and the PNGs and checkpoint files are written by a background
thread.

TensorBoard (`logs/samples`) gets every metrics line's figures as scalars and the sample grid of
the scheduled epochs (the Images tab), both on the training step so they line up, and the run's
configuration with its final figures as metrics through the hparams plugin (the HParams tab), so
the runs of a sweep compare there.
"""

import functools
import json
import logging
import math
import os
import time

import keras
import numpy as np
from tensorboard.plugins.hparams import api as hparams
import tensorflow as tf

from dcgan_tf.images import make_grid, mean_pairwise_distance, save_png, to_uint8
from dcgan_tf.latent_z import draw_z
from dcgan_tf.training import checkpoint
from dcgan_tf.training.background import BackgroundWriter
from dcgan_tf.training.models import build_feature_model, pooled_features, recalibrate_batchnorm

logger = logging.getLogger("dcgan_tf")

# Generator batches run in training mode before each epoch's samples and checkpoint, so the
# batch-norm statistics that inference mode (and every export) uses match the weights.
RECALIBRATION_BATCHES = 10
# Feature-space diversity that falls below half of the run's best so far is reported as a
# collapse (the paper's "single oscillating mode" failure). Relative, because an untrained
# generator starts with little spread and must not raise the alarm.
COLLAPSE_DROP = 0.5
# Largest share of training time that the scheduled epoch-end work may take (see above).
MONITOR_SHARE = 0.02
# Scalars the HParams tab shows as metric columns (each run's last value of the tag).
HPARAMS_METRICS = ("d_loss", "g_loss", "d_real", "d_fake", "kid", "diversity", "feature_diversity")


class RunMonitor(keras.callbacks.Callback):
    """Each epoch a metrics line; on the schedule above BN recalibration, samples from a fixed
    z, diversity, KID and a checkpoint.

    Diversity is the mean pairwise distance of generated samples relative to that of a real
    batch, in pixel space (`diversity`) and in the discriminator's pooled feature space
    (`feature_diversity` for the fixed z, `random_feature_diversity` for a fresh z batch).
    Also stops training on a NaN/inf loss without checkpointing the broken weights.

    Args:
        run_dir: Where samples, metrics and checkpoints go.
        train_cfg: The run's `TrainConfig`.
        model_cfg: The run's `ModelConfig`.
        real_batch: A batch of real training images in [-1, 1], the diversity reference.
        writer: Open `metrics.jsonl` file; `None` on workers that are not the chief.
        scorer: A `dcgan_tf.training.kid.TrainingScorer` for `kid` every
            `train_cfg.score_every` epochs, or `None`.
        final_step: The step the run ends at, whose epoch is always checkpointed; `None`
            treats every epoch as possibly the last.
    """

    def __init__(self, run_dir, train_cfg, model_cfg, real_batch, writer, scorer=None,
                 final_step=None):
        super().__init__()
        self.run_dir = run_dir
        self.cfg = train_cfg
        self.model_cfg = model_cfg
        self.writer = writer
        self.real_batch = real_batch
        self.z_shape = (max(train_cfg.batch_size, train_cfg.sample_grid), model_cfg.z_dim)
        self.fixed_z = self._random_z(np.random.default_rng(train_cfg.seed))[: train_cfg.sample_grid]
        # A conditional model's grid shows the classes in order, row after row.
        classes = max(model_cfg.num_classes, 1)
        self.labels = (np.arange(self.z_shape[0]) % classes).astype("int32")[:, None]
        self.real_distance = mean_pairwise_distance(real_batch)
        self.best_feature_diversity = 0.0
        self.bad_step = None  # (where, logs) of the call whose losses were NaN/inf.
        self.scorer = scorer
        # Measured from here, so data loading and the classifier do not count.
        self.deadline = (time.perf_counter() + 60 * train_cfg.max_minutes
                         if train_cfg.max_minutes else None)
        self.timed_out = False
        self.epoch_start = time.perf_counter()
        self.epoch_step0 = 0
        self.final_step = final_step
        self._summaries = None
        self._files = BackgroundWriter()
        self._trained = 0.0  # Training seconds since the scheduled work last ran.
        self._cost = None  # What it took then, in the training thread.

    def _random_z(self, rng, shape=None):
        return draw_z(rng, *(shape or self.z_shape), self.model_cfg.z_dist)

    def _batches(self, epoch, stream):
        """The generator's inputs for re-estimating batch norm: the epoch's draws of `stream`."""
        rng = np.random.default_rng([self.cfg.seed, epoch + 1, stream])
        return (self._inputs(self._random_z(rng)) for _ in range(RECALIBRATION_BATCHES))

    def _inputs(self, z):
        return [z, self.labels[: len(z)]] if self.model_cfg.num_classes else z

    def _summary_writer(self):
        """The TensorBoard writer of scalars, samples and hparams, opened on first use (chief only)."""
        if self._summaries is None:
            self._summaries = tf.summary.create_file_writer(os.path.join(self.run_dir, "logs", "samples"))

            values = run_hparams(self.model_cfg, self.cfg)
            with self._summaries.as_default():
                hparams.hparams_config(
                    hparams=[hparams.HParam(name) for name in values],
                    metrics=[hparams.Metric(tag) for tag in HPARAMS_METRICS],
                )
                hparams.hparams(values, trial_id=self.run_dir)
        return self._summaries

    def on_train_end(self, logs=None):
        self._files.wait()  # `fit` returns with every file of the run on disk.
        if self._summaries is not None:
            self._summaries.flush()

    def close(self):
        """Finishes the background writes; raises the first one that failed."""
        self._files.close()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()
        self.epoch_step0 = self.model.step

    def on_train_batch_end(self, batch, logs=None):
        if logs and not all(math.isfinite(float(np.mean(v))) for v in logs.values()):
            # A call runs `steps_per_execution` steps (a divisor of the epoch's, see run.py).
            step = self.model.step
            first = step - self.model.steps_per_execution + 1
            where = f"step {step}" if first >= step else f"steps {first}-{step}"
            self.bad_step = (where, dict(logs))
            self.model.stop_training = True
        elif self.deadline is not None and time.perf_counter() >= self.deadline:
            self.timed_out = True  # Keras still ends the epoch, so a checkpoint is written
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.bad_step is not None or self.writer is None:
            return  # Only the chief samples, logs and checkpoints.
        elapsed = time.perf_counter() - self.epoch_start
        step = self.model.step
        logs["images_per_sec"] = (step - self.epoch_step0) * self.cfg.batch_size / max(elapsed, 1e-9)
        self._trained += elapsed
        record = {"epoch": epoch + 1, "step": step, "time": time.time()}
        if self._due(epoch, step):
            start = time.perf_counter()
            self._scheduled_work(epoch, step, logs, record)
            self._cost, self._trained = time.perf_counter() - start, 0.0
        else:
            record.update({k: float(np.mean(v)) for k, v in logs.items()})
        self._write_scalars(record, step)
        self.writer.write(json.dumps(record) + "\n")
        self.writer.flush()

    def _write_scalars(self, record, step):
        """The metrics line's figures as TensorBoard scalars on the training step."""
        with self._summary_writer().as_default():
            for name, value in record.items():
                if name not in ("epoch", "step", "time"):
                    tf.summary.scalar(name, value, step=step)

    def _due(self, epoch, step):
        """Whether the scheduled work runs after this epoch (see the module docstring)."""
        if self._cost is None or self.model.stop_training:
            return True  # The first epoch, or the last of a run stopped early.
        if self.final_step is None or step >= self.final_step:
            return True
        if self.cfg.monitor_every:
            return (epoch + 1) % self.cfg.monitor_every == 0
        if self.scorer is not None and (epoch + 1) % self.cfg.score_every == 0:
            return True
        return self._trained >= self._cost / MONITOR_SHARE

    def _scheduled_work(self, epoch, step, logs, record):
        generator = self.model.generator
        # Seeded by the epoch, not drawn from one stream, so a resumed run draws the same z.
        rng = np.random.default_rng([self.cfg.seed, epoch + 1])
        # Training goes on from its own moving statistics: the re-estimated ones are for
        # samples and exports, and a resume must not depend on where the run stopped.
        training_stats = [v.numpy() for v in generator.non_trainable_variables]
        recalibrate_batchnorm(generator, (self._inputs(self._random_z(rng)) for _ in range(RECALIBRATION_BATCHES)))
        for part in self.model.parts:
            # E.g. the generator average re-estimates batch norm for the averaged weights.
            part.before_checkpoint(self.model, functools.partial(self._batches, epoch))
        images = generator(self._inputs(self.fixed_z), training=False).numpy()
        logs.update(self._diversity(images, rng))
        if self.scorer is not None and (epoch + 1) % self.cfg.score_every == 0:
            logs.update(self._kid())

        pixels = make_grid(to_uint8(images))
        with self._summary_writer().as_default():
            tf.summary.image("samples", pixels[None], step=step)
        record.update({k: float(np.mean(v)) for k, v in logs.items()})
        # The variables are read here; hashing, fsync, rename and pruning happen off the
        # training thread. A kill before the rename leaves a temporary directory that resume
        # removes, and a metrics line without its checkpoint, which resume drops and replays.
        tmp = checkpoint.serialize(self.model, self.run_dir, training_stats)
        for variable, value in zip(generator.non_trainable_variables, training_stats):
            variable.assign(value)
        self._files.submit(self._write_samples, epoch, pixels)
        self._files.submit(checkpoint.publish, tmp, self.run_dir, step, epoch + 1, dict(record),
                           keep=self.cfg.keep_checkpoints)

    def _write_samples(self, epoch, pixels):
        save_png(os.path.join(self.run_dir, "samples", f"epoch-{epoch + 1:04d}.png"), pixels)
        save_png(os.path.join(self.run_dir, "samples", "latest.png"), pixels, scale=2)

    def _kid(self):
        # Its own RNG, so every score sees the same z and the other figures' z do not change.
        count, chunk = self.scorer.n, self.z_shape[0]
        z = self._random_z(np.random.default_rng(self.cfg.seed + 1), (count, self.model_cfg.z_dim))
        rows = [self.model.generator(self._inputs(z[i:i + chunk]), training=False).numpy()
                for i in range(0, count, chunk)]
        return self.scorer.score(to_uint8(np.concatenate(rows)))

    def _diversity(self, images, rng=None):
        pixel = mean_pairwise_distance(images) / max(self.real_distance, 1e-12)
        # Closest to the real data's spread scores best; collapse drives it toward 0.
        figures = {"diversity": pixel, "diversity_score": -abs(math.log(max(pixel, 1e-6)))}
        if self.model_cfg.num_classes:
            return figures  # Feature-space figures need an unconditional discriminator.
        features = build_feature_model(self.model.discriminator, self.model_cfg)

        def embed(x):
            return pooled_features(features(x, training=False)).numpy()

        real = mean_pairwise_distance(embed(self.real_batch))
        rng = rng if rng is not None else np.random.default_rng(self.cfg.seed)
        random_images = self.model.generator(self._random_z(rng), training=False)
        figures["feature_diversity"] = mean_pairwise_distance(embed(images)) / max(real, 1e-12)
        figures["random_feature_diversity"] = mean_pairwise_distance(embed(random_images)) / max(real, 1e-12)
        current = figures["random_feature_diversity"]
        collapsed = current < COLLAPSE_DROP * self.best_feature_diversity
        self.best_feature_diversity = max(self.best_feature_diversity, current)
        figures["collapse_warning"] = float(collapsed)
        if collapsed:
            logger.warning(
                "Possible mode collapse at step %d: generated samples spread %.2f of the real "
                "data's in discriminator-feature space (best so far %.2f). Compare samples/ and "
                "export an earlier checkpoint with --checkpoint best or a step.",
                self.model.step, current, self.best_feature_diversity,
            )
        return figures


def run_hparams(model_cfg, train_cfg):
    """The run's configuration as TensorBoard hparams: every field with a scalar value.

    Paths (`out`, `data_dir`) are left out: they name the run, they do not tune it.
    """
    values = {**model_cfg.to_dict(), **train_cfg.to_dict()}
    return {
        k: v for k, v in sorted(values.items())
        if k not in ("out", "data_dir") and isinstance(v, (bool, int, float, str))
    }
