"""Datasets of the DCGAN paper and friends, as NumPy splits and as tf.data training pipelines.

Small datasets (digits, SVHN, CIFAR-10, MNIST, Fashion-MNIST, an image folder) are read from their
original files into memory as uint8; large ones (CelebA, LSUN bedrooms, ImageNet 32x32) stream from
an already prepared TensorFlow Datasets directory. Nothing is ever downloaded: a missing file is a
`DataError` saying where it was expected and where to get it.
"""

import dataclasses
import logging
import os

import numpy as np
from sklearn.datasets import load_digits
import tensorflow as tf

from dcgan_tf.data import formats, npz, prepared_tfds
from dcgan_tf.data.crop import as_image_batch, prepare_images, prepare_tensor  # noqa: F401  (re-exported)
from dcgan_tf.data.formats import DataError, DataNotFoundError
from dcgan_tf.data.prepared_tfds import tfds_dataset  # noqa: F401  (re-exported)
from dcgan_tf.data.registry import (  # noqa: F401  (re-exported)
    DATASETS, IN_MEMORY_DATASETS, NATIVE_SHAPES as _NATIVE_SHAPES, TFDS_DATASETS,
)
_SPLITS = {
    "digits": ("train", "test"), "svhn": ("train", "test", "extra", "train+extra"),
    "cifar10": ("train", "test"), "mnist": ("train", "test"), "fashion_mnist": ("train", "test"),
}
# Published sizes and SHA-256 of http://ufldl.stanford.edu/housenumbers/ (checked when read).
SVHN_FILES = {
    "train": ("train_32x32.mat", 182_040_794,
              "435e94d69a87fde4fd4d7f3dd208dfc32cb6ae8af2240d066de1df7508d083b8"),
    "test": ("test_32x32.mat", 64_275_384,
             "cdce80dfb2a2c4c6160906d0bd7c68ec5a99d7ca4831afa54f09182025b6a75b"),
    "extra": ("extra_32x32.mat", 1_329_278_602,
              "a133a4beb38a00fcdda90c9489e0c04f900b660ce8a316a5e854838379a71eb3"),
}
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# How to get each dataset's files, ending every not-found message.
_HOW = {
    "svhn": "Download train_32x32.mat and test_32x32.mat from "
            "http://ufldl.stanford.edu/housenumbers/ into --data-dir.",
    "cifar10": "Download cifar-10-binary.tar.gz or cifar-10-python.tar.gz from "
               "https://www.cs.toronto.edu/~kriz/cifar.html and extract it into --data-dir.",
    "mnist": "Download the four idx files of http://yann.lecun.com/exdb/mnist/ (or a mirror) "
             "into --data-dir.",
    "fashion_mnist": "Run `apt-get install dataset-fashion-mnist` (files land in "
                     "/usr/share/datasets/fashion-mnist) or download the idx files of "
                     "https://github.com/zalandoresearch/fashion-mnist into --data-dir.",
}
_FASHION_MNIST_DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
_DIGITS_SEED = 0  # fixed: the digits train/test split must never change between runs
_TFDS_SHUFFLE_BUFFER = 10_000
_log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Split:
    """One split of an in-memory dataset.

    Args:
        images: uint8 (N, H, W, C), C in {1, 3}.
        labels: int64 (N,) in 0..num_classes-1, or `None` when unlabelled.
        num_classes: Number of classes, or `None` when unlabelled.
    """

    images: np.ndarray
    labels: np.ndarray | None
    num_classes: int | None

    def __len__(self):
        return len(self.images)


def _check_name(name):
    if name not in DATASETS:
        raise DataError(f"Unknown dataset {name!r}. Expected one of: {', '.join(DATASETS)}.")


def _check_split(name, split, splits):
    if split not in splits:
        expected = ", ".join(splits)
        raise DataError(f"Unknown split {split!r} for {name}. Expected one of: {expected}.")


