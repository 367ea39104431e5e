"""Centre square crop and resize: how every image of any shape reaches a model's square input.

The same cut everywhere (training data, folder and TFRecord images, dedup's 32x32 crops, the
export's `discriminate`/`features` graphs), so an image is seen the same way wherever it enters.
"""

import numpy as np
from PIL import Image
import tensorflow as tf


def centre_square_box(height, width):
    """`(top, left, side)` of the largest centred square of a `height` x `width` image.

    Works on ints and on scalar tensors alike.
    """
    side = min(height, width) if isinstance(height, int) else _tf_minimum(height, width)
    return (height - side) // 2, (width - side) // 2, side


def _tf_minimum(a, b):
    return tf.minimum(a, b)


def crop_tensor(images):
    """Centre-crops uint8 or float images (..., H, W, C) to a square, in TF (graph-safe).

    Returns:
        `(cropped, side)`, `side` a scalar tensor.
    """
    shape = tf.shape(images)
    top, left, side = centre_square_box(shape[-3], shape[-2])
    return images[..., top:top + side, left:left + side, :], side


def crop_resize_pil(image, size, resample="bilinear"):
    """Centre-crops a Pillow image to a square and resizes it to `size` x `size`.

    Args:
        image: A `PIL.Image.Image`, already in the mode wanted (e.g. `"RGB"`).
        size: Side of the output.
        resample: `"bilinear"` (Pillow widens its support when shrinking, so it antialiases)
            or `"box"` (an area average). The image is left unresampled when it already has
            the size, unless `"box"` is asked. Defaults to `"bilinear"`.

    Returns:
        uint8 array (size, size, channels) or (size, size) for one-band modes.
    """
    filters = {"bilinear": Image.Resampling.BILINEAR, "box": Image.Resampling.BOX}
    width, height = image.size
    top, left, side = centre_square_box(height, width)
    image = image.crop((left, top, left + side, top + side))
    if side != size or resample == "box":
        image = image.resize((size, size), filters[resample])
    return np.asarray(image, dtype=np.uint8)


def prepare_tensor(images, image_size, channels, antialias=True):
    """Centre-crops, converts channels and resizes uint8 (..., H, W, C) images, in TF."""
    x = tf.cast(crop_tensor(images)[0], tf.float32)
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
        prepare_tensor(tf.constant(images[i:i + chunk]), image_size, channels, antialias).numpy()
        for i in range(0, len(images), chunk)
    ]
    empty = np.zeros((0, image_size, image_size, channels), np.uint8)
    return np.concatenate(parts) if parts else empty
