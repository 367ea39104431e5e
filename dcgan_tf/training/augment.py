"""Differentiable augmentation of D's inputs (DiffAugment, Zhao et al. 2020), and rotations.

DiffAugment applies the same random transforms to every image D sees, real and fake, in both
D's and G's steps, so D cannot overfit a small training set and G's gradient still flows
through the transform. The policies follow the authors' code (mit-han-lab/data-efficient-gans,
`DiffAugment_tf.py`) on images in [-1, 1]: `color` (brightness, saturation, contrast),
`translation` (shift up to 1/8 of the side, zero fill) and `cutout` (a zeroed square of half
the side), plus `flip` (a mirror image with probability 1/2, the augmentation of semi-supervised
CIFAR-10 work since Laine & Aila 2017). Randomness is stateless: a seed of shape (2,) gives the
same draw every time.

The rotation helpers serve the self-supervised rotation loss (Chen et al. 2019), and
`contrastive_view` the contrastive loss on real images (SimCLR's augmentations, Chen et al. 2020).
"""

import math

import tensorflow as tf

from dcgan_tf.config import parse_policies

TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5
# SimCLR's random resized crop: area fraction and aspect ratio ranges. The smallest area is
# 0.25 rather than their 0.08: at 32x32 a 0.08 crop is a 9-pixel square.
CROP_AREA = (0.25, 1.0)
CROP_ASPECT = (3 / 4, 4 / 3)


def _seeds(seed, n):
    # Independent stateless seeds derived from one (2,) seed.
    return tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=n)


def color(images, seed):
    """Random brightness, saturation and contrast per image, in DiffAugment's order and ranges.

    Args:
        images: float (N, H, W, C) in [-1, 1].
        seed: int (2,) stateless seed.

    Returns:
        Augmented images, same shape and dtype. Not clipped (as in the authors' code): for
        inputs in [-1, 1], brightness gives [-1.5, 1.5], saturation (which keeps each pixel's
        channel mean) at most 3.5 in magnitude, and contrast (about an image mean within
        1.5) at most 1.5 * 3.5 + 0.5 * 1.5 = 6.
    """
    s = _seeds(seed, 3)
    n = tf.shape(images)[0]
    dtype = images.dtype
    shape = tf.stack([n, 1, 1, 1])
    brightness = tf.random.stateless_uniform(shape, s[0], -0.5, 0.5, dtype=dtype)
    x = images + brightness
    saturation = tf.random.stateless_uniform(shape, s[1], 0.0, 2.0, dtype=dtype)
    mean = tf.reduce_mean(x, axis=3, keepdims=True)
    x = (x - mean) * saturation + mean
    contrast = tf.random.stateless_uniform(shape, s[2], 0.5, 1.5, dtype=dtype)
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * contrast + mean


def translation_shifts(batch, size, seed, ratio=TRANSLATION_RATIO):
    """Draws per-image integer shifts (N, 2) = (dy, dx), each in [-s, s], s = round(size * ratio)."""
    s = int(size * ratio + 0.5)
    return tf.random.stateless_uniform([batch, 2], tf.cast(seed, tf.int64), -s, s + 1, dtype=tf.int32)


def translate(images, shifts):
    """Shifts each image by `shifts[i] = (dy, dx)` pixels, filling with zeros.

    out[i, y, x] = images[i, y - dy, x - dx] where that is inside the image, else 0.
    A gather, so the gradient reaches the moved pixels.
    """
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    pad = tf.reduce_max(tf.abs(shifts))
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    rows = tf.range(height)[None, :] - shifts[:, :1] + pad
    cols = tf.range(width)[None, :] - shifts[:, 1:] + pad
    x = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(x, cols, axis=2, batch_dims=1)


def translation(images, seed):
    """Random translation by up to 1/8 of the image side, zero fill."""
    shifts = translation_shifts(tf.shape(images)[0], images.shape[1], seed)
    return translate(images, shifts)


def flip(images, seed):
    """Mirrors each image left-right with probability 1/2."""
    mirror = tf.random.stateless_uniform(tf.stack([tf.shape(images)[0], 1, 1, 1]), seed) < 0.5
    return tf.where(mirror, tf.reverse(images, axis=[2]), images)


def cutout_centres(batch, size, seed):
    """Draws per-image square centres (N, 2) = (cy, cx), each in [0, size)."""
    return tf.random.stateless_uniform([batch, 2], tf.cast(seed, tf.int64), 0, size, dtype=tf.int32)


