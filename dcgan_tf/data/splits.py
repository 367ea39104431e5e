"""The probe's splits of a training split: one validation set and class-balanced labelled draws.

Pure NumPy. The linear probe (`dcgan_tf.probe.protocol`) draws its labelled examples with
`split_protocol`; semi-supervised training (`labelled_subset`) takes the probe's draw 0 through
the same function and seed, so the labels it trains on are exactly the probe's first draw and
never a label of the probe's validation set.
"""

import dataclasses
import types

import numpy as np

# The validation set never takes more than this share of the training split (digits has 1,437
# training images: 10,000 cannot be had, 287 can).
MAX_VALIDATION_FRACTION = 0.2
# The probe's default validation size (the paper's 10,000).
DEFAULT_VALIDATION = 10_000


class SplitError(ValueError):
    """Sizes that a training split cannot supply (labelled draws, validation sets)."""


@dataclasses.dataclass(frozen=True)
class Draw:
    """One repeat: indices into the training split (disjoint) and whether to refit on both."""

    labelled: np.ndarray
    validation: np.ndarray
    refit_on_all: bool


def balanced_sample(labels, n, rng, exclude=None, num_classes=None):
    """Draws `n` examples at random, exactly `n / num_classes` of each class.

    Args:
        labels: int (N,) class of each example.
        n: How many to draw; a multiple of `num_classes`.
        rng: A `numpy.random.Generator`.
        exclude: Indices that must not be drawn (e.g. the validation set).
        num_classes: Number of classes. Defaults to `labels.max() + 1`.

    Returns:
        Sorted int64 indices into `labels`, none of them in `exclude`.

    Raises:
        SplitError: `n` is not a multiple of the classes, or a class has too few examples left.
    """
    labels = np.asarray(labels)
    num_classes = int(num_classes if num_classes is not None else labels.max() + 1)
    if n % num_classes:
        raise SplitError(
            f"Expected `labels` to be a multiple of the {num_classes} classes, for a "
            f"class-balanced draw. Received: labels={n}"
        )
    per_class = n // num_classes
    allowed = np.ones(len(labels), bool)
    if exclude is not None:
        allowed[np.asarray(exclude, dtype=np.int64)] = False
    chosen = []
    for c in range(num_classes):
        pool = np.flatnonzero(allowed & (labels == c))
        if len(pool) < per_class:
            raise SplitError(
                f"Class {c} has {len(pool)} training examples outside the validation set, fewer "
                f"than the {per_class} a class-balanced draw of {n} labels needs: lower --labels "
                "or --validation."
            )
        chosen.append(rng.choice(pool, per_class, replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def validation_size(requested, num_train):
    """`(size, note)`: the validation set size, capped at a share of a small training split."""
    cap = int(MAX_VALIDATION_FRACTION * num_train)
    if requested <= cap:
        return requested, None
    note = (f"validation set of {cap}, not {requested}: capped at "
            f"{MAX_VALIDATION_FRACTION:.0%} of the {num_train} training examples")
    return cap, note


def fitted_labels(train_labels, labels, validation, num_classes):
    """`(labels, note)`: `labels` lowered to what the smallest class holds outside `validation`.

    A class-balanced draw of `labels` needs `labels / num_classes` examples of every class;
    a small training split (digits: 1,437 images, 99 of one class outside a validation set of
    287) may hold fewer, and then every class gets as many as the smallest one has.

    Args:
        train_labels: int (N,) labels of the training split.
        labels: Requested labelled examples (a multiple of `num_classes`).
        validation: Indices of the validation set.
        num_classes: Number of classes.

    Returns:
        The labels to draw and a one-line note, or `(labels, None)` when they fit.

    Raises:
        SplitError: A class has no example outside the validation set.
    """
    if labels % num_classes:
        return labels, None  # `balanced_sample` says why that cannot be drawn.
    allowed = np.ones(len(train_labels), bool)
    allowed[np.asarray(validation, dtype=np.int64)] = False
    held = np.bincount(np.asarray(train_labels)[allowed], minlength=num_classes)[:num_classes]
    smallest = int(held.min())
    if smallest >= labels // num_classes:
        return labels, None
    if smallest == 0:
        raise SplitError(
            f"Class {int(held.argmin())} has no training example outside the validation set: "
            "lower --validation."
        )
    fitted = smallest * num_classes
    return fitted, (f"labels {fitted}, not {labels}: {smallest} per class, as many as class "
                    f"{int(held.argmin())} has outside the validation set")


def split_protocol(train_labels, num_classes, cfg):
    """Draws the validation set and every repeat's labelled subset from the training split.

    Args:
        train_labels: int (N,) labels of the training split.
        num_classes: Number of classes.
        cfg: A `dcgan_tf.probe.protocol.ProbeConfig` (or any object with its `labels`,
            `validation`, `repeats` and `seed`).

    Returns:
        `(draws, notes)`: a list of `cfg.repeats` `Draw`s and a list of notes on adapted sizes.

    Raises:
        SplitError: Sizes that the training split cannot supply.
    """
    train_labels = np.asarray(train_labels)
    num_train = len(train_labels)
    size, note = validation_size(cfg.validation, num_train)
    notes = [note] if note else []
    if size < num_classes:
        raise SplitError(
            f"The training split has {num_train} examples: too few for a validation set of "
            f"{num_classes} classes."
        )
    if cfg.labels is not None and cfg.labels + size > num_train:
        raise SplitError(
            f"--labels {cfg.labels} plus a validation set of {size} exceed the {num_train} "
            "training examples: lower --labels or --validation, or use --labels all."
        )
    draws = []
    if cfg.labels is None:
        for k in range(cfg.repeats):
            rng = np.random.default_rng([cfg.seed, k])
            validation = np.sort(rng.choice(num_train, size, replace=False))
            labelled = np.setdiff1d(np.arange(num_train), validation)
            draws.append(Draw(labelled, validation, refit_on_all=True))
        return draws, notes
    # One validation set for all repeats, as the paper holds out one for model selection.
    validation = np.sort(np.random.default_rng(cfg.seed).choice(num_train, size, replace=False))
    labels, note = fitted_labels(train_labels, cfg.labels, validation, num_classes)
    notes += [note] if note else []
    for k in range(cfg.repeats):
        rng = np.random.default_rng([cfg.seed, k + 1])
        labelled = balanced_sample(train_labels, labels, rng, validation, num_classes)
        draws.append(Draw(labelled, validation, refit_on_all=False))
    return draws, notes


def labelled_subset(train_labels, num_classes, labels, seed=0, validation=DEFAULT_VALIDATION):
    """The probe's draw 0: `labels` class-balanced training indices, and its validation set.

    Exactly what `dcgan-tf probe --labels LABELS --seed SEED --validation VALIDATION` labels
    in its first draw (`split_protocol` with the same seed), so a semi-supervised run never
    sees a label of the probe's validation images.

    Args:
        train_labels: int (N,) labels of the training split.
        num_classes: Number of classes.
        labels: Labelled examples, a multiple of `num_classes`.
        seed: The probe's seed. Defaults to 0 (the probe's default).
        validation: The probe's validation size. Defaults to 10,000 (capped as the probe caps it).

    Returns:
        `(labelled, validation)`: sorted int64 indices into the training split, disjoint.

    Raises:
        SplitError: sizes the training split cannot supply.
    """
    cfg = types.SimpleNamespace(labels=int(labels), validation=int(validation), repeats=1,
                                seed=int(seed))
    draws, _ = split_protocol(train_labels, num_classes, cfg)
    return draws[0].labelled, draws[0].validation
