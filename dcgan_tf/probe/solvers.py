"""Solvers of the probe's L2-SVM: scikit-learn's `LinearSVC` objective, solved exactly.

Every solver here minimises, for each class against the rest (one binary problem for two
classes, positive = the second), the objective of
`LinearSVC(loss="squared_hinge", penalty="l2", C=C)` with liblinear's regularised intercept
(`intercept_scaling=1`: the intercept is the weight of a constant feature of value 1):
`1/2 |w|^2 + C sum_i max(0, 1 - y_i w.x_i)^2`, y in {-1, 1}.

- `SquaredHingeSVC`: Newton's method in the dual (Gram) form, an N x N system per step: the
  choice when features outnumber labelled examples.
- `PrimalSquaredHingeSVC` / `fit_primal_path`: Newton's method in the primal, a (F+1) x (F+1)
  system per step built from one Gram matrix `x.T @ x` (matmuls on every core), warm-started
  along an ascending C path: the choice when labelled examples outnumber features.
- `liblinear_svc`: `LinearSVC` itself, the reference.

Pure NumPy/SciPy; no TensorFlow.
"""

import warnings

import numpy as np


# From this many examples a dual Newton solve is big enough to use every BLAS thread.
MULTITHREADED_SAMPLES = 1500


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
    liblinear needs thousands of passes at large C. Measured at 1000 labels: x 7,168 DCGAN
    features, liblinear's dual took 311 s at C=0.1 without converging (2000 passes), this
    0.7 s; x 784 pixels, liblinear's primal took 28 s at C=1 without converging, this 0.5 s.

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
        from threadpoolctl import threadpool_limits

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
    import scipy.linalg

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


class PrimalSquaredHingeSVC(_LinearScores):
    """LinearSVC's problem, one-vs-rest, solved by Newton's method in the primal.

    Per class, with the active set A (examples with y_i w.x_i < 1), the objective is the
    quadratic `1/2 |w|^2 + C |X_A w - y_A|^2`, so the Newton step solves
    `(I + 2C X_A^T X_A) s = -g` (Keerthi & DeCoste 2005, "A modified finite Newton method for
    fast solution of large scale linear SVMs"), followed by an exact line search. The
    (F+1) x (F+1) matrix `X_A^T X_A` is kept up to date by adding and removing the rows whose
    membership in A changed (or rebuilt from the full Gram matrix, whichever touches fewer
    rows). The system is solved by conjugate gradients preconditioned with the last Cholesky
    factorisation, and factorised anew only when they do not converge in 25 products; so a step
    costs at most one factorisation plus matmuls over the changed rows, whatever the number of
    examples. It stops with liblinear's primal criterion,
    `|g| <= tol * max(min(#pos, #neg), 1) / N * |g(w=0)|`, or when A stops changing after a
    full step (the exact minimiser of a fixed-A quadratic is the optimum).

    Use `fit_primal_path` to fit several C values, each warm-started from the previous.

    Args:
        C: Regularisation constant, as in `LinearSVC`.
        tol: Stopping tolerance, as LinearSVC's `tol` with `dual=False`. Defaults to 1e-4.
        max_iter: Most Newton steps per class and C. Defaults to 50.
    """

    def __init__(self, C=1.0, tol=1e-4, max_iter=50):
        self.C = C
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, x, y):
        """Fits on features `x` (N, F) and labels `y` (N,); returns `self`."""
        return fit_primal_path(x, y, (self.C,), self.tol, self.max_iter)[0]

    def _set(self, classes, weights, n_iter, converged):
        self.classes_ = classes
        self.coef_ = weights[:, :-1].astype(np.float32)
        self.intercept_ = weights[:, -1].astype(np.float32)
        self.n_iter_ = n_iter
        self.converged_ = converged
        return self


