"""A seed -> z generator small enough to write identically in Python and JavaScript.

The SavedModel's `sample` signature draws z with TensorFlow's stateless Philox, which no
browser or phone runtime has. Portable exports use this one instead: mulberry32 (a 32-bit
counter hashed by multiply-xorshift, integer-only, so JavaScript's `Math.imul` gives the same
bits) seeded with the seed itself, one draw per z component. Uniform z takes the top 24 bits,
`u = (x >> 8) / 2**24`, and returns `2u - 1`, exact in float32, in [-1, 1). Normal z pairs two
draws by Box-Muller in float64, rounded to float32 once. `web_assets/portable_z.js` is the same
function; `tests/test_portable.py` checks both give the same bits. Seed s here is not the
`sample` signature's seed s: the two generators differ.
"""

import math

import numpy as np

_MASK = 0xFFFFFFFF
SEED_MAX = 2**32 - 1


def _imul(a, b):
    return (a * b) & _MASK


def mulberry32(state):
    """Advances the 32-bit state; returns `(new_state, output)`, both ints in [0, 2**32)."""
    state = (state + 0x6D2B79F5) & _MASK
    t = _imul(state ^ (state >> 15), 1 | state)
    t = ((t + _imul(t ^ (t >> 7), 61 | t)) & _MASK) ^ t
    return state, (t ^ (t >> 14)) & _MASK


def _uniforms(seed, n):
    state, out = seed, []
    for _ in range(n):
        state, x = mulberry32(state)
        out.append((x >> 8) / 2**24)
    return out


def z_from_seed(seed, z_dim, z_dist):
    """One z (z_dim,) float32 for `seed`, as `portable_z.js`'s `zFromSeed` computes it.

    Args:
        seed: An int in [0, 2**32).
        z_dim: Width of z.
        z_dist: `"uniform"` in [-1, 1) or `"normal"`.

    Returns:
        A float32 NumPy array of shape (z_dim,).

    Raises:
        ValueError: on a seed outside [0, 2**32) or an unknown `z_dist`.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= SEED_MAX:
        raise ValueError(f"Expected `seed` to be an integer in [0, 2**32). Received: seed={seed!r}")
    seed = int(seed)
    if z_dist == "uniform":
        return np.array([2.0 * u - 1.0 for u in _uniforms(seed, z_dim)], np.float32)
    if z_dist != "normal":
        raise ValueError(f"Expected `z_dist` to be 'uniform' or 'normal'. Received: z_dist={z_dist!r}")
    u = _uniforms(seed, 2 * ((z_dim + 1) // 2))
    z = []
    for i in range(0, len(u), 2):
        # 1 - u is in (0, 1]: log never sees 0.
        r = math.sqrt(-2.0 * math.log(1.0 - u[i]))
        z += [r * math.cos(2.0 * math.pi * u[i + 1]), r * math.sin(2.0 * math.pi * u[i + 1])]
    return np.array(z[:z_dim], np.float32)


def z_from_seeds(seeds, z_dim, z_dist):
    """z (len(seeds), z_dim) float32, one row per seed (see `z_from_seed`)."""
    return np.stack([z_from_seed(s, z_dim, z_dist) for s in seeds]).reshape(-1, z_dim)