def native_shape(name, data_dir=None):
    """Returns the `(image_size, channels)` a dataset trains at by default.

    An `npz` file trains at its own channels and the power of 2 >= 32 that holds its images.

    Raises:
        DataError: `name` is not one of `DATASETS`, or an unreadable `npz` file.
    """
    _check_name(name)
    if name == "npz":
        height, width, channels = npz.image_shape(data_dir)
        return max(32, 1 << (max(height, width) - 1).bit_length()), channels
    return _NATIVE_SHAPES[name]


def load_split(name, split="train", data_dir=None, verify=True):
    """Loads one split of an in-memory dataset from its original files.

    Args:
        name: One of `IN_MEMORY_DATASETS`: `"digits"` (scikit-learn's, embedded), `"svhn"`,
            `"cifar10"`, `"mnist"`, `"fashion_mnist"`, `"folder"` or `"npz"` (see
            `dcgan_tf.data.npz`: `data_dir` is the `.npz` file).
        split: `"train"` or `"test"`; SVHN also has `"extra"` and `"train+extra"`. Digits has
            no official split: a fixed seeded 80/20 permutation. Defaults to `"train"`.
        data_dir: Directory with the original files: SVHN `*_32x32.mat`; CIFAR-10
            `cifar-10-batches-bin/` or `cifar-10-batches-py/`; (Fashion-)MNIST idx files, `.gz`
            or not; folder `<split>/<class>/*.png|jpg` or flat images. Without them, SVHN,
            CIFAR-10 and (Fashion-)MNIST are read from a prepared TFDS directory there.
            Fashion-MNIST defaults to Debian's `/usr/share/datasets/fashion-mnist`.
        verify: Check SVHN files against their published size and SHA-256 (refuses a mismatch).
            Defaults to `True`.

    Returns:
        A `Split`. Folder images are RGB, centre-cropped and resized to 64x64.

    Raises:
        DataError: Unknown dataset or split, a TFDS-only dataset, or missing/corrupt files
            (`DataNotFoundError`, also a `FileNotFoundError`, for missing ones).
    """
    _check_name(name)
    if name in TFDS_DATASETS:
        raise DataError(
            f"{name} is streamed from a prepared TFDS directory, not loaded into memory: use "
            f"`tfds_dataset({name!r}, split, data_dir)` or `train_dataset`."
        )
    if name == "folder":
        return _load_folder(data_dir, split, _NATIVE_SHAPES["folder"][0])
    if name == "npz":
        return Split(*npz.load_arrays(data_dir, split))
    _check_split(name, split, _SPLITS[name])
    if name == "digits":
        return _load_digits(split)
    if "+" in split:
        parts = [load_split(name, part, data_dir, verify) for part in split.split("+")]
        return Split(
            np.concatenate([p.images for p in parts]),
            np.concatenate([p.labels for p in parts]),
            parts[0].num_classes,
        )
    if name == "fashion_mnist" and data_dir is None and os.path.isdir(_FASHION_MNIST_DEBIAN_DIR):
        data_dir = _FASHION_MNIST_DEBIAN_DIR
    if data_dir is None:
        raise DataNotFoundError(f"{name} needs a data directory (--data-dir). {_HOW[name]}")
    try:
        if name == "svhn":
            return _load_svhn(data_dir, split, verify)
        if name == "cifar10":
            return _load_cifar10(data_dir, split)
        return _load_idx(name, data_dir, split)
    except DataNotFoundError:
        fallback = _load_prepared_tfds(name, split, data_dir)
        if fallback is None:
            raise
        return fallback


def _load_digits(split):
    """scikit-learn's 8x8 digits (values 0..16) as uint8 0..255, split 80/20 by a fixed seed."""
    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    order = np.random.default_rng(_DIGITS_SEED).permutation(len(images))
    cut = int(0.8 * len(images))
    index = order[:cut] if split == "train" else order[cut:]
    return Split(images[index], digits.target[index].astype(np.int64), 10)