def fit_primal_path(x, y, c_grid, tol=1e-4, max_iter=50, init=None):
    """Fits `PrimalSquaredHingeSVC` at each C of `c_grid`, warm-starting along ascending C.

    The Gram matrix of `x` (with the intercept's constant column) is computed once and shared
    by every class and C. `x` keeps its dtype: float32 features give float32 matmuls and a
    float32 Cholesky (float64 if float32 loses definiteness); the iterate, its outputs and the
    line search are float64.

    Args:
        x: Features (N, F), float32 or float64.
        y: Labels (N,), at least two classes.
        c_grid: Regularisation constants, any order.
        tol: Stopping tolerance (see `PrimalSquaredHingeSVC`). Defaults to 1e-4.
        max_iter: Most Newton steps per class and C. Defaults to 50.
        init: `(coef, intercept)` to start from instead of zero, e.g. a solution on similar
            data (the probe's refit on the whole training split starts from the C search's).

    Returns:
        A fitted `PrimalSquaredHingeSVC` for each C, in ascending order of C.

    Raises:
        ValueError: `x` is not 2-D floating point matching `y`, or `y` has one class.
    """
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
    grid = sorted(float(c) for c in c_grid)
    gram = _augmented_gram(x, np.ones(len(x), bool))
    positives = classes[1:] if len(classes) == 2 else classes
    if init is not None and np.shape(init[0]) != (len(positives), x.shape[1]):
        raise ValueError(
            f"Expected `init` coefficients of shape {(len(positives), x.shape[1])}. "
            f"Received: shape={np.shape(init[0])}"
        )
    weights = np.zeros((len(grid), len(positives), x.shape[1] + 1))
    steps = np.zeros((len(grid), len(positives)), int)
    converged = np.ones(len(grid), bool)
    for k, positive in enumerate(positives):
        start = None if init is None else np.append(init[0][k], init[1][k])
        state = _PathState(x, np.where(y == positive, 1.0, -1.0), gram, start)
        for j, c in enumerate(grid):
            steps[j, k], done = state.solve(c, tol, max_iter)
            weights[j, k] = state.w
            converged[j] &= done
    return [
        PrimalSquaredHingeSVC(c, tol, max_iter)._set(classes, weights[j], steps[j].tolist(),
                                                     bool(converged[j]))
        for j, c in enumerate(grid)
    ]


# Rows per matmul when adding or removing examples from X_A^T X_A: bounds the gathered copy.
_CHUNK = 2048
# Systems of this dimension and up are factorised with every BLAS thread.
_THREADED_DIM = 2048


def _augmented_gram(x, rows, sign=1, out=None):
    """`[x_R, 1]^T [x_R, 1]` over the rows R where `rows` is True, added to `out` times `sign`."""
    dim = x.shape[1]
    if out is None:
        out = np.zeros((dim + 1, dim + 1), x.dtype)
    index = np.flatnonzero(rows)
    for i in range(0, len(index), _CHUNK):
        part = x[index[i:i + _CHUNK]]
        if sign > 0:
            out[:dim, :dim] += part.T @ part
        else:
            out[:dim, :dim] -= part.T @ part
        sums = sign * part.sum(axis=0, dtype=np.float64)
        out[:dim, dim] += sums.astype(x.dtype)
        out[dim, :dim] += sums.astype(x.dtype)
        out[dim, dim] += sign * len(part)
    return out


