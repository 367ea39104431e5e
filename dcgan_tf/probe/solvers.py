"""Solvers of the probe's L2-SVM: scikit-learn's `LinearSVC` objective, solved exactly.

Every solver here minimises, for each class against the rest (one binary problem for two
classes, positive = the second), the objective of
`LinearSVC(loss="squared_hinge", penalty="l2", C=C)` with liblinear's regularised intercept
(`intercept_scaling=1`: the intercept is the weight of a constant feature of value 1):
`1/2 |w|^2 + C sum_i max(0, 1 - y_i w.x_i)^2`, y in {-1, 1}.

- `SquaredHingeSVC`: Newton's method in the dual (Gram) form, an N x N system per step: the
  choice when features outnumber labelled examples.
- `PrimalSquaredHingeSVC` / `fit_primal_path`: truncated Newton in the primal, every class at
  once, its systems solved by conjugate gradients in the eigenbasis of `x.T @ x` (matmuls on
  every core), warm-started along an ascending C path: the choice when labelled examples
  outnumber features.
- `GramSquaredHingeSVC` / `fit_gram_path`: the same primal solver in the eigenbasis of the
  N x N Gram matrix, one eigendecomposition for every class and C: the choice when features
  outnumber labelled examples.
- `liblinear_svc`: `LinearSVC` itself, the reference.

Pure NumPy/SciPy; no TensorFlow.
"""

import dataclasses
import warnings

import numpy as np
import scipy.linalg
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC
from threadpoolctl import ThreadpoolController, threadpool_limits
from tqdm import tqdm


# From this many examples a dual Newton solve is big enough to use every BLAS thread.
MULTITHREADED_SAMPLES = 1500


_CONTROLLER = []


def _one_blas_thread():
    """A context running BLAS/LAPACK on one thread. LAPACK's factorisations and small
    products gain nothing from threads on few cores and lose many times over when other
    processes share them (`benchmarks/probe_solvers.py` runs the solvers this way)."""
    if not _CONTROLLER:  # finding the BLAS libraries takes milliseconds: once per process
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


class _LinearScores:
    """`decision_function`/`predict` of a fitted one-vs-rest linear model, as LinearSVC gives."""

    def decision_function(self, x):
        scores = np.asarray(x, dtype=np.float32) @ self.coef_.T + self.intercept_
        return scores[:, 0] if len(self.classes_) == 2 else scores

    def predict(self, x):
        scores = self.decision_function(x)
        if len(self.classes_) == 2:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]


class SquaredHingeSVC(_LinearScores):
    """LinearSVC's problem, one-vs-rest, solved exactly by Newton's method in the dual (Gram) form.

    Per class, with targets y in {-1, 1} and the intercept as a regularised feature of value 1
    (liblinear's `intercept_scaling=1`), it minimises the objective of
    `LinearSVC(loss="squared_hinge", penalty="l2", C=C)`:
    `1/2 |w|^2 + C sum_i max(0, 1 - y_i w.x_i)^2`. With w = X^T beta, a Newton step on the
    examples inside the margin, A, is one linear solve, `(K_AA + I / (2C)) beta_A = y_A`
    (Chapelle 2007, "Training a support vector machine in the primal"), followed by an exact
    line search (Keerthi & DeCoste 2005); it ends when A stops changing, in 3-15 steps here.
    Each step costs one Cholesky of at most N x N, whatever the width of the features, where
    liblinear needs thousands of passes at large C, and may stop unconverged on DCGAN features
    or pixels (`benchmarks/probe_solvers.py` compares them).

    Args:
        C: Regularisation constant, as in `LinearSVC`.
        max_iter: Most Newton steps per class.
    """

    def __init__(self, C=1.0, max_iter=100):
        self.C = C
        self.max_iter = max_iter

    def fit(self, x, y, gram=None, init=None):
        """Fits on features `x` (N, F).

        Args:
            x, y: Features (N, F) and labels (N,).
            gram: `x @ x.T + 1` if already computed.
            init: A `SquaredHingeSVC` fitted on the same `x` and `y` (another C) to start
                Newton from: along an ascending C grid the active sets barely change, so
                each C takes a few steps instead of a dozen.
        """
        x = np.asarray(x)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        gram = x.astype(np.float64) @ x.T.astype(np.float64) + 1.0 if gram is None else gram
        # One binary problem for two classes (positive: the second), as liblinear does.
        positives = self.classes_[1:] if len(self.classes_) == 2 else self.classes_
        same_problem = init is not None and init.beta_.shape == (len(positives), len(y))
        starts = init.beta_ if same_problem else [None] * len(positives)
        betas, self.n_iter_, self.converged_ = [], [], True
        # Small solves, many of them, use one BLAS thread (no oversubscription stalls); big
        # ones use every core.
        threads = None if len(y) >= MULTITHREADED_SAMPLES else 1
        with threadpool_limits(limits=threads, user_api="blas"):
            for c, start in zip(positives, starts):
                beta, steps, converged = _newton_binary(gram, np.where(y == c, 1.0, -1.0),
                                                        self.C, self.max_iter, start)
                betas.append(beta)
                self.n_iter_.append(steps)
                self.converged_ &= converged
        beta = self.beta_ = np.stack(betas)  # (classes, N)
        self.coef_ = (beta @ x.astype(np.float64)).astype(np.float32)
        self.intercept_ = beta.sum(axis=1).astype(np.float32)
        return self


