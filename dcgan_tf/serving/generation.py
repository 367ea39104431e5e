"""Images from an export in one call: `dcgan_tf.generate("savedmodels/digits", n=16)`."""

import numpy as np

from dcgan_tf.serving.clients import open_client


def generate(model=None, n=64, seed=0, server=None, name=None, timeout=30.0):
    """Generates `n` images with an export's `sample` signature (one image per seed).

    Image `i` comes from seed `seed + i`, as in `dcgan-tf sample`, so the same call gives the
    same images from the SavedModel and from TF Serving.

    Args:
        model: A SavedModel version directory, or its model directory (newest version).
        n: Number of images. Defaults to 64.
        seed: First seed. Defaults to 0.
        server: TF Serving instead of `model` (`http://host:8501` or `grpc://host:8500`).
        name: The model's name on `server`.
        timeout: Seconds a whole call to `server` may take. Defaults to 30.

    Returns:
        uint8 array `[n, H, W, C]`.

    Raises:
        ValueError: `n` < 1 or a negative `seed`.
        dcgan_tf.serving.clients.ServingError: no such export or model.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"Expected `n` to be an integer >= 1. Received: n={n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"Expected `seed` to be an integer >= 0. Received: seed={seed!r}")
    client = open_client(model=model, server=server, name=name, timeout=timeout)
    return np.asarray(client.sample(np.arange(seed, seed + n, dtype=np.int64))["pixels"])
