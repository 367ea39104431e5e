"""The linear-probe protocol of the paper (section 5): splits, class-balanced draws, the C search.

Pure NumPy and scikit-learn, no TensorFlow: features in, test errors out. `dcgan_tf.probe.run`
supplies the features (a SavedModel's `features` signature, or raw pixels).

Protocol (the paper's SVHN protocol, used for every dataset): a validation set drawn at random
from the training split; `labels` class-balanced examples drawn at random from the rest, once
per repeat; features standardised on the labelled draw only; a regularised linear L2-SVM
(squared hinge, L2 penalty: scikit-learn's LinearSVC objective, solved exactly by Newton's
method in the eigenbasis of the Gram matrix or of the features' covariance, whichever is
smaller, in the dual, or by LinearSVC itself; see
`dcgan_tf.probe.solvers`) for each C of a grid; the C with the lowest
validation error wins and that SVM is scored on the full test split. With `labels=None` (the
paper's CIFAR-10 protocol) every training example is labelled: C is chosen on a validation set
redrawn each repeat, then the SVM is refitted on the whole training split.
"""

import dataclasses
import math
import time

import numpy as np
from tqdm import tqdm

from dcgan_tf.data.splits import (  # noqa: F401  (the probe's splits, importable from here)
    MAX_VALIDATION_FRACTION, Draw, SplitError, balanced_sample, fitted_labels, split_protocol,
    validation_size,
)
from dcgan_tf.config import DEFAULT_C_GRID, PROBE_SOLVERS as SOLVERS  # noqa: F401
from dcgan_tf.probe.cache import DEFAULT_MAX_GB
from dcgan_tf.probe.solvers import (  # noqa: F401  (SquaredHingeSVC: importable from here too)
    GramSquaredHingeSVC, PrimalSquaredHingeSVC, SquaredHingeSVC, WarmStart, fit_gram_path,
    fit_primal_path, fit_quietly, liblinear_svc,
)


class ProbeError(ValueError):
    """A probe that cannot run as asked: bad settings, unlabelled data, not a SavedModel.

    Sizes that the training split cannot supply raise `dcgan_tf.data.splits.SplitError`.
    """


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
        cache_max_gb: Most GB the feature cache keeps: after each probe the least recently
            used features beyond it are deleted (`dcgan_tf.probe.cache`). Defaults to 20.
        solver: `"auto"`, `"gram"`, `"primal"`, `"newton"` or `"liblinear"`; see
            `fit_svm`. Defaults to `"auto"`.
    """

    labels: int | None = 1000
    validation: int = 10_000
    repeats: int = 10
    seed: int = 0
    c_grid: tuple = DEFAULT_C_GRID
    batch_size: int = 256
    cache_dir: str | None = None
    cache: bool = True
    cache_max_gb: float = DEFAULT_MAX_GB
    solver: str = "auto"

    def __post_init__(self):
        if self.labels is not None and (not isinstance(self.labels, int) or self.labels < 1):
            raise ProbeError(
                "Expected `labels` to be an integer >= 1 or None (all). "
                f"Received: labels={self.labels!r}"
            )
        for name in ("validation", "repeats", "batch_size"):
            if getattr(self, name) < 1:
                raise ProbeError(f"Expected `{name}` >= 1. Received: {name}={getattr(self, name)}")
        if not self.cache_max_gb > 0:
            raise ProbeError(
                f"Expected `cache_max_gb` > 0. Received: cache_max_gb={self.cache_max_gb}")
        grid = tuple(float(c) for c in self.c_grid)
        if not grid or not all(math.isfinite(c) and c > 0 for c in grid):
            raise ProbeError(
                f"Expected `c_grid` to be finite positive numbers. Received: c_grid={self.c_grid!r}"
            )
        object.__setattr__(self, "c_grid", grid)
        choose_solver(self.solver, 1)

    def to_dict(self):
        return dataclasses.asdict(self)


class Standardiser:
    """scikit-learn's `StandardScaler` (mean 0, variance 1; constant features unscaled), lean.

    Its statistics are accumulated in float64 over row chunks, so float32 features are never
    copied whole to float64 (`StandardScaler.fit` does: 2 GB at 36,000 x 7,168), and
    `transform` can work in place.
    """

    def fit(self, x, chunk=4096):
        """Fits the mean and scale of `x` (N, F); returns `self`."""
        x = np.asarray(x)
        total = np.zeros(x.shape[1])
        for i in range(0, len(x), chunk):
            total += x[i:i + chunk].sum(axis=0, dtype=np.float64)
        self.mean_ = total / len(x)
        squares = np.zeros(x.shape[1])
        for i in range(0, len(x), chunk):
            squares += np.square(x[i:i + chunk] - self.mean_).sum(axis=0)
        scale = np.sqrt(squares / len(x))
        self.scale_ = np.where(scale < 10 * np.finfo(np.float64).eps, 1.0, scale)
        return self

    def transform(self, x, overwrite=False):
        """Standardised `x`: float32 stays float32, other types become float64.

        Args:
            x: Features (N, F).
            overwrite: Write into `x` itself when it is a writable float array.
        """
        x = np.asarray(x)
        if not (overwrite and x.dtype.kind == "f" and x.flags.writeable):
            x = x.astype(x.dtype if x.dtype == np.float32 else np.float64)
        x -= self.mean_.astype(x.dtype)
        x /= self.scale_.astype(x.dtype)
        return x


@dataclasses.dataclass
class StandardisedSVM:
    """A scaler fitted on the labelled draw and the SVM fitted on its output."""

    scaler: object
    svm: object

    def decision_function(self, x):
        return self.svm.decision_function(self.scaler.transform(x))

    def predict(self, x):
        return self.svm.predict(self.scaler.transform(x))

    def weights_for(self, scaler):
        """`(coef, intercept)` of the same decision function on features standardised by
        `scaler` (a `Standardiser`) instead of this SVM's own."""
        raw = self.svm.coef_.astype(np.float64) / self.scaler.scale_
        intercept = self.svm.intercept_ - raw @ self.scaler.mean_ + raw @ scaler.mean_
        return raw * scaler.scale_, intercept