def _newton_binary(gram, y, c, max_iter, start=None):
    """`(beta, steps, converged)` minimising 1/2 b'Kb + c sum max(0, 1 - y (Kb))^2, from
    `start` (or 0)."""
    n = len(y)
    beta = np.zeros(n) if start is None else np.array(start, np.float64)
    out = np.zeros(n) if start is None else gram @ beta
    margin = y * out < 1.0  # examples inside the margin; all of them at beta = 0
    for step in range(1, max_iter + 1):
        idx = np.flatnonzero(margin)
        target = np.zeros(n)
        system = gram[np.ix_(idx, idx)] + np.eye(len(idx)) / (2.0 * c)
        try:
            target[idx] = scipy.linalg.solve(system, y[idx], assume_a="pos")
        except np.linalg.LinAlgError:  # numerically singular at a huge C: least squares
            target[idx] = scipy.linalg.lstsq(system, y[idx])[0]
        delta = target - beta
        change = gram @ delta
        t = _line_search(out, change, y, beta @ change, delta @ change, c)
        beta += t * delta
        out += t * change
        new_margin = y * out < 1.0
        if t > 0.999 and np.array_equal(new_margin, margin):
            return beta, step, True
        margin = new_margin
    return beta, max_iter, False


def _line_search(out, change, y, beta_k_delta, delta_k_delta, c):
    """Exact minimiser over t >= 0 of the convex piecewise quadratic objective along `delta`."""

    def slope(t):
        m = 1.0 - y * (out + t * change)
        inside = m > 0
        return beta_k_delta + t * delta_k_delta - 2.0 * c * np.dot(y[inside] * change[inside],
                                                                     m[inside])

    lo, hi = 0.0, 1.0
    while slope(hi) < 0 and hi < 1e6:
        lo, hi = hi, 2.0 * hi
    for _ in range(60):  # the slope is non-decreasing: bisection finds its zero
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if slope(mid) < 0 else (lo, mid)
    return 0.5 * (lo + hi)


class _PathSVC(_LinearScores):
    """Settings and fitted attributes shared by the estimators of the two path solvers."""

    def __init__(self, C=1.0, tol=1e-4, max_iter=50):
        self.C = C
        self.tol = tol
        self.max_iter = max_iter

    def _set(self, classes, coef, intercept, n_iter, converged):
        self.classes_ = classes
        self.coef_ = coef.astype(np.float32)
        self.intercept_ = intercept.astype(np.float32)
        self.n_iter_ = n_iter
        self.converged_ = converged
        return self


