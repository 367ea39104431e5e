"""A cheap KID during training (`--score-every`), in the classifier space of the training data.

A few thousand generated images against as many real training images: enough to rank a run's
checkpoints (`export --checkpoint best` picks the lowest), not to compare with `dcgan-tf score`,
which uses N = 10,000 of a held-out split.
"""

import numpy as np

from dcgan_tf.data.datasets import load_split
from dcgan_tf.metrics import stats
from dcgan_tf.metrics.features import ClassifierConfig, ScoringError
from dcgan_tf.metrics.features import classifier_space
from dcgan_tf.paths import default_cache_dir

TRAINING_SCORE_N = 2000
TRAINING_KID_SUBSETS = 20
# The same classifier `dcgan-tf score` trains by default, so both share one cache entry.
TRAINING_CLASSIFIER = ClassifierConfig()


class TrainingScorer:
    """KID of a live generator against a fixed draw of real training images.

    The classifier is trained (or read from the cache) and the real features computed once,
    at construction, before the training clock starts.

    Args:
        dataset: The run's dataset (must be labelled).
        data_dir: Its files.
        n: Generated and real images per score. Defaults to 2000.
        seed: Seeds the real draw, the z batch and the KID subsets. Defaults to 0.
        cache_dir: Classifier cache root; `None` for the default cache dir.

    Raises:
        ScoringError: The dataset has no labels.
    """

    def __init__(self, dataset, data_dir=None, n=TRAINING_SCORE_N, seed=0, cache_dir=None):
        train = load_split(dataset, "train", data_dir)
        if train.labels is None or not train.num_classes:
            raise ScoringError(
                f"--score-every needs a labelled dataset (its classifier feature space); {dataset} "
                f"({data_dir}) has no labels. Use --score-every 0, or give the data labels.")
        self.space = classifier_space(train, TRAINING_CLASSIFIER, cache_dir or default_cache_dir())
        rng = np.random.default_rng(seed)
        n = min(n, len(train))
        self.real = self.space.embed(train.images[rng.choice(len(train), n, replace=False)])
        self.n, self.seed = n, seed

    def score(self, images):
        """`{"kid": mean, "kid_std": std}` of uint8 generated images against the real draw."""
        mean, std = stats.kid(self.real, self.space.embed(images), TRAINING_KID_SUBSETS,
                              min(stats.KID_SUBSET_SIZE, self.n), self.seed)
        return {"kid": mean, "kid_std": std}
