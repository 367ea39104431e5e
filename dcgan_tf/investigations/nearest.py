"""Memorisation check: generated samples against their nearest training images.

A generator that memorised its data puts samples much closer to training images than new
real images are. So the nearest-neighbour (NN) distance of generated samples to the training
set is compared with that of held-out real images (the test split), in pixel space and in the
space of the discriminator's pooled features (the export's `features` signature).
"""

import time

import numpy as np
from sklearn.neighbors import NearestNeighbors

from dcgan_tf.atomic import check_dir_writable
from dcgan_tf.charts import line_chart
from dcgan_tf.contract import GENERATE
from dcgan_tf.data.crop import prepare_images
from dcgan_tf.data.datasets import load_split
from dcgan_tf.investigations.common import (
    InvestigateError, cell_x, generate, header, open_savedmodel, rows_grid, side_by_side,
    write_report,
)
from dcgan_tf.investigations.configs import NearestConfig

# Generated samples count as near copies below this quantile of held-out NN distances.
COPY_QUANTILE = 0.01


def features_of(client, pixels, batch_size=256):
    """D's pooled features (the export's `features` signature) of uint8 pixels, in batches."""
    return np.concatenate([
        client.features(pixels[i:i + batch_size]) for i in range(0, len(pixels), batch_size)
    ]).astype(np.float32)


def load_images(dataset, split, data_dir, size, channels):
    """A split's images at the model's size and channels, uint8 (N, size, size, channels)."""
    return prepare_images(load_split(dataset, split, data_dir).images, size, channels)


def _subset(images, limit, rng):
    if limit and len(images) > limit:
        return images[np.sort(rng.choice(len(images), limit, replace=False))]
    return images


def _stats(distances):
    d = np.asarray(distances, np.float64)
    return {"median": float(np.median(d)), "mean": float(d.mean()), "min": float(d.min()),
            "p05": float(np.quantile(d, 0.05)), "p95": float(np.quantile(d, 0.95))}


def _histogram(name, generated, heldout, bins=30):
    edges = np.linspace(0.0, max(generated.max(), heldout.max()) * 1.02, bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    series = [(label, centres, np.histogram(d, edges)[0] / len(d))
              for label, d in (("generated -> train", generated), ("held-out -> train", heldout))]
    return line_chart(series, f"NN distance to the training set, {name}", "distance", "fraction",
                      size=(480, 260))


def nearest(model, out_dir, config=NearestConfig(), dataset=None, data_dir=None):
    """Finds the nearest training images of generated samples, in pixels and in D's features.

    Args:
        model: An exported SavedModel with `sample`, `serving_default` and `features`.
        out_dir: Where `nearest.png`, `nearest_distances.png` and `nearest.json` go.
        config: A `NearestConfig`: how many samples, the training subset, the held-out
            images, and what `nearest.png` shows.
        dataset: Training data; defaults to the export's metadata `dataset`.
        data_dir: Where its files are (as for `dcgan-tf train`).

    Returns:
        The report dict of `nearest.json`: per space (`pixels`, `features`) the NN distance
        statistics of generated and held-out images, `median_ratio` (generated / held-out;
        well below 1 would mean copying) and `near_copy_fraction` (generated samples closer
        than the 1% quantile of held-out distances).

    Raises:
        InvestigateError: not a usable SavedModel, or no dataset to compare with.
        dcgan_tf.data.formats.DataError: the dataset's files are missing.
    """
    check_dir_writable(out_dir)  # Before the work: figures that cannot be written are lost.
    start = time.perf_counter()
    client, meta = open_savedmodel(model, ("sample", GENERATE, "features"))
    dataset = dataset or meta.get("dataset")
    if not dataset:
        raise InvestigateError("The export records no dataset: pass --dataset (and --data-dir).")
    size, channels = meta["image_size"], meta["channels"]
    n, seed, k, show = config.n, config.seed, config.k, config.show
    rng = np.random.default_rng(seed)
    train = load_images(dataset, "train", data_dir, size, channels)
    heldout = load_images(dataset, "test", data_dir, size, channels)
    train = _subset(train, config.max_train, rng)
    heldout = _subset(heldout, config.n_heldout or n, rng)
    generated = generate(client, client.sample(np.arange(seed, seed + n, dtype=np.int64))["z"])
    k = min(k, len(train))

    spaces = {
        "pixels": lambda x: np.asarray(x, np.float32).reshape(len(x), -1) / 255.0,
        "features": lambda x: features_of(client, x),
    }
    report = {
        "model": client.path, "dataset": dataset, "seed": seed, "generated": n,
        "train_images": len(train), "heldout_images": len(heldout), "heldout_split": "test",
        "distance": "Euclidean; pixels scaled to [0, 1]; features = the export's `features` "
                    "signature (D's conv layers max-pooled to 4x4), unscaled",
        "spaces": {},
    }
    neighbours, charts = {}, []
    for space, embed in spaces.items():
        index = NearestNeighbors(n_neighbors=k).fit(embed(train))
        gen_d, gen_i = index.kneighbors(embed(generated))
        held_d, _ = index.kneighbors(embed(heldout), n_neighbors=1)
        gen_d, held_d = gen_d[:, 0], held_d[:, 0]
        neighbours[space] = gen_i
        threshold = float(np.quantile(held_d, COPY_QUANTILE))
        report["spaces"][space] = {
            "generated_to_train": _stats(gen_d), "heldout_to_train": _stats(held_d),
            "median_ratio": float(np.median(gen_d) / max(np.median(held_d), 1e-12)),
            "near_copy_threshold": threshold,
            "near_copy_fraction": float(np.mean(gen_d < threshold)),
            "nearest_train_index_first": gen_i[:show, 0],
        }
        charts.append(_histogram(space, gen_d, held_d))

    rows = [np.concatenate([generated[i:i + 1], train[neighbours["pixels"][i]],
                            train[neighbours["features"][i]]]) for i in range(min(show, n))]
    report["layout"] = (f"one row per generated sample: the sample, its {k} nearest training images "
                        f"in pixel space, then its {k} nearest in feature space")
    report["seconds"] = time.perf_counter() - start
    grid = header(rows_grid(rows, gap_after=(0, k)), [
        (cell_x(0, size), "sample"), (cell_x(2, size), "nearest in pixels"),
        (cell_x(k + 3, size), "nearest in D features")])
    figures = {
        "nearest.png": (grid, config.scale),
        "nearest_distances.png": (side_by_side(*charts, fill=255), 1),
    }
    return write_report(out_dir, "nearest", report, figures)