class PrimalSquaredHingeSVC(_PathSVC):
    """LinearSVC's problem, one-vs-rest, solved by truncated Newton in the primal.

    Per class, with the active set A (examples with y_i w.x_i < 1), the objective is the
    quadratic `1/2 |w|^2 + C |X_A w - y_A|^2`, so the Newton step solves
    `(I + 2C X_A^T X_A) s = -g` (Keerthi & DeCoste 2005, "A modified finite Newton method for
    fast solution of large scale linear SVMs"), followed by an exact line search. The system
    is never formed: conjugate gradients need only products `X_A^T (X_A v)`, two matmuls over
    the features for all classes at once, in the eigenbasis of `X^T X`, where `X_A^T X_A` is
    close to diagonal. The preconditioner is its exact block on the 512 leading eigendirections
    (where each class's active set couples them most) and its exact diagonal elsewhere. The
    inner solve stops at a relative residual `min(0.1, sqrt(|g| / |g(0)|))`, so steps are
    cheap far from the optimum and exact near it (Eisenstat & Walker 1996). It stops with
    liblinear's primal criterion, `|g| <= tol * max(min(#pos, #neg), 1) / N * |g(w=0)|`.

    Use `fit_primal_path` to fit several C values, each warm-started from the previous.

    Args:
        C: Regularisation constant, as in `LinearSVC`.
        tol: Stopping tolerance, as LinearSVC's `tol` with `dual=False`. Defaults to 1e-4.
        max_iter: Most Newton steps per class and C. Defaults to 50.
    """

    def fit(self, x, y):
        """Fits on features `x` (N, F) and labels `y` (N,); returns `self`."""
        return fit_primal_path(x, y, (self.C,), self.tol, self.max_iter)[0]


def _checked_xy(x, y):
    """`(x, y, classes)` as arrays, after checking what both path solvers need of them."""
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 2 or x.dtype not in (np.float32, np.float64) or len(x) != len(y):
        raise ValueError(
            "Expected `x` to be a float32 or float64 (N, F) array with one label per row. "
            f"Received: x.shape={x.shape}, x.dtype={x.dtype}, len(y)={len(y)}"
        )
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(f"Expected `y` to have at least 2 classes. Received: classes={classes}")
    return x, y, classes


@dataclasses.dataclass(frozen=True, eq=False)
class WarmStart:
    """A solution on similar data for `fit_primal_path` to start from, e.g. the probe's
    refit on the whole training split starting from its C search's.

    Args:
        coef: Weights (classes, F) to start from instead of zero.
        intercept: Intercepts (classes,) that go with `coef`.
        basis: An orthogonal (F, F) matrix to rotate into instead of the eigenbasis of
            `x.T @ x`, e.g. the `basis_` of that fit: any orthogonal basis gives the same
            solution, and one close to the eigenbasis preconditions as well, without the
            O(F^3) cost. Defaults to `None`.
    """

    coef: np.ndarray
    intercept: np.ndarray
    basis: np.ndarray | None = None


def fit_primal_path(x, y, c_grid, tol=1e-4, max_iter=50, init=None, overwrite=False,
                    progress=False):
    """Fits `PrimalSquaredHingeSVC` at each C of `c_grid`, warm-starting along ascending C.

    One eigendecomposition of `x.T @ x` serves every class and C (each fit keeps it as
    `basis_`). `x` keeps its dtype: float32 features give float32 matmuls; the iterates and
    the line search are float64.

    Args:
        x: Features (N, F), float32 or float64.
        y: Labels (N,), at least two classes.
        c_grid: Regularisation constants, any order.
        tol: Stopping tolerance (see `PrimalSquaredHingeSVC`). Defaults to 1e-4.
        max_iter: Most Newton steps per class and C. Defaults to 50.
        init: A `WarmStart`: the weights, and optionally the basis, of a solution on
            similar data; `None` starts from zero in the eigenbasis of `x.T @ x`.
        overwrite: Rotate `x` into the eigenbasis in place instead of in a copy (a float
            array the caller no longer needs): saves a copy of the features.
        progress: Show a progress bar over the C values (minutes each at all labels).

    Returns:
        A fitted `PrimalSquaredHingeSVC` for each C, in ascending order of C.

    Raises:
        ValueError: `x` is not 2-D floating point matching `y`, or `y` has one class.
    """
    x, y, classes = _checked_xy(x, y)
    positives = classes[1:] if len(classes) == 2 else classes
    if init is not None and np.shape(init.coef) != (len(positives), x.shape[1]):
        raise ValueError(
            f"Expected `init` coefficients of shape {(len(positives), x.shape[1])}. "
            f"Received: shape={np.shape(init.coef)}"
        )
    grid = sorted(float(c) for c in c_grid)
    targets = np.where(y[:, None] == positives[None, :], 1.0, -1.0)
    problem = _RotatedProblems(x, targets, overwrite, None if init is None else init.basis)
    if init is not None:
        problem.start(np.asarray(init.coef), np.asarray(init.intercept))
    fitted = []
    for c in tqdm(grid, desc="svm C path", unit="C", disable=not progress, leave=False):
        steps, converged = problem.solve(c, tol, max_iter)
        weights = problem.weights()
        svc = PrimalSquaredHingeSVC(c, tol, max_iter)._set(
            classes, weights[:, :-1], weights[:, -1], steps.tolist(), converged)
        svc.basis_ = problem.basis
        fitted.append(svc)
    return fitted