def choose_solver(solver, num_samples, num_features=None):
    """Resolves `"auto"`: the eigenbasis whose decomposition is the smaller.

    `"primal"` (one F x F eigendecomposition) when labelled examples outnumber features,
    else `"gram"` (one N x N). Both then take the same truncated Newton steps, so each label
    count runs at the cost of its cheaper formulation; `benchmarks/probe_solvers.py` times
    every solver against `auto`'s pick over N (the dual Newton solver, which factors an
    N x N system per step, class and C, falls behind `"gram"` as N grows, and `"primal"`
    falls behind below N = F).

    Args:
        solver: One of `SOLVERS`.
        num_samples: Labelled examples N.
        num_features: Feature dimension F; `None` when unknown (never "primal" then).

    Returns:
        `"gram"`, `"primal"`, `"newton"` or `"liblinear"`.

    Raises:
        ProbeError: `solver` is not one of `SOLVERS`.
    """
    if solver not in SOLVERS:
        raise ProbeError(f"Expected `solver` in {SOLVERS}. Received: solver={solver!r}")
    if solver != "auto":
        return solver
    if num_features is not None and num_samples > num_features:
        return "primal"
    return "gram"


@dataclasses.dataclass(frozen=True)
class SvmConfig:
    """The C grid, solver and seed of one `fit_svm` search.

    Args:
        c_grid: Regularisation constants to try; ties go to the smaller C. Defaults to
            `DEFAULT_C_GRID`.
        seed: liblinear's random state. Defaults to 0.
        solver: `"gram"` (`GramSquaredHingeSVC`: truncated Newton in the eigenbasis of the
            N x N Gram matrix, every class at once, warm-started along ascending C),
            `"newton"` (`SquaredHingeSVC`: the same objective, solved exactly in the dual,
            an N x N system per step), `"primal"` (`PrimalSquaredHingeSVC`: truncated Newton in the
            primal, every class at once, warm-started along ascending C), `"liblinear"`
            (`LinearSVC`, in its dual form when features outnumber examples) or `"auto"`
            (`choose_solver`: the smaller eigendecomposition). Defaults to `"auto"`.
    """

    c_grid: tuple = DEFAULT_C_GRID
    seed: int = 0
    solver: str = "auto"


