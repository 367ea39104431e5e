"""Feature spaces that scores are computed in: Inception-v3 pool features, or a project classifier.

`inception` is the usual FID space (2048-d average-pool features of `keras.applications`'
InceptionV3 at 299x299), given ImageNet weights from a file or from Keras' cache. `classifier`
is a small CNN the project trains on the dataset's labelled training split and caches on disk
by the data's fingerprint, so every labelled dataset scores offline; its features are the
penultimate layer. Each space has a fingerprint of its weights, written into every result.
"""

import dataclasses
import hashlib
import json
import logging
import os

from keras import layers
import keras
import numpy as np
import tensorflow as tf

from dcgan_tf.atomic import disk_full, file_sha256, is_disk_full, save_json, temp_path
from dcgan_tf.data.crop import prepare_images
from dcgan_tf.fused_norm import FusedBatchNormalization
from dcgan_tf.hardware import native_bf16, require_bf16
from dcgan_tf.metrics.progress import StepBar

FEATURE_SPACES = ("inception", "classifier")
INCEPTION_SIZE = 299
CLASSIFIER_SIZE = 32
CLASSIFIER_VERSION = 5  # bump when the architecture or training changes: a new cache key

logger = logging.getLogger("dcgan_tf")


class ScoringError(ValueError):
    """A model, dataset or feature space that cannot be scored."""


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    """Training of the `classifier` feature space.

    Args:
        epochs: Passes over the labelled training split. Defaults to 10.
        max_steps: Fewer passes where `epochs` would take more steps than this, and one pass
            over a random `max_steps * batch_size` of the examples where even one would, so a
            large split (CIFAR-10's 50,000) trains in about the time of a small one.
            Defaults to 500.
        batch_size: Defaults to 128.
        lr: Adam learning rate (the peak of the cosine schedule). Defaults to 3e-3.
        width: Channels of the first conv block (doubling twice); the feature layer has
            4 * width units. Defaults to 16: a fraction of the 32-wide network's step at
            its held-out accuracy within `max_steps` (`benchmarks/score_time.py
            --classifiers`), so a first score takes minutes on CPUs without AVX-512 too.
        shift: Random translations of up to this fraction of the side while training (0:
            none). Within `max_steps` (a few passes at most) they cost held-out accuracy
            rather than guard against memorising. Defaults to 0.
        seed: Seeds weights and data order. Defaults to 0.
        schedule: `"constant"` (Adam at `lr`) or `"cosine"` (a linear warm-up to `lr` over
            the first 10% of the steps, then a cosine decay to 0), which reaches the same
            accuracy in fewer steps. Defaults to `"cosine"`.
        precision: `"auto"` (bf16 mixed precision where the hardware has it natively,
            `dcgan_tf.hardware.native_bf16`), `"bf16"` or `"fp32"`: the precision of the
            training steps only; the space embeds in float32 either way. Defaults to `"auto"`.
    """

    epochs: int = 10
    max_steps: int = 500
    batch_size: int = 128
    lr: float = 3e-3
    width: int = 16
    shift: float = 0.0
    seed: int = 0
    schedule: str = "cosine"
    precision: str = "auto"

    def __post_init__(self):
        if self.schedule not in ("constant", "cosine"):
            raise ScoringError("Expected `schedule` in ('constant', 'cosine'). "
                               f"Received: schedule={self.schedule!r}")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ScoringError("Expected `precision` in ('auto', 'bf16', 'fp32'). "
                               f"Received: precision={self.precision!r}")

    def epochs_for(self, num_examples):
        """Passes over `num_examples` training images: `epochs`, capped by `max_steps`."""
        steps_per_epoch = -(-num_examples // self.batch_size)
        return max(1, min(self.epochs, self.max_steps // steps_per_epoch))

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass
class FeatureSpace:
    """A named embedding of uint8 images.

    Args:
        name: `"inception"` or `"classifier"`.
        fingerprint: SHA-256 of the weights, so results say exactly which network scored them.
        model: Keras model: float32 (N, size, size, channels) in the space's input range ->
            (N, F) features.
        size: Input side the images are resized to.
        channels: Input channels (grey and RGB are converted).
        scale: `(a, b)` so the network sees `pixels * a + b`.
        info: Extra facts for the report (e.g. the classifier's validation accuracy).
        max_batch: Largest batch `embed` runs: Inception at 299x299 took 13.5 GB at 200.
    """

    name: str
    fingerprint: str
    model: object
    size: int
    channels: int
    scale: tuple
    info: dict = dataclasses.field(default_factory=dict)
    max_batch: int = 500
    _graph: object = dataclasses.field(default=None, repr=False, compare=False)

    def embed(self, images, batch_size=200):
        """(N, F) float64 features of uint8 (N, H, W, C) images, in batches.

        The network runs as one traced graph, where TensorFlow fuses each convolution with its
        batch norm and activation (run eagerly, op by op, it takes more CPU time).
        """
        batch_size = min(batch_size, self.max_batch)
        if self._graph is None:
            spec = tf.TensorSpec([None, self.size, self.size, self.channels], tf.float32)
            self._graph = tf.function(lambda x: self.model(x, training=False),
                                      input_signature=[spec])
        parts = []
        for i in range(0, len(images), batch_size):
            batch = prepare_images(images[i:i + batch_size], self.size, self.channels)
            x = batch.astype(np.float32) * self.scale[0] + self.scale[1]
            parts.append(np.asarray(self._graph(x), np.float64))
        return np.concatenate(parts)

    def describe(self):
        return {"name": self.name, "weights_sha256": self.fingerprint, "input_size": self.size,
                "input_channels": self.channels, **self.info}


def weights_fingerprint(model):
    """SHA-256 of a Keras model's weights (order, shapes and bytes), not of layer names, which
    Keras numbers per process."""
    digest = hashlib.sha256()
    for w in model.weights:
        value = np.ascontiguousarray(np.asarray(w.numpy()))
        digest.update(f"{value.shape}{value.dtype}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def inception_space(weights=None):
    """Inception-v3's 2048-d pool features at 299x299, the usual FID space.

    Args:
        weights: A weights file for `keras.applications.InceptionV3(include_top=False)`
            (`*.weights.h5` or Keras' own `*_notop.h5`), or `None` for `"imagenet"`, which
            Keras reads from its cache (~/.keras/models) or downloads where it can.

    Raises:
        ScoringError: The file is missing or does not fit, or ImageNet weights cannot be had.
    """
    if weights is not None and not os.path.isfile(weights):
        raise ScoringError(f"Inception weights file not found: {weights}")
    try:
        model = keras.applications.InceptionV3(
            include_top=False, pooling="avg", weights=weights or "imagenet",
            input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3))
    except Exception as e:  # noqa: BLE001  (download failures come as many types)
        if weights:
            raise ScoringError(f"Cannot load Inception-v3 weights from {weights}: "
                               f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        raise ScoringError(
            "Cannot get Inception-v3 ImageNet weights (offline?): pass --inception-weights FILE "
            "(inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5 from a machine with "
            "internet, or put it in ~/.keras/models/), or score in --feature-space classifier "
            "on a labelled dataset.") from None
    return FeatureSpace("inception", weights_fingerprint(model), model, INCEPTION_SIZE, 3,
                        (1 / 127.5, -1.0), {"weights": weights or "imagenet"}, max_batch=32)


def build_feature_classifier(num_classes, channels, width=32, shift=0.0, bn_momentum=0.9,
                             dtype="float32"):
    """A small VGG-style CNN at 32x32: three conv blocks, global pooling, a feature layer.

    Batch norm trains through TensorFlow's fused kernel (`dcgan_tf.fused_norm`, the same
    function): Keras' op-by-op batch norm was most of a first score's time
    (`benchmarks/score_time.py`).

    Args:
        num_classes: Outputs of the classifier.
        channels: Input channels.
        width: Channels of the first block (doubling twice).
        shift: Random translations of up to this fraction of the side while training (0: none).
        bn_momentum: Batch norm's moving-average momentum: 0.9 settles within the few hundred
            steps a small dataset gives (Keras' 0.99 did not: a digits classifier at 100%
            training accuracy scored chance with its moving statistics).
        dtype: Keras dtype policy of the trunk (`"mixed_bfloat16"` to train in bf16); the
            feature and logit layers stay float32.

    Returns:
        `(classifier, features)`: the model to train (logits), and the model that stops at
        the penultimate (feature) layer; they share the trunk, only the classifier augments.
    """
    trunk = keras.Sequential(name="trunk")
    for filters in (width, 2 * width, 4 * width):  # 32x32 -> 16x16 -> 8x8 -> 4x4
        for _ in range(2):
            trunk.add(layers.Conv2D(filters, 3, padding="same", use_bias=False, dtype=dtype))
            trunk.add(FusedBatchNormalization(momentum=bn_momentum, dtype=dtype))
            trunk.add(layers.ReLU(dtype=dtype))
        trunk.add(layers.MaxPooling2D(dtype=dtype))
    trunk.add(layers.GlobalAveragePooling2D(dtype=dtype))
    trunk.add(layers.Dense(4 * width, activation="relu", name="features", dtype="float32"))
    inputs = keras.Input((CLASSIFIER_SIZE, CLASSIFIER_SIZE, channels))
    x = layers.RandomTranslation(shift, shift, fill_mode="nearest")(inputs) if shift else inputs
    logits = layers.Dense(num_classes, dtype="float32")(layers.Dropout(0.3)(trunk(x)))
    return keras.Model(inputs, logits), keras.Model(inputs, trunk(inputs))


def _classifier_key(split, cfg):
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"v{CLASSIFIER_VERSION}{sorted(cfg.to_dict().items())}".encode())
    for array in (split.images, split.labels):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def classifier_space(train, cfg=ClassifierConfig(), cache_dir=None, progress=False):
    """The penultimate layer of a small CNN trained on a labelled split, cached on disk.

    The network trains on 90% of `train` (a seeded split) and reports its accuracy on the
    other 10%, so a result says how well its space separates the classes.

    Args:
        train: A labelled `dcgan_tf.data.datasets.Split` (the dataset's training split).
        cfg: A `ClassifierConfig`.
        cache_dir: Where `scoring/classifier-<key>.weights.h5` is kept, the key a hash of
            the images, labels and `cfg`; `None` trains every time.
        progress: Show a bar over the training's steps, with an ETA, on stderr.

    Raises:
        ScoringError: `train` has no labels.
    """
    if train.labels is None or not train.num_classes:
        raise ScoringError("Expected a labelled training split for the classifier feature space.")
    channels = train.images.shape[-1]
    classifier, features = build_feature_classifier(train.num_classes, channels, cfg.width,
                                                    cfg.shift)
    key = _classifier_key(train, cfg)
    path = os.path.join(cache_dir, "scoring", f"classifier-{key}") if cache_dir else None
    info = _load_cached_classifier(classifier, path, key) if path else None
    if info is None:
        trained = classifier
        if _training_dtype(cfg) != "float32":  # train a bf16 twin, embed with float32 weights
            trained, _ = build_feature_classifier(train.num_classes, channels, cfg.width,
                                                  cfg.shift, dtype=_training_dtype(cfg))
        info = _train_classifier(trained, prepare_images(train.images, CLASSIFIER_SIZE, channels),
                                 train.labels, cfg, progress)
        classifier.set_weights(trained.get_weights())
        if path:
            _cache_classifier(classifier, path, key, info)
    info = {**info, "data_key": key, "config": cfg.to_dict()}
    return FeatureSpace("classifier", weights_fingerprint(classifier), features, CLASSIFIER_SIZE,
                        channels, (1 / 127.5, -1.0), info)


def _training_dtype(cfg):
    """The Keras dtype policy the classifier trains in."""
    if cfg.precision == "auto":
        return "mixed_bfloat16" if native_bf16() else "float32"
    if cfg.precision == "bf16":
        require_bf16("The classifier space's bf16")
        return "mixed_bfloat16"
    return "float32"


def _learning_rate(cfg, steps):
    """Adam's learning rate: `cfg.lr`, or its warm-up and cosine decay over `steps`."""
    if cfg.schedule == "constant":
        return cfg.lr
    warmup = max(1, steps // 10)
    return keras.optimizers.schedules.CosineDecay(
        0.0, max(1, steps - warmup), warmup_target=cfg.lr, warmup_steps=warmup)


def _load_cached_classifier(classifier, path, key):
    """Fills `classifier` from the cache entry `path` (`.json` + `.weights.h5`) made for `key`.

    Returns:
        The entry's training info, or `None` on a miss; an entry that fails to load, was made
        for another key or fails its checksum is noted in one line (and retrained).
    """
    weights = path + ".weights.h5"
    if not os.path.isfile(path + ".json"):
        return None  # The JSON is written last: without it there is no entry.
    try:
        with open(path + ".json", encoding="utf-8") as f:
            entry = json.load(f)
        if not isinstance(entry, dict) or entry.get("key") != key:
            raise ValueError("made for other data or settings")
        if file_sha256(weights) != entry.get("sha256"):
            raise ValueError("its weights fail their sha256 checksum")
        classifier.load_weights(weights)
        return entry["info"]
    except (OSError, ValueError, KeyError) as e:
        logger.warning("Retraining the cached classifier %s (%s).", weights,
                       str(e).splitlines()[0] if str(e) else type(e).__name__)
        return None


def _cache_classifier(classifier, path, key, info):
    """Stores the trained classifier: weights, then the JSON naming their key and checksum;
    a failed write (a full disk) only skips caching, with a one-line note."""

    weights = temp_path(path, ".weights.h5")  # Keras picks the format by this ending.
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        classifier.save_weights(weights)
        entry = {"key": key, "sha256": file_sha256(weights), "info": info}
        os.replace(weights, path + ".weights.h5")
        save_json(path + ".json", entry)  # Last: it marks a whole entry.
    except (OSError, ValueError) as e:
        if os.path.exists(weights):
            os.remove(weights)
        if is_disk_full(e):
            e = disk_full(path + ".weights.h5")
        logger.warning("Not caching the classifier (%s).", str(e).splitlines()[0].rstrip("."))


def _stream(images, labels, batch_size, seed=None):
    """Batches of uint8 `images` scaled to [-1, 1] in the pipeline, reshuffled each pass when
    `seed` is given.

    The pipeline runs on one private thread without autotuning: with Keras' own array adapter
    some fits on a 2-core CPU ran at half speed, never with this stream
    (`benchmarks/score_time.py`). Scaling per batch also spares a float32 copy of the split.
    """
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    if seed is not None:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32) / 127.5 - 1.0, y))
    options = tf.data.Options()
    options.autotune.enabled = False
    options.threading.private_threadpool_size = 1
    return ds.prefetch(1).with_options(options)


def _train_classifier(classifier, images, labels, cfg, progress):
    keras.utils.set_random_seed(cfg.seed)
    order = np.random.default_rng(cfg.seed).permutation(len(images))
    held = order[: max(1, len(images) // 10)]
    fit = order[len(held):]
    if -(-len(fit) // cfg.batch_size) > cfg.max_steps:  # fit is shuffled: a random subset
        fit = fit[: cfg.max_steps * cfg.batch_size]
    epochs = cfg.epochs_for(len(fit))
    steps = epochs * -(-len(fit) // cfg.batch_size)
    classifier.compile(optimizer=keras.optimizers.Adam(_learning_rate(cfg, steps)),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                       metrics=["accuracy"])
    # The stream shuffles itself: Keras' own `shuffle` does not apply to a dataset (and warns).
    history = classifier.fit(_stream(images[fit], labels[fit], cfg.batch_size, cfg.seed),
                             epochs=epochs, shuffle=False, verbose=0,
                             callbacks=[StepBar(steps)] if progress else [])
    _, accuracy = classifier.evaluate(_stream(images[held], labels[held], cfg.batch_size),
                                      verbose=0)
    return {"train_examples": int(len(fit)), "epochs": epochs, "heldout_examples": int(len(held)),
            "heldout_accuracy": float(accuracy),
            "final_train_accuracy": float(history.history["accuracy"][-1])}