class GramSquaredHingeSVC(_PathSVC):
    """LinearSVC's problem, one-vs-rest, by the primal solver in the eigenbasis of the Gram matrix.

    With `K = [x, 1] [x, 1]^T = U diag(s) U^T` (N x N), the rows of `phi = U diag(sqrt(s))`
    are N-dimensional features with `phi phi^T = K`: a weight vector `v` on them is
    `w = [x, 1]^T U diag(1 / sqrt(s)) v` on the raw features, with the same norm and the same
    scores, so the SVM on `phi` (no intercept: the Gram carries it) is the SVM on `x`; and
    `phi^T phi = diag(s)` is already diagonal, the basis the primal solver wants. One
    eigendecomposition serves every class and C, where the dual Newton solver factors an N x N
    system per step, per class and per C. The choice when labelled examples are fewer than
    features. Use `fit_gram_path` to fit several C values.

    Args:
        C: Regularisation constant, as in `LinearSVC`.
        tol: Stopping tolerance, as LinearSVC's `tol` with `dual=False` (the gradient has the
            same norm in either basis). Defaults to 1e-4.
        max_iter: Most Newton steps per class and C. Defaults to 50.
    """

    def fit(self, x, y):
        """Fits on features `x` (N, F) and labels `y` (N,); returns `self`."""
        return fit_gram_path(x, y, (self.C,), self.tol, self.max_iter)[0]


# Eigenvalues of the Gram matrix below this share of the largest are dropped: directions the
# features do not span (their columns of `phi` are rounding noise).
_GRAM_CUTOFF = 1e-10


def fit_gram_path(x, y, c_grid, tol=1e-4, max_iter=50, progress=False):
    """Fits `GramSquaredHingeSVC` at each C of `c_grid`, warm-starting along ascending C.

    Args:
        x: Features (N, F), float32 or float64: the Gram matrix is computed in that precision,
            decomposed in float64.
        y: Labels (N,), at least two classes.
        c_grid: Regularisation constants, any order.
        tol: Stopping tolerance (see `PrimalSquaredHingeSVC`). Defaults to 1e-4.
        max_iter: Most Newton steps per class and C. Defaults to 50.
        progress: Show a progress bar over the C values.

    Returns:
        A fitted `GramSquaredHingeSVC` for each C, in ascending order of C.

    Raises:
        ValueError: `x` is not 2-D floating point matching `y`, or `y` has one class.
    """
    x, y, classes = _checked_xy(x, y)
    with _one_blas_thread():  # see `_one_blas_thread`
        return _fit_gram_path(x, y, classes, c_grid, tol, max_iter, progress)


def _fit_gram_path(x, y, classes, c_grid, tol, max_iter, progress):
    positives = classes[1:] if len(classes) == 2 else classes
    gram = (x @ x.T).astype(np.float64)  # a symmetric rank-k update
    gram += 1.0
    values, vectors = scipy.linalg.eigh(gram, overwrite_a=True, check_finite=False,
                                        driver="evd")
    del gram
    keep = values > _GRAM_CUTOFF * values[-1]
    values, vectors = values[keep], vectors[:, keep]
    roots = np.sqrt(values)
    phi = (vectors * roots).astype(x.dtype)
    targets = np.where(y[:, None] == positives[None, :], 1.0, -1.0)
    problem = _RotatedProblems(phi, targets, overwrite=False, basis="identity", intercept=False)
    fitted = []
    for c in tqdm(sorted(float(c) for c in c_grid), desc="svm C path", unit="C",
                  disable=not progress, leave=False):
        steps, converged = problem.solve(c, tol, max_iter)
        beta = (problem.u[:, :-1] / roots) @ vectors.T  # (K, N): w = [x, 1]^T beta
        fitted.append(GramSquaredHingeSVC(c, tol, max_iter)._set(
            classes, beta.astype(x.dtype) @ x, beta.sum(axis=1), steps.tolist(), converged))
    return fitted


