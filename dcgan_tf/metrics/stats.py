"""Distances between two sets of features: FID, KID and precision/recall.

Pure NumPy/SciPy on (N, F) arrays, independent of where the features came from. Numbers from
different feature spaces, or from different N (FID is biased in N), are not comparable.
"""

import warnings

import numpy as np
import scipy.linalg

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
PR_NEIGHBOURS = 3  # Kynkaanniemi et al. 2019's k
_CHUNK = 1024  # rows of a distance matrix held at once


def _check(name, x, dim=None):
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or len(x) < 2 or (dim is not None and x.shape[1] != dim):
        wanted = f"(N >= 2, {dim})" if dim is not None else "(N >= 2, F)"
        raise ValueError(f"Expected `{name}` to be features of shape {wanted}. "
                         f"Received: {name} of shape {x.shape}")
    return x


def fid_from_moments(mu1, sigma1, mu2, sigma2):
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2) (Heusel et al. 2017).

    ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2)), the square root by
    `scipy.linalg.sqrtm`; a singular product is regularised as in the reference code.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    with warnings.catch_warnings():
        # Dead ReLU units make covariances singular; a non-finite root is handled below.
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(sigma1)) * 1e-6
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = np.real(covmean)  # rounding leaves tiny imaginary parts
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid(real, fake):
    """FID between two feature sets, from their means and (ddof=1) covariances.

    Args:
        real: (N, F) features of real images.
        fake: (M, F) features of generated images.

    Returns:
        The Frechet distance, a float >= 0 (up to rounding).

    Raises:
        ValueError: Arrays that are not (N >= 2, F) of one width.
    """
    real = _check("real", real)
    fake = _check("fake", fake, real.shape[1])
    return fid_from_moments(real.mean(0), np.cov(real, rowvar=False),
                            fake.mean(0), np.cov(fake, rowvar=False))


def _polynomial_kernel(x, y):
    k = x @ y.T
    k /= x.shape[1]
    k += 1.0
    return k * k * k  # `** 3` takes NumPy's general power: several times slower


def mmd2_unbiased(x, y):
    """Unbiased MMD^2 between two samples with the cubic kernel (x.y / d + 1)^3."""
    m, n = len(x), len(y)
    kxx, kyy, kxy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
                 + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean())


def kid(real, fake, subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE, seed=0):
    """KID (Binkowski et al. 2018): unbiased MMD^2, cubic polynomial kernel, over subsets.

    Args:
        real: (N, F) features of real images.
        fake: (M, F) features of generated images.
        subsets: Random subsets to average over. Defaults to 100.
        subset_size: Examples per subset from each set (capped at min(N, M)). Defaults to 1000.
        seed: Seeds the subsets' draws (without replacement within a subset).

    Returns:
        `(mean, std)` over the subsets (std with ddof=1; 0 for one subset).

    Raises:
        ValueError: Arrays of the wrong shape, or `subsets` < 1.
    """
    real = _check("real", real)
    fake = _check("fake", fake, real.shape[1])
    if subsets < 1:
        raise ValueError(f"Expected `subsets` >= 1. Received: subsets={subsets}")
    size = min(subset_size, len(real), len(fake))
    rng = np.random.default_rng(seed)
    values = [mmd2_unbiased(real[rng.choice(len(real), size, replace=False)],
                            fake[rng.choice(len(fake), size, replace=False)])
              for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values, ddof=1)) if subsets > 1 else 0.0


def _squared_distances(a, b, b_norms):
    """(len(a), len(b)) squared distances; `b_norms` is `(b * b).sum(1)`. Built in place: the
    chunks are large and these passes over them are most of precision/recall's time."""
    d = a @ b.T
    d *= -2.0
    d += (a * a).sum(1)[:, None]
    d += b_norms[None, :]
    return np.maximum(d, 0.0, out=d)


def _kth_neighbour_radii(x, k):
    """Squared distance from each row to its k-th nearest other row."""
    radii = np.empty(len(x))
    norms = (x * x).sum(1)
    for i in range(0, len(x), _CHUNK):
        d = _squared_distances(x[i:i + _CHUNK], x, norms)
        radii[i:i + _CHUNK] = np.partition(d, k, axis=1)[:, k]  # index 0 is the row itself
    return radii


def _coverage(manifold, radii, queries):
    """Fraction of `queries` inside at least one ball (centre a manifold row, its radius)."""
    inside = 0
    norms = (manifold * manifold).sum(1)
    for i in range(0, len(queries), _CHUNK):
        d = _squared_distances(queries[i:i + _CHUNK], manifold, norms)
        inside += int((d <= radii[None, :]).any(axis=1).sum())
    return inside / len(queries)


def precision_recall(real, fake, k=PR_NEIGHBOURS):
    """Improved precision and recall (Kynkaanniemi et al. 2019).

    Each set's manifold is the union of balls around its points reaching their k-th nearest
    neighbour. Precision: the fraction of fakes inside the real manifold (are samples
    realistic?); recall: the fraction of reals inside the fake manifold (is the data covered?).

    Args:
        real: (N, F) features of real images.
        fake: (M, F) features of generated images.
        k: Neighbour defining each ball's radius. Defaults to 3.

    Returns:
        `(precision, recall)`, each in [0, 1].

    Raises:
        ValueError: Arrays of the wrong shape, or `k` not in [1, min(N, M) - 1].
    """
    real = _check("real", real)
    fake = _check("fake", fake, real.shape[1])
    if not 1 <= k < min(len(real), len(fake)):
        raise ValueError(f"Expected `k` in [1, {min(len(real), len(fake)) - 1}]. Received: k={k}")
    precision = _coverage(real, _kth_neighbour_radii(real, k), fake)
    recall = _coverage(fake, _kth_neighbour_radii(fake, k), real)
    return precision, recall
