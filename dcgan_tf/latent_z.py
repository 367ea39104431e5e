"""Drawing z: from a seed, as the export's `sample` signature does, or from a NumPy generator.

`z_from_seed` is the one definition of "seed s gives this z" (stateless Philox on the pair
`(s, SAMPLE_SALT)`), shared by the exported graph and by code that holds a run's networks, so
grid index i means the same image everywhere. `draw_z` is the paper's z distribution for
NumPy callers (the training monitor, nn-classify).
"""

import numpy as np
import tensorflow as tf

from dcgan_tf.contract import SAMPLE_SALT


def z_from_seed(seed, z_dim, z_dist):
    """One z (z_dim,) float32 tensor for an int64 scalar `seed`; graph-safe (`tf.map_fn`).

    Args:
        seed: int64 scalar (tensor or int).
        z_dim: Width of z.
        z_dist: `"uniform"` in [-1, 1] (the paper) or `"normal"`.
    """
    pair = tf.stack([tf.cast(seed, tf.int64), tf.constant(SAMPLE_SALT, tf.int64)])
    if z_dist == "uniform":
        return tf.random.stateless_uniform([z_dim], pair, minval=-1.0, maxval=1.0, alg="philox")
    return tf.random.stateless_normal([z_dim], pair, alg="philox")


def draw_z(rng, n, z_dim, z_dist):
    """`n` z vectors, float32 (n, z_dim), from a `numpy.random.Generator`.

    Args:
        rng: The generator to draw from.
        n: How many.
        z_dim: Width of z.
        z_dist: `"uniform"` in [-1, 1] (the paper) or `"normal"`.
    """
    shape = (n, z_dim)
    z = rng.uniform(-1, 1, shape) if z_dist == "uniform" else rng.standard_normal(shape)
    return z.astype(np.float32)