# Largest relative residual at which a Newton step's conjugate gradients stop (far from the optimum).
_FORCING_CAP = 0.1
# Leading eigendirections preconditioned by their exact block rather than its diagonal: fewer
# conjugate-gradient products than the diagonal alone, and cheaper than a larger block
# (`benchmarks/probe_solvers.py --features 9408`).
_BLOCK = 512
# Most conjugate-gradient products per Newton step.
_CG_MAX_ITER = 250
# Rows per chunk in a pass over the features: both products of `z_A^T (z_A v)` on a chunk
# while it is in cache, rather than two whole-matrix products.
_ROWS = 1024


class _RotatedProblems:
    """Every one-vs-rest problem at once, in the eigenbasis of `x^T x`.

    With `x^T x = V diag(lambda) V^T` and `z = x V`, a weight vector `u` on `z` scores as
    `w = V u` does on `x` and has the same norm, so the objective is unchanged; but there
    `z_A^T z_A` is close to diagonal: its leading block and its diagonal precondition conjugate
    gradients.
    """

    def __init__(self, x, targets, overwrite, basis=None, intercept=True):
        # The constant feature's value: 0 drops the intercept (its weight stays 0), for
        # features that already carry it (the Gram path's).
        self.one = 1.0 if intercept else 0.0
        if basis is None:
            gram = x.T @ x
            _, basis = scipy.linalg.eigh(gram, overwrite_a=True, check_finite=False,
                                         driver="evd")
            del gram
        if isinstance(basis, str) and basis == "identity":  # `x` is already in its eigenbasis
            self.basis, self.z = None, x
        else:
            self.basis = basis.astype(x.dtype, copy=False)
            inplace = overwrite and x.flags.writeable and x.flags.c_contiguous
            self.z = x if inplace else np.empty_like(x)
            for i in range(0, len(x), _ROWS):
                self.z[i:i + _ROWS] = x[i:i + _ROWS] @ self.basis
        self.targets = targets
        num, dim = x.shape
        self.u = np.zeros((targets.shape[1], dim + 1))  # weights on [z, 1]
        self.out = np.zeros(targets.shape)
        # liblinear's stopping scale: |g(0)| / C, times min(#pos, #neg) / N.
        self.g0 = np.linalg.norm(self._transpose_times(targets), axis=1)
        counts = np.minimum((targets > 0).sum(0), (targets < 0).sum(0))
        self.scale = np.maximum(counts, 1) / num

    def start(self, coef, intercept):
        """Sets the iterate to weights `coef` (K, F) and `intercept` (K,) on the raw features."""
        self.u[:, :-1] = coef.astype(np.float64) @ self.basis
        self.u[:, -1] = intercept
        self.out = self._times(self.u)

    def weights(self):
        """Current `[coef, intercept]` (K, F + 1) on the raw features."""
        return np.hstack([self.u[:, :-1] @ self.basis.T, self.u[:, -1:]])

    def _times(self, v):
        """`[z, 1] v^T`: (N, K) outputs of weights `v` (K, F + 1)."""
        dtype = self.z.dtype
        return (self.z @ v[:, :-1].T.astype(dtype)).astype(np.float64) + self.one * v[:, -1]

    def _transpose_times(self, r):
        """`r^T [z, 1]`: (K, F + 1) from per-example values `r` (N, K)."""
        return np.hstack([(r.T.astype(self.z.dtype) @ self.z).astype(np.float64),
                          self.one * r.sum(0)[:, None]])

    def _masked_gram_times(self, mask, v):
        """`[z_A, 1]^T [z_A, 1] v` per class (rows of `v`, (K, F + 1)), in one pass over z."""
        dtype = self.z.dtype
        weights, bias = v[:, :-1].T.astype(dtype), (self.one * v[:, -1]).astype(dtype)
        total = np.zeros(v.shape[::-1], dtype)
        for i in range(0, len(self.z), _ROWS):
            part = self.z[i:i + _ROWS]
            u = part @ weights
            u += bias
            u *= mask[i:i + _ROWS]
            total[:-1] += part.T @ u
            total[-1] += self.one * u.sum(0)
        return total.T.astype(np.float64)

    def _squares(self, active):
        """Diagonal of `[z_A, 1]^T [z_A, 1]` per class: (K, F + 1)."""
        total = np.zeros((active.shape[1], self.z.shape[1]))
        mask = active.astype(self.z.dtype)
        for i in range(0, len(self.z), _ROWS):
            part = self.z[i:i + _ROWS]
            total += mask[i:i + _ROWS].T @ (part * part)
        return np.hstack([total, self.one * active.sum(0)[:, None]])

    def _preconditioner(self, c, active):
        """An approximate inverse of each class's `I + 2c [z_A, 1]^T [z_A, 1]`: exact on the
        `_BLOCK` leading eigendirections (where the class structure couples them), its
        diagonal elsewhere."""
        diagonal = 1.0 + 2.0 * c * self._squares(active)
        dim = self.z.shape[1]
        size = min(_BLOCK, dim)
        lead = slice(dim - size, dim)  # eigh sorts ascending: the largest come last
        factors = []
        for j in range(active.shape[1] if size else 0):
            part = self.z[active[:, j], lead]
            block = (part.T @ part).astype(np.float64)
            block *= 2.0 * c
            block[np.diag_indices(size)] += 1.0
            factors.append(scipy.linalg.cho_factor(block, lower=True, check_finite=False))

        def apply(residual):
            out = residual / diagonal
            for j, factor in enumerate(factors):
                out[j, lead] = scipy.linalg.cho_solve(factor, residual[j, lead],
                                                      check_finite=False)
            return out

        return apply

    def solve(self, c, tol, max_iter):
        """Newton steps at C = `c` from the current iterate: `(steps per class, converged)`."""
        steps = np.zeros(len(self.u), int)
        todo = np.ones(len(self.u), bool)
        for _ in range(max_iter + 1):
            active = self.targets * self.out < 1.0
            residual = np.where(active, self.out - self.targets, 0.0)
            grad = self.u + 2.0 * c * self._transpose_times(residual)
            norms = np.linalg.norm(grad, axis=1)
            todo &= norms > tol * self.scale * 2.0 * c * self.g0
            if not todo.any() or steps.max() == max_iter:
                break
            k = np.flatnonzero(todo)
            steps[k] += 1
            rtol = np.minimum(_FORCING_CAP, np.sqrt(norms[k] / (2.0 * c * self.g0[k])))
            preconditioner = self._preconditioner(c, active[:, k])
            direction = self._conjugate_gradients(c, active[:, k], -grad[k], preconditioner,
                                                  rtol)
            change = self._times(direction)
            for j, cls in enumerate(k):
                t = _line_search(self.out[:, cls], change[:, j], self.targets[:, cls],
                                 self.u[cls] @ direction[j], direction[j] @ direction[j], c)
                self.u[cls] += t * direction[j]
                self.out[:, cls] += t * change[:, j]
        return steps, not todo.any()

    def _conjugate_gradients(self, c, active, rhs, preconditioner, rtol):
        """Solves `(I + 2c [z_A, 1]^T [z_A, 1]) s = rhs` per class, `preconditioner` applying
        an approximate inverse."""
        mask = active.astype(self.z.dtype)
        solution = np.zeros_like(rhs)
        residual = rhs.copy()
        z = preconditioner(residual)
        p, rz = z.copy(), np.sum(residual * z, axis=1)
        limit = rtol * np.linalg.norm(rhs, axis=1)
        live = np.linalg.norm(residual, axis=1) > limit
        for _ in range(_CG_MAX_ITER):
            if not live.any():
                break
            hp = p + 2.0 * c * self._masked_gram_times(mask, p)
            with np.errstate(invalid="ignore", divide="ignore"):
                alpha = np.where(live, rz / np.sum(p * hp, axis=1), 0.0)
            solution += alpha[:, None] * p
            residual -= alpha[:, None] * hp
            live &= np.linalg.norm(residual, axis=1) > limit
            z = preconditioner(residual)
            rz_next = np.sum(residual * z, axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                beta = np.where(live, rz_next / rz, 0.0)
            p = np.where(live[:, None], z + beta[:, None] * p, 0.0)
            rz = rz_next
        return solution


def liblinear_svc(c, seed, dual):
    """scikit-learn's `LinearSVC` for the probe's objective (the reference solver)."""
    return LinearSVC(C=c, loss="squared_hinge", penalty="l2", dual=dual, max_iter=2000,
                     random_state=seed)


def fit_quietly(svc, x, y):
    """Fits a scikit-learn estimator; returns whether it converged (no ConvergenceWarning)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        svc.fit(x, y)
    return not any(issubclass(w.category, ConvergenceWarning) for w in caught)
