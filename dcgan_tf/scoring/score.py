"""Scoring a SavedModel: N images from its `sample` signature against N real images of a split.

The generated images come from the served graph (seeds `seed .. seed + N - 1`), so what is
scored is exactly what is served; the real ones are a seeded draw of N from the split. Both go
through one feature space, then FID, KID and precision/recall compare the two feature sets.
"""

import dataclasses
import time

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from dcgan_tf.data.datasets import load_split
from dcgan_tf.metrics import stats
from dcgan_tf.metrics.features import (
    FEATURE_SPACES, ClassifierConfig, ScoringError, classifier_space, inception_space,
)
from dcgan_tf.options import check_seed_span
from dcgan_tf.paths import cache_root
from dcgan_tf.serving.export_reader import ExportReader

SAMPLE_SIGNATURE = "sample"


@dataclasses.dataclass(frozen=True)
class ScoreConfig:
    """What to compare and how.

    Args:
        split: The real split. Defaults to `"test"`.
        n: Generated and real images. Defaults to 10,000.
        feature_space: `"classifier"` (trained on the dataset's labelled training split) or
            `"inception"`. Defaults to `"classifier"`.
        inception_weights: Inception-v3 weights file; `None` for Keras' `"imagenet"`.
        seed: First generator seed, and seed of the real draw and KID subsets. Defaults to 0.
        kid_subsets: Defaults to 100.
        kid_subset_size: Defaults to 1000; at most `n // 2` is used (see `kid_subset_size`).
        k: Precision/recall neighbour. Defaults to 3.
        batch_size: Images per call of the generator and of the feature network. Defaults to 250.
        cache_dir: Root of the classifier cache; `None` for the probe's default cache dir.
        cache: Keep trained classifiers on disk. Defaults to `True`.
        classifier: A `ClassifierConfig`.
    """

    split: str = "test"
    n: int = 10_000
    feature_space: str = "classifier"
    inception_weights: str | None = None
    seed: int = 0
    kid_subsets: int = stats.KID_SUBSETS
    kid_subset_size: int = stats.KID_SUBSET_SIZE
    k: int = stats.PR_NEIGHBOURS
    batch_size: int = 250
    cache_dir: str | None = None
    cache: bool = True
    classifier: ClassifierConfig = ClassifierConfig()

    def __post_init__(self):
        if self.feature_space not in FEATURE_SPACES:
            raise ValueError(f"Expected `feature_space` in {FEATURE_SPACES}. "
                             f"Received: feature_space={self.feature_space!r}")
        for name in ("n", "kid_subsets", "kid_subset_size", "k", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"Expected `{name}` >= 1. Received: {name}={getattr(self, name)}")
        if self.n <= self.k:
            raise ValueError(f"Expected `n` > k = {self.k}. Received: n={self.n}")
        check_seed_span(self.seed, self.n)

    def to_dict(self):
        return dataclasses.asdict(self)


def feature_space(dataset, data_dir, cfg, progress=False):
    """The `FeatureSpace` `cfg` names for `dataset` (the classifier trains on its train split).

    Raises:
        ScoringError: An unlabelled dataset in the classifier space (naming both ways out),
            or Inception weights that cannot be loaded.
    """
    if cfg.feature_space == "inception":
        return inception_space(cfg.inception_weights)

    train = load_split(dataset, "train", data_dir)
    if train.labels is None or not train.num_classes:
        raise ScoringError(
            f"{dataset} ({data_dir}) has no labels, so no classifier feature space: score with "
            "--feature-space inception --inception-weights FILE, or give the data labels "
            "(a `y` key in an .npz, or class folders).")
    cache_dir = cache_root(cfg.cache_dir) if cfg.cache else None
    return classifier_space(train, cfg.classifier, cache_dir, progress)


def sample_function(model_path):
    """The `sample` signature of a SavedModel (seeds int64 [N] -> pixels uint8).

    Raises:
        ScoringError: Not a SavedModel, or one without a `sample` signature.
    """
    export = ExportReader(model_path, needs=(SAMPLE_SIGNATURE,), error=ScoringError)
    return export.function(SAMPLE_SIGNATURE)


def generate(sample_fn, n, seed=0, batch_size=250):
    """uint8 images from a `sample` signature (see `sample_function`), seeds `seed .. seed + n - 1`."""
    seeds = np.arange(seed, seed + n, dtype=np.int64)
    return np.concatenate([sample_fn(seed=tf.constant(seeds[i:i + batch_size]))["pixels"].numpy()
                           for i in range(0, n, batch_size)])


def real_images(dataset, data_dir, split, n, seed=0):
    """`n` images of a split: all of them in order when `n` is its size, else a seeded draw.

    Raises:
        ScoringError: `n` exceeds the split.
    """
    images = load_split(dataset, split, data_dir).images
    if n > len(images):
        raise ScoringError(f"Expected `n` <= {len(images)}, the size of {dataset}'s {split!r} "
                           f"split. Received: n={n}")
    if n == len(images):
        return images
    return images[np.sort(np.random.default_rng(seed).choice(len(images), n, replace=False))]


