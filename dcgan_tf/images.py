"""Converting generated images to pixels and writing PNG grids."""

import math

import numpy as np
from PIL import Image

from dcgan_tf.atomic import atomic_path


def to_uint8(images):
    """Maps float images in [-1, 1] to uint8 pixels (the inverse of the training scaling)."""
    images = np.asarray(images, dtype=np.float32)
    return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def make_grid(pixels, ncols=None, pad=2):
    """Tiles uint8 images (N, H, W, C) into one (rows*H, cols*W, C) image with `pad` gaps."""
    pixels = np.asarray(pixels)
    if pixels.ndim != 4:
        raise ValueError(f"Expected images of rank 4 (N, H, W, C). Received shape {pixels.shape}")
    n, h, w, c = pixels.shape
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    grid = np.zeros((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), dtype=np.uint8)
    for i in range(n):
        r, k = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + k * (w + pad)
        grid[y : y + h, x : x + w] = pixels[i]
    return grid


def save_png(path, image, scale=1):
    """Writes a uint8 image (H, W, C) as PNG atomically, optionally upscaled (nearest)."""
    image = np.asarray(image)
    if image.shape[-1] == 1:
        image = image[..., 0]
    pil = Image.fromarray(image)
    if scale > 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)
    with atomic_path(path, suffix=".png") as tmp:
        pil.save(tmp)
    return path


def mean_pairwise_distance(images):
    """Mean Euclidean distance between all pairs of images (a diversity figure)."""
    flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    sq = np.sum(flat**2, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * flat @ flat.T, 0.0)
    n = len(flat)
    return float(np.sqrt(d2)[np.triu_indices(n, k=1)].mean())