def fit_svm(train_x, train_y, validation_data=None, config=SvmConfig(), init=None,
            overwrite=False, progress=False):
    """Fits a standardised linear L2-SVM for each C and keeps the best on the validation set.

    The scaler is fitted on `train_x` only, once; the solver's Gram matrix or eigenbasis,
    too, is shared by every C.

    Args:
        train_x, train_y: Labelled features (N, F) and labels (N,).
        validation_data: `(val_x, val_y)`, validation features and labels; `None` with a
            single C (a refit): no validation error then. Defaults to `None`.
        config: An `SvmConfig`: the C grid, the solver and liblinear's seed. Defaults to
            `SvmConfig()`.
        init: A fitted `StandardisedSVM` on similar data to start the primal solver from (its
            weights carried over to this scaler, its eigenbasis reused); other solvers ignore
            it.
        overwrite: Standardise `train_x` and `val_x` in place, and let the primal solver
            rotate `train_x` in place (float arrays the caller no longer needs): saves two
            copies of the features. Defaults to `False`.
        progress: Show a progress bar over the C values.

    Returns:
        `(clf, C, val_error, search)`: a fitted `StandardisedSVM` taking raw features, the
        chosen C, its validation error, and `[{"C", "val_error", "converged"}]` for the grid.
    """
    val_x, val_y = (None, None) if validation_data is None else validation_data
    scaler = Standardiser().fit(train_x)
    train_z = scaler.transform(train_x, overwrite)
    if val_x is None and len(config.c_grid) != 1:
        raise ProbeError(f"Expected validation data to choose among C={list(config.c_grid)}.")
    val_z = None if val_x is None else scaler.transform(val_x, overwrite)
    num_samples, num_features = train_z.shape
    solver = choose_solver(config.solver, num_samples, num_features)
    grid = sorted(config.c_grid)
    if solver == "primal":
        warm = isinstance(init, StandardisedSVM) and isinstance(init.svm, PrimalSquaredHingeSVC)
        start = WarmStart(*init.weights_for(scaler), init.svm.basis_) if warm else None
        # `train_z` is the caller's to overwrite or already a copy: rotate it in place.
        fitted = iter(fit_primal_path(train_z, train_y, grid, init=start, overwrite=True,
                                      progress=progress))
    elif solver == "gram":
        fitted = iter(fit_gram_path(train_z, train_y, grid, progress=progress))
    elif solver == "newton":
        z64 = train_z.astype(np.float64)
        gram = z64 @ z64.T + 1.0
    best, search, last = None, [], None
    # The primal and Gram paths fit every C at once above, with their own progress bar.
    shown = progress and solver not in ("primal", "gram")
    for c in tqdm(grid, desc="svm C", unit="C", disable=not shown, leave=False):
        if solver in ("primal", "gram"):
            svc = next(fitted)
            converged = svc.converged_
        elif solver == "newton":
            svc = last = SquaredHingeSVC(c).fit(train_z, train_y, gram=gram, init=last)
            converged = svc.converged_
        else:
            svc = liblinear_svc(c, config.seed, dual=bool(num_features > num_samples))
            converged = fit_quietly(svc, train_z, train_y)
        error = None if val_z is None else float(np.mean(svc.predict(val_z) != val_y))
        search.append({"C": c, "val_error": error, "converged": bool(converged)})
        if best is None or (error is not None and error < best[2]):
            best = (svc, c, error)
    svc, c, error = best
    return StandardisedSVM(scaler, svc), c, error, search


def evaluate_features(train_x, train_y, test_x, test_y, num_classes, cfg, progress=False):
    """Runs the whole protocol on precomputed features of the training and test splits.

    Args:
        train_x, train_y: Features (N, F) and labels of the whole training split.
        test_x, test_y: Features and labels of the whole test split.
        num_classes: Number of classes.
        cfg: A `ProbeConfig`.
        progress: Show progress bars over the repeats and each search's C values.

    Returns:
        A dict with `test_error_mean`, `test_error_std` (ddof=1), `accuracy_mean`,
        `accuracy_std`, `validation_error_mean`, `draws` (per repeat: `C`, `val_error`,
        `test_error`, `accuracy`, `search`, `seconds`), `sizes`, `notes` and `svm_s`.
    """
    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    draws, notes = split_protocol(train_y, num_classes, cfg)
    start = time.perf_counter()
    results = []
    for k, draw in enumerate(tqdm(draws, desc="svm draws", disable=not progress, unit="draw")):
        t0 = time.perf_counter()
        svm = SvmConfig(cfg.c_grid, seed=cfg.seed + k, solver=cfg.solver)
        clf, c, val_error, search = fit_svm(
            train_x[draw.labelled], train_y[draw.labelled],
            (train_x[draw.validation], train_y[draw.validation]), svm, overwrite=True,
            progress=progress,
        )
        if draw.refit_on_all:
            everything = np.concatenate([draw.labelled, draw.validation])
            clf, _, _, _ = fit_svm(train_x[everything], train_y[everything], None,
                                   dataclasses.replace(svm, c_grid=(c,)), init=clf,
                                   overwrite=True)
        test_error = float(np.mean(clf.predict(test_x) != test_y))
        results.append({
            "draw": k, "C": c,
            "solver": choose_solver(cfg.solver, len(draw.labelled), train_x.shape[1]),
            "val_error": val_error, "test_error": test_error,
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