def _load_svhn(data_dir, split, verify):
    filename, size, sha256 = SVHN_FILES[split]
    path = os.path.join(data_dir, filename)
    if not os.path.isfile(path):
        raise DataNotFoundError(f"SVHN file not found: {path}. {_HOW['svhn']}")
    if verify:
        formats.verify_file(path, size, sha256, "re-download it, or skip this check: --no-verify.")
    images, labels = formats.read_svhn_mat(path)
    return Split(images, labels, 10)


def _load_cifar10(data_dir, split):
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    batches = formats.read_cifar_dir(data_dir, names)
    if batches is None:
        raise DataNotFoundError(
            f"CIFAR-10 files not found: {os.path.join(data_dir, 'cifar-10-batches-bin', names[0])}"
            f".bin (or cifar-10-batches-py/, or the batches directly in it). {_HOW['cifar10']}"
        )
    return Split(*batches, 10)


def _load_idx(name, data_dir, split):
    paths = []
    for stem in _IDX_FILES[split]:
        path = os.path.join(data_dir, stem)
        found = [p for p in (path, path + ".gz") if os.path.isfile(p)]
        if not found:
            raise DataNotFoundError(f"{name} file not found: {path}[.gz]. {_HOW[name]}")
        paths.append(found[0])
    images = formats.read_idx(paths[0], formats.IDX_IMAGES_MAGIC)
    labels = formats.read_idx(paths[1], formats.IDX_LABELS_MAGIC).astype(np.int64)
    if len(images) != len(labels) or labels.max(initial=0) > 9:
        raise DataError(
            f"{name} files {paths[0]} and {paths[1]} do not match: {len(images)} images, "
            f"{len(labels)} labels (0..9 expected). Re-download them."
        )
    return Split(images[..., None], labels, 10)


def _load_folder(data_dir, split, size):
    if data_dir is None or not os.path.isdir(data_dir):
        raise DataNotFoundError(
            f"Image folder not found: {data_dir}. Pass --data-dir DIR with DIR/<split>/<class>/"
            "*.png|jpg, or PNG/JPEG files directly in DIR."
        )
    return Split(*formats.read_image_folder(data_dir, split, size))


def _load_prepared_tfds(name, split, data_dir):
    """The split from a prepared TFDS copy of `name` in `data_dir`, or `None` if there is none."""
    if not os.path.isdir(os.path.join(data_dir, prepared_tfds.TFDS_NAMES[name])):
        return None
    builder = prepared_tfds.load_builder(name, data_dir)
    ds = prepared_tfds.examples(builder, name, split).batch(4096)
    batches = list(ds.as_numpy_iterator())
    labels = np.concatenate([b[1] for b in batches]).astype(np.int64)
    return Split(np.concatenate([b[0] for b in batches]), labels, 10)


def _check_batch_size(batch_size, strategy):
    if batch_size < 1:
        raise DataError(f"Expected `batch_size` >= 1. Received: batch_size={batch_size}")
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    if batch_size % replicas:
        raise DataError(
            f"Batch size {batch_size} is not a multiple of the {replicas} replicas in sync: "
            f"pass a --batch-size divisible by {replicas}."
        )


def _log_resize(name, shape, image_size, channels):
    """One message when the data's own size or channels differ from the model's."""
    height, width, in_channels = shape
    colours = {1: "grey", 3: "RGB"}
    changes = [
        "centre-cropping" if height != width else "",
        f"resizing to {image_size}x{image_size}" if (height, width) != (image_size,) * 2 else "",
        f"converting to {colours[channels]}" if in_channels != channels else "",
    ]
    if any(changes):
        _log.warning("%s images are %dx%d %s; %s.", name, height, width, colours[in_channels],
                     " and ".join(c for c in changes if c))


def _options(seed, threads=None):
    options = tf.data.Options()
    options.deterministic = seed is not None
    options.autotune.enabled = not threads
    if threads:
        options.threading.private_threadpool_size = threads
    return options


