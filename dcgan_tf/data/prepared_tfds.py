"""Prepared TensorFlow Datasets directories, read without ever downloading.

The large datasets (CelebA, LSUN bedrooms, ImageNet 32x32) stream from here, and the small ones
fall back to a prepared TFDS copy when their original files are absent.
"""

import os

import tensorflow as tf
import tensorflow_datasets as tfds

from dcgan_tf.data.formats import DataError, DataNotFoundError

# Names in TensorFlow Datasets' catalogue, for streaming and for prepared-TFDS fallbacks.
TFDS_NAMES = {
    "svhn": "svhn_cropped", "svhn_cropped": "svhn_cropped", "cifar10": "cifar10",
    "mnist": "mnist", "fashion_mnist": "fashion_mnist", "celeb_a": "celeb_a",
    "lsun/bedroom": "lsun/bedroom", "downsampled_imagenet/32x32": "downsampled_imagenet/32x32",
}


def load_builder(name, data_dir):
    """A TFDS builder for an already prepared dataset; raises instead of downloading."""
    if name not in TFDS_NAMES:
        expected = ", ".join(TFDS_NAMES)
        raise DataError(f"Unknown TFDS dataset {name!r}. Expected one of: {expected}.")
    tfds_name = TFDS_NAMES[name]
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


def examples(builder, name, split, shuffle_files=False, seed=None):
    """`(uint8 image HWC, int64 label or -1)` pairs of a prepared builder's split."""
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
    return examples(load_builder(name, data_dir), name, split)
