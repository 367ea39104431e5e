"""Inputs of `dcgan-tf dedup`: folders, TFRecords or arrays, as 32x32 RGB centre crops; and
what `--remove` does to them (nothing is deleted).
"""

import os

import numpy as np
from PIL import Image, UnidentifiedImageError
import tensorflow as tf

from dcgan_tf.data.crop import crop_resize_pil
from dcgan_tf.investigations.common import InvestigateError

SIDE = 32
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
TFRECORD_KEYS = ("image", "image/encoded")


def centre_crop_resize(image, side=SIDE):
    """uint8 (H, W, C) or (H, W) -> uint8 (side, side, 3): centre square crop, box resize, RGB."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    pil = Image.fromarray(image).convert("RGB")
    # An area average when shrinking: each hash pixel is the mean of the pixels it covers.
    shrinking = min(pil.size) >= side
    return crop_resize_pil(pil, side, resample="box" if shrinking else "bilinear")


def prepare(images, side=SIDE):
    """Brings images (N, H, W, C) or a list of arrays to uint8 (N, side, side, 3)."""
    if isinstance(images, np.ndarray) and images.ndim == 4 and images.shape[1:] == (side, side, 3):
        return images.astype(np.uint8)
    return np.stack([centre_crop_resize(im, side) for im in images]) if len(images) else \
        np.zeros((0, side, side, 3), np.uint8)


def load_folder(path):
    """Every image under `path` (recursive), prepared; returns `(images, relative paths)`."""
    found = sorted(
        os.path.relpath(os.path.join(root, f), path)
        for root, _, files in os.walk(path) for f in files if f.lower().endswith(IMAGE_SUFFIXES)
    )
    if not found:
        raise InvestigateError(f"No images ({', '.join(IMAGE_SUFFIXES)}) under {path}.")
    images, kept = [], []
    for rel in found:
        try:
            with Image.open(os.path.join(path, rel)) as im:
                images.append(centre_crop_resize(np.asarray(im.convert("RGB"))))
            kept.append(rel)
        except (UnidentifiedImageError, OSError):
            continue  # Not an image after all; reported by count below.
    if not images:
        raise InvestigateError(f"None of the {len(found)} files under {path} could be read as images.")
    return np.stack(images), kept


def _example_image(record):
    example = tf.train.Example.FromString(record)
    features = example.features.feature
    for key in TFRECORD_KEYS:
        if key in features and features[key].bytes_list.value:
            return features[key].bytes_list.value[0]
    raise InvestigateError(
        f"Expected a bytes feature {' or '.join(repr(k) for k in TFRECORD_KEYS)} (an encoded image) "
        f"in each tf.train.Example. Found: {', '.join(sorted(features)) or 'none'}"
    )


def load_tfrecords(paths):
    """Decodes every record's encoded image; returns `(images, ids "file:index", records)`."""
    images, ids, records = [], [], []
    for path in paths:
        if not os.path.isfile(path):
            raise InvestigateError(f"TFRecord file not found: {path}")
        for i, record in enumerate(tf.data.TFRecordDataset(path).as_numpy_iterator()):
            decoded = tf.io.decode_image(_example_image(record), expand_animations=False).numpy()
            images.append(centre_crop_resize(decoded))
            ids.append(f"{path}:{i}")
            records.append(record)
    if not images:
        raise InvestigateError(f"No records in {', '.join(paths)}.")
    return np.stack(images), ids, records


def load_inputs(folder=None, tfrecords=None, images=None, ids=None):
    """Reads the one input given; returns `(images uint8 (N, 32, 32, 3), ids, records or None)`."""
    if folder is not None:
        images, ids = load_folder(folder)
        return images, ids, None
    if tfrecords is not None:
        return load_tfrecords(list(tfrecords))
    images = prepare(images)
    return images, list(ids) if ids is not None else [str(i) for i in range(len(images))], None


def remove_duplicates(out_dir, folder, ids, groups, records):
    """Moves every duplicate but the first of its group out of `folder`, or writes the kept records.

    Args:
        out_dir: Folder duplicates go to (`OUT/removed/<relative path>`), or where
            `dedup.tfrecord` is written.
        folder: The de-duplicated folder, or `None` for TFRecords.
        ids: Relative paths (folder) or `"file:index"` (TFRecords), one per image.
        groups: Lists of indices, the kept one first.
        records: The serialised records (TFRecords), else `None`.

    Returns:
        What was done, for the report.
    """
    drop = sorted(i for g in groups for i in g[1:])
    if folder is not None:
        moved = []
        for i in drop:
            target = os.path.join(out_dir, "removed", ids[i])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.replace(os.path.join(folder, ids[i]), target)
            moved.append(target)
        return {"moved_to": os.path.join(out_dir, "removed"), "count": len(moved)}

    path = os.path.join(out_dir, "dedup.tfrecord")
    os.makedirs(out_dir, exist_ok=True)
    skip = set(drop)
    with tf.io.TFRecordWriter(path) as writer:
        for i, record in enumerate(records):
            if i not in skip:
                writer.write(record)
    return {"tfrecord": path, "kept": len(records) - len(skip), "count": len(skip)}