def cut(images, centres, side):
    """Zeroes a `side` x `side` square per image: rows cy - side//2 .. cy - side//2 + side - 1
    (likewise columns), clipped to the image."""
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    top = centres[:, :1] - side // 2
    left = centres[:, 1:] - side // 2
    rows = tf.range(height)[None, :] - top
    cols = tf.range(width)[None, :] - left
    inside_rows = (rows >= 0) & (rows < side)
    inside_cols = (cols >= 0) & (cols < side)
    inside = inside_rows[:, :, None] & inside_cols[:, None, :]
    mask = tf.cast(tf.logical_not(inside), images.dtype)[..., None]
    return images * mask


def cutout(images, seed, ratio=CUTOUT_RATIO):
    """Random cutout of a square of `ratio` times the side (half the side in DiffAugment)."""
    size = images.shape[1]
    centres = cutout_centres(tf.shape(images)[0], size, seed)
    return cut(images, centres, int(size * ratio + 0.5))


_POLICIES = {"flip": flip, "color": color, "translation": translation, "cutout": cutout}


def diff_augment(images, policy, seed):
    """Applies the DiffAugment policies named in `policy`, in DiffAugment's order.

    Args:
        images: float (N, H, W, C) in [-1, 1], H and W known.
        policy: Comma-separated subset of `dcgan_tf.config.AUGMENTATIONS` (`""` for none),
            or a tuple of names.
        seed: int (2,) stateless seed.

    Returns:
        The augmented images (the input itself for an empty policy).

    Raises:
        ValueError: on an unknown policy name.
    """
    names = parse_policies(policy) if isinstance(policy, str) else tuple(policy)
    # The authors' order: colour, then translation, then cutout (a flip first commutes with all).
    ordered = [n for n in _POLICIES if n in names]
    if not ordered:
        return images
    seeds = _seeds(seed, len(ordered))
    for i, name in enumerate(ordered):
        images = _POLICIES[name](images, seeds[i])
    return images


def rotate_batch(images):
    """Rotates image i by (i mod 4) * 90 degrees counter-clockwise (as `np.rot90`).

    Every rotation appears in each batch, and shuffled data makes the assignment random; one
    rotated copy per image costs one extra D pass where Chen et al. rotate every image 4 ways.

    Args:
        images: (N, H, W, C) with H == W.

    Returns:
        `(rotated, labels)`: the rotated batch and int32 labels (N,) in 0..3.
    """
    labels = tf.range(tf.shape(images)[0], dtype=tf.int32) % 4
    # rot90 on (H, W): k=1 is transpose then flip rows upside down, as np.rot90 does.
    r1 = tf.reverse(tf.transpose(images, [0, 2, 1, 3]), [1])
    r2 = tf.reverse(images, [1, 2])
    r3 = tf.reverse(tf.transpose(images, [0, 2, 1, 3]), [2])
    stacked = tf.stack([images, r1, r2, r3], axis=1)
    rotated = tf.gather(stacked, labels, axis=1, batch_dims=1)
    return rotated, labels


def crop_boxes(batch, seed, area=CROP_AREA, aspect=CROP_ASPECT):
    """Draws SimCLR's random resized crop boxes (N, 4) = (y0, x0, y1, x1), normalised to [0, 1].

    Each box covers a fraction of the image area drawn from `area`, with an aspect ratio
    (width / height) drawn log-uniformly from `aspect`, clipped to the image, at a uniformly
    random position.
    """
    s = _seeds(seed, 4)
    shape = tf.stack([batch])
    fraction = tf.random.stateless_uniform(shape, s[0], *area)
    log_aspect = (math.log(aspect[0]), math.log(aspect[1]))
    ratio = tf.exp(tf.random.stateless_uniform(shape, s[1], *log_aspect))
    height = tf.minimum(tf.sqrt(fraction / ratio), 1.0)
    width = tf.minimum(tf.sqrt(fraction * ratio), 1.0)
    top = tf.random.stateless_uniform(shape, s[2]) * (1.0 - height)
    left = tf.random.stateless_uniform(shape, s[3]) * (1.0 - width)
    return tf.stack([top, left, top + height, left + width], axis=1)


def contrastive_view(images, seed):
    """One SimCLR view of each image: a random resized crop, a random mirror, then `color`.

    Args:
        images: float (N, H, W, C) in [-1, 1], H and W known.
        seed: int (2,) stateless seed; two seeds give two views of the same images.

    Returns:
        float32 (N, H, W, C) views.
    """
    s = _seeds(seed, 3)
    images = tf.cast(images, tf.float32)
    n = tf.shape(images)[0]
    boxes = crop_boxes(n, s[0])
    x = tf.image.crop_and_resize(images, boxes, tf.range(n), images.shape[1:3])
    mirror = tf.random.stateless_uniform(tf.stack([n, 1, 1, 1]), s[1]) < 0.5
    x = tf.where(mirror, tf.reverse(x, [2]), x)
    return color(x, s[2])
