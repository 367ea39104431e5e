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
import tensorflow as tf

from dcgan_tf.data import formats
from dcgan_tf.data.formats import DataError, DataNotFoundError

from dcgan_tf.config import DATASETS

IN_MEMORY_DATASETS = DATASETS[:6]
TFDS_DATASETS = DATASETS[6:]

# (image_size, channels) each dataset trains at by default.
_NATIVE_SHAPES = {
    "digits": (32, 1), "svhn": (32, 3), "cifar10": (32, 3), "mnist": (32, 1),
    "fashion_mnist": (32, 1), "folder": (64, 3), "celeb_a": (64, 3), "lsun/bedroom": (64, 3),
    "downsampled_imagenet/32x32": (32, 3),
}
_SPLITS = {
    "digits": ("train", "test"), "svhn": ("train", "test", "extra", "train+extra"),
    "cifar10": ("train", "test"), "mnist": ("train", "test"), "fashion_mnist": ("train", "test"),
}
# Names in TensorFlow Datasets' catalogue, for streaming and for prepared-TFDS fallbacks.
_TFDS_NAMES = {
    "svhn": "svhn_cropped", "svhn_cropped": "svhn_cropped", "cifar10": "cifar10",
    "mnist": "mnist", "fashion_mnist": "fashion_mnist", "celeb_a": "celeb_a",
    "lsun/bedroom": "lsun/bedroom", "downsampled_imagenet/32x32": "downsampled_imagenet/32x32",
}
# Published sizes and SHA-256 of http://ufldl.stanford.edu/housenumbers/ (DESIGN.md section 3).
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


def native_shape(name):
    """Returns the `(image_size, channels)` a dataset trains at by default.

    Raises:
        DataError: `name` is not one of `DATASETS`.
    """
    _check_name(name)
    return _NATIVE_SHAPES[name]


def load_split(name, split="train", data_dir=None, verify=True):
    """Loads one split of an in-memory dataset from its original files.

    Args:
        name: One of `IN_MEMORY_DATASETS`: `"digits"` (scikit-learn's, embedded), `"svhn"`,
            `"cifar10"`, `"mnist"`, `"fashion_mnist"` or `"folder"`.
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
    from sklearn.datasets import load_digits

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
    if not os.path.isdir(os.path.join(data_dir, _TFDS_NAMES[name])):
        return None
    builder = _tfds_builder(name, data_dir)
    ds = _tfds_examples(builder, name, split).batch(4096)
    batches = list(ds.as_numpy_iterator())
    labels = np.concatenate([b[1] for b in batches]).astype(np.int64)
    return Split(np.concatenate([b[0] for b in batches]), labels, 10)


def _tfds_builder(name, data_dir):
    """A TFDS builder for an already prepared dataset; raises instead of downloading."""
    import tensorflow_datasets as tfds

    if name not in _TFDS_NAMES:
        expected = ", ".join(_TFDS_NAMES)
        raise DataError(f"Unknown TFDS dataset {name!r}. Expected one of: {expected}.")
    tfds_name = _TFDS_NAMES[name]
    builder = tfds.builder(tfds_name, data_dir=data_dir)
    if builder.is_prepared():
        return builder
    # A copy prepared by another TFDS release has another version directory: read it as is.
    versions = os.path.dirname(builder.data_dir)
    prepared = [v for v in os.listdir(versions) if _is_version(v) and os.path.isfile(
        os.path.join(versions, v, "dataset_info.json"))] if os.path.isdir(versions) else []
    if not prepared:
        raise DataNotFoundError(
            f"TFDS dataset {tfds_name} is not prepared: {builder.data_dir}/dataset_info.json not "
            f"found. Nothing is downloaded here: run `tfds build {tfds_name} --data_dir DIR` on a "
            "machine with internet, copy DIR here and pass it as --data-dir."
        )
    newest = max(prepared, key=lambda v: tuple(int(p) for p in v.split(".")))
    return tfds.builder_from_directory(os.path.join(versions, newest))


def _is_version(name):
    parts = name.split(".")
    return len(parts) == 3 and all(p.isdigit() for p in parts)


def _tfds_examples(builder, name, split, shuffle_files=False, seed=None):
    """`(uint8 image HWC, int64 label or -1)` pairs of a prepared builder's split."""
    import tensorflow_datasets as tfds

    try:
        builder.info.splits[split].num_examples
    except (KeyError, ValueError) as err:
        raise DataError(
            f"Unknown split {split!r} for {name}. Expected one of: "
            f"{', '.join(builder.info.splits)}."
        ) from err
    read_config = tfds.ReadConfig(shuffle_seed=seed) if seed is not None else None
    ds = builder.as_dataset(split=split, shuffle_files=shuffle_files, read_config=read_config)
    has_label = "label" in builder.info.features

    def to_pair(example):
        label = tf.cast(example["label"], tf.int64) if has_label else tf.constant(-1, tf.int64)
        return example["image"], label

    return ds.map(to_pair, num_parallel_calls=tf.data.AUTOTUNE)