class _PathState:
    """One binary problem along the C path: the iterate, its outputs and `X_A^T X_A`."""

    def __init__(self, x, target, gram, init=None):
        self.x, self.target, self.gram = x, target, gram
        self.w = np.zeros(x.shape[1] + 1)
        self.out = np.zeros(len(x))
        self.active = np.ones(len(x), bool)  # at w = 0 every example is inside the margin
        self.hessian_part = gram.copy()  # X_A^T X_A for the current A
        self.factor = None  # the last Cholesky factorisation, kept as a preconditioner
        if init is not None:
            self.w[:] = init
            self.out = self._times(self.w)
        # liblinear's primal stopping scale: |g(0)| / C times min(#pos, #neg) / N.
        self.g0 = np.linalg.norm(self._times_transpose(target))
        self.scale = max(min(np.sum(target > 0), np.sum(target < 0)), 1) / len(target)

    def _times(self, v):
        return self.x @ v[:-1].astype(self.x.dtype) + v[-1]

    def _times_transpose(self, r):
        return np.append(self.x.T @ r.astype(self.x.dtype), r.sum())

    def _set_active(self, active):
        """Updates `X_A^T X_A` to `active` through whichever route touches fewest rows."""
        added, removed = active & ~self.active, self.active & ~active
        changes, inside = added.sum() + removed.sum(), active.sum()
        if changes <= min(inside, len(active) - inside):
            _augmented_gram(self.x, added, 1, self.hessian_part)
            _augmented_gram(self.x, removed, -1, self.hessian_part)
        elif inside <= len(active) - inside:
            self.hessian_part = _augmented_gram(self.x, active)
        else:
            self.hessian_part = self.gram.copy()
            _augmented_gram(self.x, ~active, -1, self.hessian_part)
        self.active = active

    def solve(self, c, tol, max_iter):
        """Newton steps at C = `c` from the current iterate: `(steps, converged)`."""
        from threadpoolctl import threadpool_limits

        # Below this size a factorisation is milliseconds and BLAS threads only add
        # synchronisation, which stalls for whole scheduler slices on a busy machine.
        small = len(self.hessian_part) < _THREADED_DIM
        with threadpool_limits(limits=1 if small else None, user_api="blas"):
            return self._solve(c, tol, max_iter)

    def _solve(self, c, tol, max_iter):
        factor = self.factor
        for step in range(1, max_iter + 1):
            self._set_active(self.target * self.out < 1.0)
            residual = np.where(self.active, self.out - self.target, 0.0)
            grad = self.w + 2.0 * c * self._times_transpose(residual)
            if np.linalg.norm(grad) <= tol * self.scale * 2.0 * c * self.g0:
                return step - 1, True
            direction = None
            if factor is not None:
                # Later steps (and the next C, 10x away) change the system little: the last
                # factorisation preconditions conjugate gradients on the exact system, which
                # converge in a few matrix-vector products instead of a new O(F^3)
                # factorisation (measured: 2.5x fewer factorisations over a 6-value C grid).
                direction = _conjugate_gradients(self.hessian_part, 2.0 * c, -grad, factor)
            exact = direction is None
            if exact:
                factor = self.factor = _factor_spd(self.hessian_part, 2.0 * c)
                direction = _cho_solve(factor, -grad)
            change = self._times(direction)
            t = _line_search(self.out, change, self.target, self.w @ direction,
                             direction @ direction, c)
            self.w += t * direction
            self.out += t * change
            if exact and t > 0.999 and np.array_equal(self.target * self.out < 1.0, self.active):
                return step, True
        return max_iter, False


def _factor_spd(part, scale):
    """Cholesky factor of `I + scale * part`, in `part`'s dtype where it stays definite."""
    import scipy.linalg

    for dtype in dict.fromkeys((part.dtype, np.dtype(np.float64))):
        system = part.astype(dtype)
        system *= scale
        system[np.diag_indices_from(system)] += 1.0
        try:
            return scipy.linalg.cho_factor(system, lower=True, overwrite_a=True,
                                           check_finite=False)
        except np.linalg.LinAlgError:  # float32 rounding lost definiteness at a huge C
            continue
    raise np.linalg.LinAlgError("I + 2C X_A^T X_A is not numerically positive definite")


def _cho_solve(factor, rhs):
    import scipy.linalg

    return scipy.linalg.cho_solve(factor, rhs.astype(factor[0].dtype),
                                  check_finite=False).astype(np.float64)


def _conjugate_gradients(part, scale, rhs, factor, rtol=1e-3, max_iter=25):
    """Solves `(I + scale * part) s = rhs` by CG preconditioned with `factor`; None if slow."""
    x = np.zeros_like(rhs)
    r = rhs.copy()
    z = _cho_solve(factor, r)
    p, rz = z.copy(), r @ z
    limit = rtol * np.linalg.norm(rhs)
    for _ in range(max_iter):
        hp = p + scale * (part @ p.astype(part.dtype))
        alpha = rz / (p @ hp)
        x += alpha * p
        r -= alpha * hp
        if np.linalg.norm(r) <= limit:
            return x
        z = _cho_solve(factor, r)
        rz, previous = r @ z, rz
        p = z + (rz / previous) * p
    return None


def liblinear_svc(c, seed, dual):
    """scikit-learn's `LinearSVC` for the probe's objective (the reference solver)."""
    from sklearn.svm import LinearSVC

    return LinearSVC(C=c, loss="squared_hinge", penalty="l2", dual=dual, max_iter=2000,
                     random_state=seed)


def fit_quietly(svc, x, y):
    """Fits a scikit-learn estimator; returns whether it converged (no ConvergenceWarning)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        svc.fit(x, y)
    return not any(issubclass(w.category, ConvergenceWarning) for w in caught)
