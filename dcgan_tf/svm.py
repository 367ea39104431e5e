"""The linear-probe protocol of the paper (section 5): splits, class-balanced draws, the L2-SVM.

Pure NumPy and scikit-learn, no TensorFlow: features in, test errors out. `dcgan_tf.probe`
supplies the features (a SavedModel's `features` signature, or raw pixels).

Protocol (the paper's SVHN protocol, used for every dataset): a validation set drawn at random
from the training split; `labels` class-balanced examples drawn at random from the rest, once
per repeat; features standardised on the labelled draw only; a regularised linear L2-SVM
(squared hinge, L2 penalty) for each C of a grid; the C with the lowest validation error wins
and that SVM is scored on the full test split. With `labels=None` (the paper's CIFAR-10
protocol) every training example is labelled: C is chosen on a validation set redrawn each
repeat, then the SVM is refitted on the whole training split.
"""

import dataclasses
import time
import warnings

import numpy as np

DEFAULT_C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
# The validation set never takes more than this share of the training split (digits has 1,437
# training images: 10,000 cannot be had, 287 can).
MAX_VALIDATION_FRACTION = 0.2


class ProbeError(ValueError):
    """A probe that cannot run as asked (bad sizes, unlabelled data, not a SavedModel, ...)."""


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
    """How the linear probe samples, fits and caches.

    Args:
        labels: Class-balanced labelled examples per draw, a multiple of the number of
            classes; `None` labels the whole training split (CIFAR-10 protocol). Defaults to
            1000 (SVHN protocol).
        validation: Validation examples drawn from the training split, capped at
            `MAX_VALIDATION_FRACTION` of it. Defaults to 10,000 (paper).
        repeats: Draws of the labelled subset; the report gives mean and std over them.
        seed: Seeds the validation set and every draw (draw k is the same for any `repeats`).
        c_grid: SVM regularisation constants searched on the validation set.
        batch_size: Images per call of the `features` signature.
        cache_dir: Where features are cached; `None` for `default_cache_dir()`.
        cache: Cache features on disk. Defaults to `True`.
    """

    labels: int | None = 1000
    validation: int = 10_000
    repeats: int = 10
    seed: int = 0
    c_grid: tuple = DEFAULT_C_GRID
    batch_size: int = 256
    cache_dir: str | None = None
    cache: bool = True

    def __post_init__(self):
        if self.labels is not None and (not isinstance(self.labels, int) or self.labels < 1):
            raise ProbeError(
                f"Expected `labels` to be an integer >= 1 or None (all). Received: labels={self.labels!r}"
            )
        for name in ("validation", "repeats", "batch_size"):
            if getattr(self, name) < 1:
                raise ProbeError(f"Expected `{name}` >= 1. Received: {name}={getattr(self, name)}")
        grid = tuple(float(c) for c in self.c_grid)
        if not grid or min(grid) <= 0:
            raise ProbeError(f"Expected `c_grid` to be positive numbers. Received: c_grid={self.c_grid!r}")
        object.__setattr__(self, "c_grid", grid)

    def to_dict(self):
        return dataclasses.asdict(self)


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
        ProbeError: `n` is not a multiple of the classes, or a class has too few examples left.
    """
    labels = np.asarray(labels)
    num_classes = int(num_classes if num_classes is not None else labels.max() + 1)
    if n % num_classes:
        raise ProbeError(
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
            raise ProbeError(
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


def split_protocol(train_labels, num_classes, cfg):
    """Draws the validation set and every repeat's labelled subset from the training split.

    Args:
        train_labels: int (N,) labels of the training split.
        num_classes: Number of classes.
        cfg: A `ProbeConfig`.

    Returns:
        `(draws, notes)`: a list of `cfg.repeats` `Draw`s and a list of notes on adapted sizes.

    Raises:
        ProbeError: Sizes that the training split cannot supply.
    """
    train_labels = np.asarray(train_labels)
    num_train = len(train_labels)
    size, note = validation_size(cfg.validation, num_train)
    notes = [note] if note else []
    if size < num_classes:
        raise ProbeError(
            f"The training split has {num_train} examples: too few for a validation set of "
            f"{num_classes} classes."
        )
    if cfg.labels is not None and cfg.labels + size > num_train:
        raise ProbeError(
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
    for k in range(cfg.repeats):
        rng = np.random.default_rng([cfg.seed, k + 1])
        labelled = balanced_sample(train_labels, cfg.labels, rng, validation, num_classes)
        draws.append(Draw(labelled, validation, refit_on_all=False))
    return draws, notes


class RowSpace:
    """Coordinates in the span of the training rows: `x @ basis.T` (an exact reparametrisation).

    With fewer examples than features, an L2-regularised linear model's weights lie in the span
    of its training rows (representer theorem), and an orthonormal basis of that span keeps
    every inner product between training rows, hence liblinear's dual problem and its
    iterates, unchanged. Each dual iteration then costs O(examples), not O(features): 7x
    fewer at 1000 labels x 7,168 features, the same SVM.
    """

    def __init__(self, basis):
        self.basis = basis  # (rank, features), orthonormal rows

    def fit(self, x, y=None):
        return self

    def transform(self, x):
        return np.asarray(x, dtype=self.basis.dtype) @ self.basis.T

    @classmethod
    def of(cls, x, rtol=1e-6):
        _, s, vt = np.linalg.svd(np.asarray(x, dtype=np.float64), full_matrices=False)
        rank = int(np.sum(s > rtol * s.max())) if s.size and s.max() > 0 else 1
        return cls(vt[:max(rank, 1)].astype(np.float32))


def _linear_svc(c, num_samples, num_features, seed):
    from sklearn.svm import LinearSVC

    # The dual form scales with examples, the primal with features: at 4,000 labels x 7,168
    # features the primal took over 30 minutes.
    return LinearSVC(
        C=c, loss="squared_hinge", penalty="l2", dual=bool(num_features >= num_samples),
        max_iter=2000, random_state=seed,
    )


def _fit_quietly(svc, x, y):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        svc.fit(x, y)
    return not any(issubclass(w.category, ConvergenceWarning) for w in caught)


def fit_svm(train_x, train_y, val_x, val_y, c_grid=DEFAULT_C_GRID, seed=0):
    """Fits a standardised linear L2-SVM for each C and keeps the best on the validation set.

    The scaler is fitted on `train_x` only, once, and reused for every C. With more features
    than examples, the SVM is solved in the dual, in the training rows' span (`RowSpace`).

    Args:
        train_x, train_y: Labelled features (N, F) and labels (N,).
        val_x, val_y: Validation features and labels.
        c_grid: Regularisation constants to try; ties go to the smaller C.
        seed: liblinear's random state.

    Returns:
        `(clf, C, val_error, search)`: a fitted `Pipeline(StandardScaler[, RowSpace],
        LinearSVC)` (its `predict` takes raw features), the chosen C, its validation error,
        and `[{"C", "val_error", "converged"}]` for the grid.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x)
    steps = [("scale", scaler)]
    train_z, val_z = scaler.transform(train_x), scaler.transform(val_x)
    if train_z.shape[1] > train_z.shape[0]:
        project = RowSpace.of(train_z)
        steps.append(("rowspace", project))
        train_z, val_z = project.transform(train_z), project.transform(val_z)
    best, search = None, []
    for c in sorted(c_grid):
        svc = _linear_svc(c, *train_z.shape, seed)
        converged = _fit_quietly(svc, train_z, train_y)
        error = float(np.mean(svc.predict(val_z) != val_y))
        search.append({"C": c, "val_error": error, "converged": converged})
        if best is None or error < best[2]:
            best = (svc, c, error)
    svc, c, error = best
    return Pipeline(steps + [("svm", svc)]), c, error, search