def kid_subset_size(cfg, n=None):
    """The KID subset size used for `n` images (default `cfg.n`): at most half of them.

    Subsets of all N rows are one set in another order, so their KID std would be 0 whatever
    the sampling error; subsets of at most N/2 make the std a measure of it.
    """
    n = cfg.n if n is None else n
    return max(2, min(cfg.kid_subset_size, n // 2))


def compare(real_features, fake_features, cfg):
    """FID, KID (mean, std) and precision/recall between two feature sets, as a dict."""
    size = kid_subset_size(cfg, min(len(real_features), len(fake_features)))
    kid_mean, kid_std = stats.kid(real_features, fake_features, cfg.kid_subsets, size, cfg.seed)
    precision, recall = stats.precision_recall(real_features, fake_features, cfg.k)
    return {"fid": stats.fid(real_features, fake_features), "kid": kid_mean, "kid_std": kid_std,
            "kid_subset_size": size, "precision": precision, "recall": recall}


# Fewest images per set `score_savedmodel` accepts, and the fewest it reports without a caveat
# (below it FID is biased upwards and KID's subsets overlap heavily).
MIN_N = 10
CAVEAT_N = 1000


def score_savedmodel(model, dataset, data_dir=None, cfg=ScoreConfig(), progress=False):
    """Scores a SavedModel's samples against a dataset split.

    Args:
        model: A SavedModel directory, or a model directory (its newest version).
        dataset: One of `dcgan_tf.data.registry.IN_MEMORY_DATASETS`.
        data_dir: The dataset's files (see `dcgan_tf.data.datasets.load_split`).
        cfg: A `ScoreConfig`.
        progress: Show progress on stderr: the stage of five, and a bar with an ETA over
            the classifier's training steps.

    Returns:
        The report: `fid`, `kid`, `kid_std`, `precision`, `recall`, `feature_space` (name,
        weights' SHA-256, input size, ...), `n`, `seeds` (generator seeds and real-draw seed),
        `model`, `dataset`, `split`, `config`, `timings`, `metadata` (the export's).

    Raises:
        ScoringError: No `sample` signature, `n` larger than the split, or no usable feature
            space; `dcgan_tf.data.formats.DataError` for data files.
    """
    if cfg.n < MIN_N:
        raise ScoringError(
            f"Expected `n` >= {MIN_N}: KID needs subsets that differ and FID a covariance of "
            f"more than a handful of images (N = 4 gives a negative KID with std 0). "
            f"Received: n={cfg.n}")
    start = time.perf_counter()
    export = ExportReader(model, needs=(SAMPLE_SIGNATURE,), error=ScoringError)
    model_path = export.path
    stages = tqdm(total=5, desc="score", unit="stage", disable=not progress,
                  bar_format="{desc} ({elapsed})")

    def stage(name):
        stages.set_description_str(f"score, stage {stages.n + 1}/{stages.total}: {name}")

    # Every cheap check before the classifier trains.
    stage("loading the export and real images")
    sample_fn = export.function(SAMPLE_SIGNATURE)
    real = real_images(dataset, data_dir, cfg.split, cfg.n, cfg.seed)
    stages.update()
    stage(f"{cfg.feature_space} feature space")
    space = feature_space(dataset, data_dir, cfg, progress)
    stages.update()
    ready = time.perf_counter()
    stage(f"generating {cfg.n} images")
    fake = generate(sample_fn, cfg.n, cfg.seed, cfg.batch_size)
    stages.update()
    generated = time.perf_counter()
    stage(f"features of {2 * cfg.n} images")
    real_features = space.embed(real, cfg.batch_size)
    fake_features = space.embed(fake, cfg.batch_size)
    stages.update()
    embedded = time.perf_counter()
    stage("FID, KID, precision/recall")
    figures = compare(real_features, fake_features, cfg)
    stages.update()
    stages.close()
    done = time.perf_counter()
    return {
        **figures,
        "feature_space": space.describe(),
        "feature_dim": int(real_features.shape[1]),
        "n": cfg.n,
        "seeds": {"generator": [cfg.seed, cfg.seed + cfg.n - 1], "real_draw": cfg.seed,
                  "kid_subsets": cfg.seed},
        "model": model_path, "dataset": dataset, "data_dir": data_dir, "split": cfg.split,
        "config": cfg.to_dict(),
        "timings": {"feature_space_s": round(ready - start, 3),
                    "generate_s": round(generated - ready, 3),
                    "features_s": round(embedded - generated, 3),
                    "statistics_s": round(done - embedded, 3), "total_s": round(done - start, 3)},
        "metadata": export.metadata(),
        "caveat": (f"N = {cfg.n} is small: FID is biased upwards and KID varies widely between "
                   f"draws; compare scores at N >= {CAVEAT_N}." if cfg.n < CAVEAT_N else None),
    }


def format_report(report):
    """Two lines for the terminal: the figures, then what they were measured in."""
    space = report["feature_space"]
    subsets = (f" ({report['config']['kid_subsets']} subsets of {report['kid_subset_size']})"
               if "kid_subset_size" in report else "")
    return (f"FID {report['fid']:.3f}  KID {report['kid']:.5f} +- {report['kid_std']:.5f}"
            f"{subsets}  precision {report['precision']:.3f}  recall {report['recall']:.3f}\n"
            f"{space['name']} space ({report['feature_dim']}-d, weights "
            f"{space['weights_sha256'][:12]}), N = {report['n']} of {report['dataset']} "
            f"{report['split']!r}, in {report['timings']['total_s']:.1f}s"
            + (f"\nCaveat: {report['caveat']}" if report.get("caveat") else ""))
