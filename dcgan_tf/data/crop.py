"""Centre square crop and resize: how every image of any shape reaches a model's square input.

The same cut everywhere (training data, folder and TFRecord images, dedup's 32x32 crops, the
export's `discriminate`/`features` graphs), so an image is seen the same way wherever it enters.
"""

import numpy as np


def centre_square_box(height, width):
    """`(top, left, side)` of the largest centred square of a `height` x `width` image.

    Works on ints and on scalar tensors alike.
    """
    side = min(height, width) if isinstance(height, int) else _tf_minimum(height, width)
    return (height - side) // 2, (width - side) // 2, side


def _tf_minimum(a, b):
    import tensorflow as tf

    return tf.minimum(a, b)


def crop_tensor(images):
    """Centre-crops uint8 or float images (..., H, W, C) to a square, in TF (graph-safe).

    Returns:
        `(cropped, side)`, `side` a scalar tensor.
    """
    import tensorflow as tf

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
    from PIL import Image

    filters = {"bilinear": Image.Resampling.BILINEAR, "box": Image.Resampling.BOX}
    width, height = image.size
    top, left, side = centre_square_box(height, width)
    image = image.crop((left, top, left + side, top + side))
    if side != size or resample == "box":
        image = image.resize((size, size), filters[resample])
    return np.asarray(image, dtype=np.uint8)