def evaluate_features(train_x, train_y, test_x, test_y, num_classes, cfg, progress=False):
    """Runs the whole protocol on precomputed features of the training and test splits.

    Args:
        train_x, train_y: Features (N, F) and labels of the whole training split.
        test_x, test_y: Features and labels of the whole test split.
        num_classes: Number of classes.
        cfg: A `ProbeConfig`.
        progress: Show a progress bar over the repeats.

    Returns:
        A dict with `test_error_mean`, `test_error_std` (ddof=1), `accuracy_mean`,
        `accuracy_std`, `validation_error_mean`, `draws` (per repeat: `C`, `val_error`,
        `test_error`, `accuracy`, `search`, `seconds`), `sizes`, `notes` and `svm_s`.
    """
    from tqdm import tqdm

    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    draws, notes = split_protocol(train_y, num_classes, cfg)
    start = time.perf_counter()
    results = []
    for k, draw in enumerate(tqdm(draws, desc="svm draws", disable=not progress, unit="draw")):
        t0 = time.perf_counter()
        clf, c, val_error, search = fit_svm(
            train_x[draw.labelled], train_y[draw.labelled],
            train_x[draw.validation], train_y[draw.validation], cfg.c_grid, seed=cfg.seed + k,
        )
        if draw.refit_on_all:
            everything = np.concatenate([draw.labelled, draw.validation])
            clf, _, _, _ = fit_svm(train_x[everything], train_y[everything],
                                   train_x[draw.validation], train_y[draw.validation], (c,),
                                   seed=cfg.seed + k)
        test_error = float(np.mean(clf.predict(test_x) != test_y))
        results.append({
            "draw": k, "C": c, "val_error": val_error, "test_error": test_error,
            "accuracy": 1.0 - test_error, "search": search,
            "seconds": round(time.perf_counter() - t0, 3),
        })
    summary = summarise(results)
    summary.update({
        "draws": results,
        "sizes": {
            "train": int(len(train_y)), "test": int(len(test_y)),
            "validation": int(len(draws[0].validation)),
            "labelled": int(len(draws[0].labelled) + (len(draws[0].validation)
                                                      if draws[0].refit_on_all else 0)),
        },
        "notes": notes,
        "svm_s": round(time.perf_counter() - start, 3),
    })
    return summary


def summarise(draws):
    """Mean and std (ddof=1; 0 for one draw) of the test error and accuracy over `draws`."""
    errors = np.array([d["test_error"] for d in draws], dtype=np.float64)
    std = float(errors.std(ddof=1)) if len(errors) > 1 else 0.0
    return {
        "test_error_mean": float(errors.mean()),
        "test_error_std": std,
        "accuracy_mean": float(1.0 - errors.mean()),
        "accuracy_std": std,
        "validation_error_mean": float(np.mean([d["val_error"] for d in draws])),
    }