def _normalise(images):
    return tf.cast(images, tf.float32) / 127.5 - 1.0  # [0, 255] -> [-1, 1], tanh's range


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Where `train_dataset` reads its images and how it orders, labels and runs them.

    Args:
        split: The split to train on. Defaults to `"train"`.
        seed: Seeds the shuffle; same seed, same batches. `None` shuffles unseeded and lets
            tf.data reorder for speed. Defaults to 0.
        data_dir: See `load_split` and `tfds_dataset`. Defaults to `None`.
        verify: See `load_split`. Defaults to `True`.
        with_labels: Yield `(images, labels)` batches (int32 labels), for conditional
            training. Defaults to `False`.
        labelled: Indices into the split of the labelled images of semi-supervised
            training (`dcgan_tf.data.splits.labelled_subset`): each element is then
            `(images, labelled images, their labels)`, the labelled batch drawn from those
            images alone (shuffled on their own, reshuffled each pass) and the unlabelled
            batch from the whole split. In-memory datasets only. Defaults to `None`.
        threads: An in-memory pipeline's tf.data threads: `None` autotunes (parallel
            gathers, autotuned prefetch); a number runs it on that many private threads,
            sequentially, without autotuning. Defaults to `None`.
        skip_batches: Start this many batches into the stream, where a resumed run left
            off. In-memory datasets skip shuffled indices (cheap); TFDS ones read and drop
            the batches. Defaults to 0.
        note_resize: Whether to log one line when the images are resized or converted; a
            run rebuilding the pipeline for a later segment says it once. Defaults to `True`.
    """

    split: str = "train"
    seed: int | None = 0
    data_dir: str | None = None
    verify: bool = True
    with_labels: bool = False
    labelled: object = None
    threads: int | None = None
    skip_batches: int = 0
    note_resize: bool = True


def train_dataset(name, image_size, channels, batch_size, config=PipelineConfig(), strategy=None):
    """Builds the infinite, shuffled, batched training pipeline of float32 images in [-1, 1].

    In-memory datasets are prepared to uint8 once and kept as one tensor; each batch of
    shuffled indices gathers its images and normalises them. TFDS datasets stream, each image
    cropped and resized on the fly, through a 10,000-image shuffle buffer.

    Args:
        name: One of `DATASETS`.
        image_size: Side of the square training images.
        channels: 1 or 3.
        batch_size: Global batch size (Keras splits it across replicas).
        config: A `PipelineConfig`: split, seed, files, labels, threads and where the stream
            starts. Defaults to `PipelineConfig()`.
        strategy: A `tf.distribute.Strategy`, only to check that `batch_size` divides over its
            replicas; the plain dataset is returned, as `Model.fit` distributes it itself.

    Returns:
        `(dataset, num_examples)`: float32 batches (batch_size, image_size, image_size,
        channels), forever. Passes run into each other (repeat, then batch), so no example is
        dropped; `drop_remainder` only gives the batch dimension a static size.

    Raises:
        DataError: Unknown dataset or split, unreadable data, fewer examples than
            `batch_size`, or `batch_size` not divisible by the replicas.
    """
    _check_name(name)
    _check_batch_size(batch_size, strategy)
    if name in TFDS_DATASETS:
        if config.labelled is not None:
            raise DataError(f"{name} streams from TFDS; semi-supervised training (--labels) needs "
                            "an in-memory labelled dataset.")
        if config.with_labels:
            raise DataError(f"{name} has no class labels to condition on; use an unconditional model.")
        ds = _tfds_train_dataset(name, image_size, channels, batch_size, config)
        return (ds[0].skip(config.skip_batches), ds[1]) if config.skip_batches else ds
    if name == "folder":  # read straight at the training size, to resample once
        data = _load_folder(config.data_dir, config.split, image_size)
    else:
        data = load_split(name, config.split, config.data_dir, config.verify)
    if (config.with_labels or config.labelled is not None) and data.labels is None:
        raise DataError(f"{name} ({config.data_dir}) has no labels; conditional and "
                        "semi-supervised training need labelled data.")
    return _in_memory_train_dataset(name, data, image_size, channels, batch_size, config)


def _in_memory_train_dataset(name, data, image_size, channels, batch_size, cfg):
    """`train_dataset` of a `Split` in memory: resized once, then shuffled indices each pass."""
    if cfg.note_resize:
        _log_resize(name, data.images.shape[1:], image_size, channels)
    images = prepare_images(data.images, image_size, channels)
    count = len(images)
    _check_count(name, cfg.split, count, batch_size)
    pixels = tf.constant(images)
    ds = tf.data.Dataset.range(count).shuffle(count, seed=cfg.seed, reshuffle_each_iteration=True)
    ds = ds.repeat().batch(batch_size, drop_remainder=True).skip(cfg.skip_batches)
    parallel = None if cfg.threads else tf.data.AUTOTUNE
    if cfg.with_labels:
        labels = tf.constant(data.labels.astype("int32"))
        ds = ds.map(lambda index: (_normalise(tf.gather(pixels, index)), tf.gather(labels, index)),
                    num_parallel_calls=parallel)
    else:
        ds = ds.map(lambda index: _normalise(tf.gather(pixels, index)), num_parallel_calls=parallel)
    if cfg.labelled is not None:
        labelled = _labelled_stream(pixels, data.labels, cfg.labelled, batch_size, cfg.seed,
                                    cfg.skip_batches, parallel)
        ds = tf.data.Dataset.zip(ds, labelled)
        ds = ds.map(lambda images, pair: (images, *pair))
    options = _options(cfg.seed, cfg.threads)
    # Workers (multi-worker training) share the seed, so each taking every k-th index of the
    # same order splits the data without overlap; there are no files to shard by.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.prefetch(1 if cfg.threads else tf.data.AUTOTUNE).with_options(options), count


def _labelled_stream(pixels, labels, indices, batch_size, seed, skip_batches,
                     parallel=tf.data.AUTOTUNE):
    """Batches of `(images, labels)` drawn from the split's `indices` alone, forever."""
    indices = np.asarray(indices, dtype=np.int64)
    if len(indices) == 0:
        raise DataError("Expected at least one labelled example. Received: labelled=[]")
    chosen = tf.constant(indices)
    targets = tf.constant(np.asarray(labels)[indices].astype("int32"))
    # Its own shuffle seed, so that the labelled order is not a copy of the unlabelled one.
    order = tf.data.Dataset.range(len(indices)).shuffle(
        len(indices), seed=None if seed is None else seed + 1, reshuffle_each_iteration=True)
    order = order.repeat().batch(batch_size, drop_remainder=True).skip(skip_batches)
    return order.map(lambda i: (_normalise(tf.gather(pixels, tf.gather(chosen, i))),
                                tf.gather(targets, i)), num_parallel_calls=parallel)


def _check_count(name, split, count, batch_size):
    if count < batch_size:
        raise DataError(
            f"{name} split {split!r} has {count} examples, fewer than batch_size {batch_size}: "
            "use a smaller --batch-size or more data."
        )


def _tfds_train_dataset(name, image_size, channels, batch_size, cfg):
    """`train_dataset` of a prepared TFDS dataset, streamed (without `cfg.skip_batches`)."""
    builder = prepared_tfds.load_builder(name, cfg.data_dir)
    ds = prepared_tfds.examples(builder, name, cfg.split, shuffle_files=True, seed=cfg.seed)
    count = builder.info.splits[cfg.split].num_examples
    _check_count(name, cfg.split, count, batch_size)
    shape = builder.info.features["image"].shape
    if cfg.note_resize and None not in shape:
        _log_resize(name, shape, image_size, channels)
    ds = ds.map(lambda image, label: prepare_tensor(image, image_size, channels),
                num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.shuffle(_TFDS_SHUFFLE_BUFFER, seed=cfg.seed, reshuffle_each_iteration=True)
    ds = ds.repeat().batch(batch_size, drop_remainder=True)
    ds = ds.map(_normalise, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_options(cfg.seed)), count
