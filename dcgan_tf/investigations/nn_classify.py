"""The supplementary experiment: a 1-nearest-neighbour classifier trained on generated samples.

A class-conditional DCGAN draws N samples per class; a 1-NN classifier fit on them is scored on
the real test split, beside the same classifier fit on N real training samples per class.
"""

import dataclasses
import os
import time

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from dcgan_tf.atomic import check_dir_writable
from dcgan_tf.training import checkpoint
from dcgan_tf.data import datasets as data
from dcgan_tf.atomic import save_json
from dcgan_tf.latent_z import draw_z
from dcgan_tf.images import make_grid, save_png, to_uint8


@dataclasses.dataclass(frozen=True)
class NNConfig:
    """Settings of `nn_classify`.

    Args:
        sizes: Samples per class to compare (the N of the supplementary table).
        seed: Seeds z, labels and the real subsets.
        checkpoint: `"last"`, `"best"` or a step.
        test_limit: Score on at most this many test images (all when `None`).
        batch_size: Generator batch size.
    """

    sizes: tuple = (10, 100, 1000)
    seed: int = 0
    checkpoint: str = "last"
    test_limit: int | None = None
    batch_size: int = 500


def generate(generator, model_cfg, labels, rng, batch_size=500):
    """Draws one generated image per label (uint8 NHWC) from a conditional generator."""
    out = []
    for start in range(0, len(labels), batch_size):
        lab = labels[start : start + batch_size].astype("int32")[:, None]
        z = draw_z(rng, len(lab), model_cfg.z_dim, model_cfg.z_dist)
        out.append(to_uint8(generator([z, lab], training=False).numpy()))
    return np.concatenate(out)


def _one_nn_error(train_x, train_y, test_x, test_y):
    clf = KNeighborsClassifier(n_neighbors=1, n_jobs=-1).fit(train_x.reshape(len(train_x), -1), train_y)
    return float(np.mean(clf.predict(test_x.reshape(len(test_x), -1)) != test_y))


def nn_classify(run_dir, out_dir, cfg=NNConfig(), dataset=None, data_dir=None):
    """Runs the generated-vs-real 1-NN comparison for a conditional run and writes its outputs.

    Args:
        run_dir: A `dcgan-tf train --conditional` run directory.
        out_dir: Receives `nn_classify.json` and `samples_by_class.png`.
        cfg: Sample sizes, seed and checkpoint choice.
        dataset: Real data to score on; defaults to the run's dataset.
        data_dir: Where that dataset's files are; defaults to the run's.

    Returns:
        The JSON dict: per N, the test error of 1-NN on generated and on real samples.
    """
    check_dir_writable(out_dir)  # Before the work: figures that cannot be written are lost.
    model_cfg, train_cfg, generator, _, meta = checkpoint.load_networks(run_dir, cfg.checkpoint)
    classes = model_cfg.num_classes
    if not classes:
        raise ValueError(
            f"{run_dir} holds an unconditional model; nn-classify needs one trained with --conditional."
        )
    dataset = dataset or train_cfg.dataset
    data_dir = data_dir or train_cfg.data_dir
    size, channels = model_cfg.image_size, model_cfg.channels
    train = data.load_split(dataset, "train", data_dir)
    test = data.load_split(dataset, "test", data_dir)
    rng = np.random.default_rng(cfg.seed)
    if cfg.test_limit and len(test.labels) > cfg.test_limit:
        keep = rng.choice(len(test.labels), cfg.test_limit, replace=False)
        test = data.Split(test.images[keep], test.labels[keep], test.num_classes)
    test_x = data.prepare_images(test.images, size, channels)
    train_x = data.prepare_images(train.images, size, channels)

    start = time.perf_counter()
    rows = []
    for n in cfg.sizes:
        labels = np.repeat(np.arange(classes), n)
        fake = generate(generator, model_cfg, labels, rng, cfg.batch_size)
        real_index = np.concatenate([
            rng.choice(np.flatnonzero(train.labels == c), min(n, int(np.sum(train.labels == c))), replace=False)
            for c in range(classes)
        ])
        rows.append({
            "per_class": n,
            "generated_error": _one_nn_error(fake, labels, test_x, test.labels),
            "real_error": _one_nn_error(train_x[real_index], train.labels[real_index], test_x, test.labels),
            "real_per_class": int(len(real_index) // classes),
        })
    os.makedirs(out_dir, exist_ok=True)
    grid_labels = np.repeat(np.arange(classes), 10)
    grid = make_grid(generate(generator, model_cfg, grid_labels, np.random.default_rng(cfg.seed)), ncols=10)
    save_png(os.path.join(out_dir, "samples_by_class.png"), grid, scale=2)
    result = {
        "run_dir": run_dir, "step": meta["step"], "dataset": dataset, "classes": classes,
        "test_images": int(len(test.labels)), "results": rows,
        "seconds": time.perf_counter() - start,
        "protocol": "1-NN (Euclidean, pixels) fit on N generated or N real training images per "
                    "class, error on the real test split (paper, supplementary material)",
    }
    save_json(os.path.join(out_dir, "nn_classify.json"), result)
    return result