def tfds_dataset(name, split="train", data_dir=None):
    """Streams a dataset from an already prepared TensorFlow Datasets directory.

    Never downloads: a dataset that is not prepared in `data_dir` raises at once.

    Args:
        name: A TFDS dataset of `DATASETS` (`"celeb_a"`, `"lsun/bedroom"`,
            `"downsampled_imagenet/32x32"`), or `"svhn"` (TFDS `svhn_cropped`), `"cifar10"`,
            `"mnist"`, `"fashion_mnist"`.
        split: A TFDS split name or expression. Defaults to `"train"`.
        data_dir: The TFDS data directory; `None` for TFDS' default (`~/tensorflow_datasets`).

    Returns:
        A `tf.data.Dataset` of `(image, label)`: uint8 (H, W, C) and int64 (-1 if unlabelled).

    Raises:
        DataError: Unknown dataset or split; `DataNotFoundError` if it is not prepared.
    """
    return _tfds_examples(_tfds_builder(name, data_dir), name, split)


def _prepare_tensor(images, image_size, channels, antialias=True):
    """Centre-crops, converts channels and resizes uint8 (..., H, W, C) images, in TF."""
    shape = tf.shape(images)
    height, width = shape[-3], shape[-2]
    side = tf.minimum(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    x = tf.cast(images[..., top:top + side, left:left + side, :], tf.float32)
    if channels == 1 and images.shape[-1] == 3:
        x = tf.image.rgb_to_grayscale(x)  # ITU-R 601 luminance, like Pillow's "L"
    x = tf.image.resize(x, (image_size, image_size), method="bilinear", antialias=antialias)
    x = tf.saturate_cast(tf.round(x), tf.uint8)
    if channels == 3 and images.shape[-1] == 1:
        x = tf.image.grayscale_to_rgb(x)
    return x


def as_image_batch(images):
    """Returns `images` as a uint8 (N, H, W, C) array, C in {1, 3}; (N, H, W) becomes grey.

    Raises:
        ValueError: any other dtype or shape.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            "Expected `images` to be uint8 (N, H, W, C) with C in {1, 3}. "
            f"Received: images {images.dtype} {images.shape}"
        )
    return images


def prepare_images(images, image_size, channels, chunk=2048):
    """Brings uint8 images to the model's size and channels, once, before training.

    Non-square images are centre-cropped, then resized bilinearly with antialiasing; grey
    becomes RGB by repetition, RGB becomes grey by luminance.

    Args:
        images: uint8 (N, H, W, C) with C in {1, 3}, or (N, H, W) grey.
        image_size: Side of the square output.
        channels: 1 or 3.
        chunk: Images resized per TF call, to bound the float32 working memory.

    Returns:
        uint8 (N, image_size, image_size, channels); `images` itself when nothing changes.

    Raises:
        ValueError: `images` is not uint8 NHWC, or `channels` is not 1 or 3.
    """
    images = as_image_batch(images)
    if channels not in (1, 3):
        raise ValueError(f"Expected `channels` to be 1 or 3. Received: channels={channels}")
    if images.shape[1:] == (image_size, image_size, channels):
        return images
    # Antialiasing only matters when shrinking, and costs 5x when enlarging (MNIST 28 -> 32).
    antialias = min(images.shape[1:3]) > image_size
    parts = [
        _prepare_tensor(tf.constant(images[i:i + chunk]), image_size, channels, antialias).numpy()
        for i in range(0, len(images), chunk)
    ]
    empty = np.zeros((0, image_size, image_size, channels), np.uint8)
    return np.concatenate(parts) if parts else empty


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


def _options(seed):
    options = tf.data.Options()
    options.deterministic = seed is not None
    options.autotune.enabled = True
    return options


def _normalise(images):
    return tf.cast(images, tf.float32) / 127.5 - 1.0  # [0, 255] -> [-1, 1], tanh's range


def train_dataset(name, image_size, channels, batch_size, seed=0, data_dir=None, verify=True,
                  strategy=None, split="train", with_labels=False, skip_batches=0):
    """Builds the infinite, shuffled, batched training pipeline of float32 images in [-1, 1].

    In-memory datasets are prepared to uint8 once and kept as one tensor; each batch of
    shuffled indices gathers its images and normalises them. TFDS datasets stream, each image
    cropped and resized on the fly, through a 10,000-image shuffle buffer.

    Args:
        name: One of `DATASETS`.
        image_size: Side of the square training images.
        channels: 1 or 3.
        batch_size: Global batch size (Keras splits it across replicas).
        seed: Seeds the shuffle; same seed, same batches. `None` shuffles unseeded and lets
            tf.data reorder for speed. Defaults to 0.
        data_dir: See `load_split` and `tfds_dataset`.
        verify: See `load_split`. Defaults to `True`.
        strategy: A `tf.distribute.Strategy`, only to check that `batch_size` divides over its
            replicas; the plain dataset is returned, as `Model.fit` distributes it itself.
        split: The split to train on. Defaults to `"train"`.
        with_labels: Yield `(images, labels)` batches (int32 labels), for conditional
            training. Defaults to `False`.
        skip_batches: Start this many batches into the stream, where a resumed run left
            off. In-memory datasets skip shuffled indices (cheap); TFDS ones read and drop
            the batches. Defaults to 0.

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
        if with_labels:
            raise DataError(f"{name} has no class labels to condition on; use an unconditional model.")
        ds = _tfds_train_dataset(name, image_size, channels, batch_size, seed, data_dir, split)
        return (ds[0].skip(skip_batches), ds[1]) if skip_batches else ds
    if name == "folder":  # read straight at the training size, to resample once
        data = _load_folder(data_dir, split, image_size)
    else:
        data = load_split(name, split, data_dir, verify)
    _log_resize(name, data.images.shape[1:], image_size, channels)
    images = prepare_images(data.images, image_size, channels)
    count = len(images)
    _check_count(name, split, count, batch_size)
    pixels = tf.constant(images)
    ds = tf.data.Dataset.range(count).shuffle(count, seed=seed, reshuffle_each_iteration=True)
    ds = ds.repeat().batch(batch_size, drop_remainder=True).skip(skip_batches)
    if with_labels:
        if data.labels is None:
            raise DataError(f"{name} ({data_dir}) has no labels; conditional training needs labelled data.")
        labels = tf.constant(data.labels.astype("int32"))
        ds = ds.map(lambda index: (_normalise(tf.gather(pixels, index)), tf.gather(labels, index)),
                    num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda index: _normalise(tf.gather(pixels, index)),
                    num_parallel_calls=tf.data.AUTOTUNE)
    options = _options(seed)
    # Workers (multi-worker training) share the seed, so each taking every k-th index of the
    # same order splits the data without overlap; there are no files to shard by.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.prefetch(tf.data.AUTOTUNE).with_options(options), count


def _check_count(name, split, count, batch_size):
    if count < batch_size:
        raise DataError(
            f"{name} split {split!r} has {count} examples, fewer than batch_size {batch_size}: "
            "use a smaller --batch-size or more data."
        )


def _tfds_train_dataset(name, image_size, channels, batch_size, seed, data_dir, split):
    builder = _tfds_builder(name, data_dir)
    ds = _tfds_examples(builder, name, split, shuffle_files=True, seed=seed)
    count = builder.info.splits[split].num_examples
    _check_count(name, split, count, batch_size)
    shape = builder.info.features["image"].shape
    if None not in shape:
        _log_resize(name, shape, image_size, channels)
    ds = ds.map(lambda image, label: _prepare_tensor(image, image_size, channels),
                num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.shuffle(_TFDS_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    ds = ds.repeat().batch(batch_size, drop_remainder=True)
    ds = ds.map(_normalise, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_options(seed)), count
