"""The linear probe: protocol, sampler, SVM, features signature, baselines and the CLI."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from dcgan_tf_cli.main import cli
from dcgan_tf.probe.protocol import (
    ProbeConfig, ProbeError, SplitError, SvmConfig, balanced_sample, choose_solver,
    evaluate_features, fit_svm, split_protocol,
)
from dcgan_tf.probe.solvers import (
    GramSquaredHingeSVC, PrimalSquaredHingeSVC, SquaredHingeSVC, WarmStart, fit_gram_path,
    fit_primal_path,
)

REPORT_KEYS = {
    "test_error_mean", "test_error_std", "accuracy_mean", "accuracy_std", "draws", "feature_dim",
    "timings", "metadata", "protocol", "sizes", "method", "dataset", "num_classes",
}


def _blobs(n, classes=10, dim=40, seed=0, spread=6.0):
    """Gaussian blobs around fixed, well separated centres: linearly separable in practice."""
    centres = np.random.default_rng(123).normal(size=(classes, dim)) * spread
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    return (centres[y] + rng.normal(size=(n, dim))).astype(np.float32), y


def test_svm_reaches_100_percent_on_separable_data_and_chance_on_shuffled_labels():
    train_x, train_y = _blobs(2000)
    test_x, test_y = _blobs(1000, seed=1)
    cfg = ProbeConfig(labels=200, validation=400, repeats=3, c_grid=(1e-3, 1e-1, 10.0))
    report = evaluate_features(train_x, train_y, test_x, test_y, 10, cfg)
    assert report["test_error_mean"] == 0.0 and report["accuracy_mean"] == 1.0
    assert len(report["draws"]) == 3 and report["sizes"]["labelled"] == 200

    # Shuffled training labels carry no information: anything better than chance would mean
    # the labelled, validation and test splits leak into each other.
    shuffled = np.random.default_rng(7).permutation(train_y)
    report = evaluate_features(train_x, shuffled, test_x, test_y, 10, cfg)
    assert abs(report["accuracy_mean"] - 0.1) < 0.04


def test_all_labels_protocol_refits_on_the_whole_training_split():
    train_x, train_y = _blobs(600, classes=3, dim=5)
    test_x, test_y = _blobs(300, classes=3, dim=5, seed=1)
    cfg = ProbeConfig(labels=None, validation=100, repeats=2, c_grid=(0.1,))
    report = evaluate_features(train_x, train_y, test_x, test_y, 3, cfg)
    assert report["sizes"] == {"train": 600, "test": 300, "validation": 100, "labelled": 600}
    assert report["test_error_mean"] == 0.0


def test_balanced_sampler_is_exact_and_disjoint_from_validation():
    labels = np.random.default_rng(0).integers(0, 10, 5000)
    rng = np.random.default_rng(1)
    validation = rng.choice(5000, 1000, replace=False)
    chosen = balanced_sample(labels, 300, rng, exclude=validation, num_classes=10)
    assert len(chosen) == len(np.unique(chosen)) == 300
    assert np.bincount(labels[chosen], minlength=10).tolist() == [30] * 10
    assert not np.intersect1d(chosen, validation).size

    with pytest.raises(SplitError, match="multiple of the 10 classes"):
        balanced_sample(labels, 305, rng, num_classes=10)
    with pytest.raises(SplitError, match="Class 1 has 2"):
        balanced_sample(np.array([0] * 50 + [1] * 2), 20, rng, num_classes=2)


def test_split_protocol_draws_are_disjoint_repeatable_and_capped():
    labels = np.repeat(np.arange(10), 150)  # 1500 examples, like digits' 1437
    cfg = ProbeConfig(labels=200, validation=10_000, repeats=4, seed=3)
    draws, notes = split_protocol(labels, 10, cfg)
    assert len(draws[0].validation) == 300 and "capped at 20%" in notes[0]
    for d in draws:
        assert not np.intersect1d(d.labelled, d.validation).size
        assert np.bincount(labels[d.labelled]).tolist() == [20] * 10
        assert np.array_equal(d.validation, draws[0].validation)
    assert not np.array_equal(draws[0].labelled, draws[1].labelled)
    # Draw k does not depend on how many repeats are asked for.
    again, _ = split_protocol(labels, 10, ProbeConfig(labels=200, repeats=2, seed=3))
    assert np.array_equal(again[1].labelled, draws[1].labelled)
    with pytest.raises(SplitError, match="exceed the 1500 training examples"):
        split_protocol(labels, 10, ProbeConfig(labels=1300, validation=300))


@pytest.mark.parametrize("classes, dim", [(2, 300), (4, 300), (4, 20)])
def test_newton_solver_matches_linearsvc(classes, dim):
    # The dual Newton solver solves LinearSVC's problem: same solution.
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    x, y = _blobs(400, classes=classes, dim=dim, spread=0.15 if dim > 100 else 0.5)
    for c in (1e-3, 1.0):
        clf, _, _, search = fit_svm(x[:100], y[:100], (x[100:200], y[100:200]),
                                    SvmConfig(c_grid=(c,), solver="newton"))
        assert isinstance(clf.svm, SquaredHingeSVC) and search[0]["converged"]
        scaler = StandardScaler().fit(x[:100])
        reference = LinearSVC(C=c, dual=dim > 100, tol=1e-8, max_iter=100_000, random_state=0)
        reference.fit(scaler.transform(x[:100]), y[:100])
        expected = reference.decision_function(scaler.transform(x[200:]))
        np.testing.assert_allclose(clf.decision_function(x[200:]), expected, atol=2e-3)
        assert np.mean(clf.predict(x[200:]) == reference.predict(scaler.transform(x[200:]))) > 0.99


@pytest.mark.parametrize("classes, dim", [(2, 300), (4, 300), (3, 60)])
def test_gram_solver_matches_linearsvc_and_the_dual_newton_solver(classes, dim):
    # Fewer examples than features (the 400-per-class probe's shape): the primal solver in
    # the Gram matrix's eigenbasis solves LinearSVC's problem, at every C of a warm path.
    from sklearn.svm import LinearSVC

    x, y = _overlapping(200, classes, dim, seed=classes)
    x, test = x[:100], x[100:]
    grid = (1e-3, 0.1, 10.0)
    fitted = fit_gram_path(x, y[:100], grid[::-1], tol=1e-10)  # any order: fitted ascending
    for svc, c in zip(fitted, grid):
        assert isinstance(svc, GramSquaredHingeSVC) and svc.C == c and svc.converged_
        reference = LinearSVC(C=c, dual=True, tol=1e-10, max_iter=200_000).fit(x, y[:100])
        np.testing.assert_allclose(svc.decision_function(test),
                                   reference.decision_function(test), atol=2e-3)
        dual = SquaredHingeSVC(c).fit(x, y[:100])
        np.testing.assert_allclose(svc.coef_, dual.coef_, atol=1e-4)
        np.testing.assert_allclose(svc.intercept_, dual.intercept_, atol=1e-4)
    # Rank-deficient features (duplicated examples): the null directions are dropped.
    twice = np.concatenate([x, x])
    doubled = fit_gram_path(twice, np.concatenate([y[:100]] * 2), (0.1,), tol=1e-10)[0]
    reference = LinearSVC(C=0.1, dual=True, tol=1e-10, max_iter=200_000)
    reference.fit(twice, np.concatenate([y[:100]] * 2))
    np.testing.assert_allclose(doubled.decision_function(test),
                               reference.decision_function(test), atol=2e-3)
    with pytest.raises(ValueError, match="at least 2 classes"):
        fit_gram_path(x, np.zeros(len(x)), (1.0,))
    with pytest.raises(ValueError, match="Expected `x` to be a float32 or float64"):
        fit_gram_path(x.astype(int), y[:100], (1.0,))


def test_auto_picks_the_gram_solver_below_f_examples_and_agrees_with_liblinear():
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    x, y = _blobs(400, classes=4, dim=300, spread=0.15)
    clf, c, _, search = fit_svm(x[:100], y[:100], (x[100:200], y[100:200]),
                                SvmConfig(c_grid=(1e-3, 1.0)))
    assert isinstance(clf.svm, GramSquaredHingeSVC) and all(s["converged"] for s in search)
    scaler = StandardScaler().fit(x[:100])
    reference = LinearSVC(C=c, dual=True, tol=1e-8, max_iter=100_000, random_state=0)
    reference.fit(scaler.transform(x[:100]), y[:100])
    agree = np.mean(clf.predict(x[200:]) == reference.predict(scaler.transform(x[200:])))
    assert agree > 0.99


def _overlapping(n, classes, dim, seed=0):
    """Standardised float64 blobs that overlap: many examples inside the margin at any C."""
    x, y = _blobs(n, classes=classes, dim=dim, seed=seed, spread=0.4)
    x = x.astype(np.float64)
    return (x - x.mean(0)) / x.std(0), y


@pytest.mark.parametrize("classes, dim", [(2, 30), (3, 30), (10, 60)])
def test_primal_solver_matches_linearsvc_run_to_convergence(classes, dim):
    # Same objective as LinearSVC (squared hinge, L2 penalty, regularised intercept,
    # one-vs-rest): liblinear's primal solver run to a tight tolerance is the reference.
    from sklearn.svm import LinearSVC

    x, y = _overlapping(600, classes, dim)
    grid = (1e-3, 0.1, 10.0)
    fitted = fit_primal_path(x[:400], y[:400], grid, tol=1e-10)
    for c, svc in zip(grid, fitted):
        reference = LinearSVC(C=c, dual=False, tol=1e-10, max_iter=100_000).fit(x[:400], y[:400])
        assert svc.C == c and svc.converged_
        np.testing.assert_allclose(svc.coef_, reference.coef_, atol=1e-5)
        np.testing.assert_allclose(svc.intercept_, reference.intercept_, atol=1e-5)
        np.testing.assert_allclose(svc.decision_function(x[400:]),
                                   reference.decision_function(x[400:]), atol=1e-5)
        assert np.array_equal(svc.predict(x[400:]), reference.predict(x[400:]))


def test_primal_solver_on_correlated_features_matches_linearsvc_and_rotates_only_on_request():
    # Conv features are strongly correlated (an ill-conditioned X^T X): a low-rank part with
    # scales over two decades, plus noise. liblinear run to a tight tolerance is the reference.
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(7)
    n, dim = 700, 80
    y = rng.integers(0, 4, n)
    loadings = rng.normal(size=(10, dim)) * np.logspace(1, -1, 10)[:, None]
    x = rng.normal(size=(n, 10)) @ loadings + 0.05 * rng.normal(size=(n, dim))
    x += rng.normal(size=(4, dim))[y] * 0.3
    x = (x - x.mean(0)) / x.std(0)
    original = x.copy()
    for c in (0.01, 1.0):
        svc = PrimalSquaredHingeSVC(C=c, tol=1e-10).fit(x, y)
        reference = LinearSVC(C=c, dual=False, tol=1e-10, max_iter=100_000).fit(x, y)
        assert svc.converged_
        np.testing.assert_allclose(svc.decision_function(x), reference.decision_function(x),
                                   atol=1e-4)
    np.testing.assert_array_equal(x, original)  # not written to without `overwrite`
    rotated = fit_primal_path(x, y, (1.0,), tol=1e-10, overwrite=True)[0]
    assert not np.allclose(x, original)  # rotated in place: the caller's copy is gone
    np.testing.assert_allclose(rotated.decision_function(original),
                               svc.decision_function(original), atol=1e-6)


def test_primal_objective_is_minimal_and_float32_agrees():
    # Independent check of optimality: the objective's gradient, written out in NumPy, vanishes.
    x, y = _overlapping(500, 3, 20, seed=2)
    svc = PrimalSquaredHingeSVC(C=0.5, tol=1e-10).fit(x, y)
    xa = np.hstack([x, np.ones((len(x), 1))])
    for k, cls in enumerate(svc.classes_):
        w = np.append(svc.coef_[k], svc.intercept_[k]).astype(np.float64)
        t = np.where(y == cls, 1.0, -1.0)
        margin = np.maximum(0.0, 1.0 - t * (xa @ w))
        grad = w - 2 * 0.5 * xa.T @ (t * margin)
        assert np.linalg.norm(grad) < 1e-4 * np.linalg.norm(2 * 0.5 * xa.T @ t)
    # float32 features (the probe's) run float32 matmuls: same answer.
    single = PrimalSquaredHingeSVC(C=0.5).fit(x.astype(np.float32), y)
    assert single.converged_
    np.testing.assert_allclose(single.decision_function(x), svc.decision_function(x), atol=2e-3)


def test_primal_warm_start_along_c_equals_cold_start():
    x, y = _overlapping(500, 4, 25, seed=3)
    grid = (1e-4, 1e-2, 1.0, 100.0)
    path = fit_primal_path(x, y, grid[::-1], tol=1e-10)  # any order: fitted ascending
    assert [svc.C for svc in path] == list(grid)
    for c, warm in zip(grid, path):
        cold = PrimalSquaredHingeSVC(C=c, tol=1e-10).fit(x, y)
        np.testing.assert_allclose(warm.decision_function(x), cold.decision_function(x),
                                   atol=1e-5)
    # Starting from another solution (the refit's start) converges to the same one.
    start = (path[0].coef_, path[0].intercept_)
    restarted = fit_primal_path(x, y, (1.0,), tol=1e-10, init=WarmStart(*start))[0]
    np.testing.assert_allclose(restarted.decision_function(x), path[2].decision_function(x),
                               atol=1e-5)
    with pytest.raises(ValueError, match="Expected `init` coefficients of shape"):
        fit_primal_path(x, y, (1.0,), init=WarmStart(path[0].coef_[:2], path[0].intercept_[:2]))
    # Warm starts save Newton steps at the larger C values.
    assert sum(map(sum, (s.n_iter_ for s in path[1:]))) < sum(
        sum(PrimalSquaredHingeSVC(C=c, tol=1e-10).fit(x, y).n_iter_) for c in grid[1:])


def test_dual_newton_warm_start_along_c_equals_cold_start():
    x, y = _overlapping(300, 4, 400, seed=4)  # features outnumber examples: the dual's case
    gram = x @ x.T + 1.0
    previous, warm_steps, cold_steps = None, 0, 0
    for c in (1e-4, 1e-2, 1.0):
        warm = SquaredHingeSVC(c).fit(x, y, gram=gram, init=previous)
        cold = SquaredHingeSVC(c).fit(x, y, gram=gram)
        assert warm.converged_ and cold.converged_
        np.testing.assert_allclose(warm.decision_function(x), cold.decision_function(x), atol=1e-6)
        if previous is not None:
            warm_steps, cold_steps = warm_steps + sum(warm.n_iter_), cold_steps + sum(cold.n_iter_)
        previous = warm
    assert warm_steps < cold_steps


def test_primal_one_vs_rest_agrees_with_binary_problems():
    # Multi-class = one binary problem per class against the rest, each with its own intercept.
    x, y = _overlapping(450, 3, 15, seed=4)
    multi = PrimalSquaredHingeSVC(C=0.3, tol=1e-10).fit(x, y)
    for k in range(3):
        binary = PrimalSquaredHingeSVC(C=0.3, tol=1e-10).fit(x, (y == k).astype(int))
        np.testing.assert_allclose(multi.decision_function(x)[:, k],
                                   binary.decision_function(x), atol=1e-5)
    assert np.array_equal(multi.predict(x), np.argmax(multi.decision_function(x), axis=1))
    with pytest.raises(ValueError, match="at least 2 classes"):
        fit_primal_path(x, np.zeros(len(x)), (1.0,))
    with pytest.raises(ValueError, match="Expected `x` to be a float32 or float64"):
        fit_primal_path(x.astype(int), y, (1.0,))


def test_auto_solver_takes_the_smaller_exact_system_and_standardises_in_place_only_on_request():
    assert choose_solver("auto", 45_000, 7168) == "primal"
    assert choose_solver("auto", 4000, 7168) == "gram"
    assert choose_solver("auto", 9000, 20_000) == "gram"
    assert choose_solver("auto", 7168, 7168) == "gram"
    assert choose_solver("newton", 45_000, 7168) == "newton"
    x, y = _overlapping(600, 3, 20, seed=5)
    x = x.astype(np.float32) * 3 + 1
    train, val = x[:400].copy(), x[400:].copy()
    clf, c, _, search = fit_svm(train, y[:400], (val, y[400:]), SvmConfig(c_grid=(0.01, 1.0)))
    assert isinstance(clf.svm, PrimalSquaredHingeSVC) and all(s["converged"] for s in search)
    np.testing.assert_array_equal(train, x[:400])
    same, same_c, _, _ = fit_svm(train, y[:400], (val, y[400:]), SvmConfig(c_grid=(0.01, 1.0)),
                                 overwrite=True)
    assert same_c == c and abs(train.mean()) < 1e-3  # standardised in place
    test = x[:50].copy()
    np.testing.assert_allclose(same.decision_function(test), clf.decision_function(x[:50]),
                               atol=1e-4)
    np.testing.assert_array_equal(test, x[:50])  # scoring never writes to its input
    # The refit's warm start: weights carried to another scaler give the same decisions.
    other = fit_svm(x[100:], y[100:], (val, y[400:]), SvmConfig(c_grid=(c,)))[0].scaler
    coef, intercept = clf.weights_for(other)
    carried = other.transform(x) @ coef.T + intercept
    np.testing.assert_allclose(carried, clf.decision_function(x), atol=1e-4)


def test_svm_search_shows_progress_over_the_c_values_only_on_request(capsys):
    # An all-labels search takes minutes per C: the bar says which C it is on.
    x, y = _overlapping(600, 3, 20, seed=6)
    x = x.astype(np.float32)
    fit_svm(x[:400], y[:400], (x[400:], y[400:]), SvmConfig(c_grid=(0.01, 1.0)))
    assert "svm C" not in capsys.readouterr().err
    fit_svm(x[:400], y[:400], (x[400:], y[400:]), SvmConfig(c_grid=(0.01, 1.0)), progress=True)
    assert "svm C path" in capsys.readouterr().err  # the primal solver's path
    fit_svm(x[:100], y[:100], (x[400:], y[400:]), SvmConfig(c_grid=(0.01, 1.0), solver="newton"),
            progress=True)
    assert "svm C:" in capsys.readouterr().err


def test_config_rejects_bad_values():
    with pytest.raises(ProbeError, match="labels"):
        ProbeConfig(labels=0)
    with pytest.raises(ProbeError, match="c_grid"):
        ProbeConfig(c_grid=())
    with pytest.raises(ProbeError, match="repeats"):
        ProbeConfig(repeats=0)
    with pytest.raises(ProbeError, match="solver"):
        ProbeConfig(solver="sgd")
    with pytest.raises(ProbeError, match="cache_max_gb"):
        ProbeConfig(cache_max_gb=0)
    assert ProbeConfig(solver="primal").solver == "primal"


@pytest.mark.parametrize(
    "args, message, code",
    [
        # Refused while the flags are parsed (usage errors, exit 2), before any work.
        (["--dataset", "imagenet", "--baseline", "pixels"], "'imagenet' is not one of", 2),
        (["--dataset", "digits", "--labels", "lots", "--baseline", "pixels"], "--labels", 2),
        (["--dataset", "celeb_a", "--baseline", "pixels"], "Unknown dataset 'celeb_a'", 1),
        (["--dataset", "digits", "--baseline", "pixels", "--labels", "205"],
         "multiple of the 10 classes", 1),
        (["--dataset", "digits"], "--model is required", 1),
    ],
)
def test_cli_bad_input_is_one_line(args, message, code, tmp_path):
    result = CliRunner().invoke(cli, ["probe", "--quiet", "--cache-dir", str(tmp_path), *args])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.strip().splitlines() if line]
    assert message in lines[-1] and lines[-1].startswith("Error: ")
    assert len(lines) == (1 if code == 1 else 3)  # Usage errors: usage, hint, error.


def test_cli_not_a_savedmodel_is_one_line(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    for path, message in ((tmp_path, "is not a SavedModel"), (run, "export it first")):
        result = CliRunner().invoke(
            cli, ["probe", "--quiet", "--model", str(path), "--dataset", "digits"]
        )
        assert result.exit_code == 1 and message in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_cli_pixels_baseline_on_digits_writes_the_report(tmp_path):
    out = tmp_path / "r.json"
    result = CliRunner().invoke(cli, [
        "probe", "--quiet", "--dataset", "digits", "--baseline", "pixels", "--labels", "100",
        "--validation", "200", "--repeats", "2", "--c-grid", "1e-3,1e-1", "--json", str(out),
    ])
    assert result.exit_code == 0, result.output
    assert "test error" in result.output
    report = json.loads(out.read_text())
    assert REPORT_KEYS <= set(report) and report["feature_dim"] == 64
    assert report["test_error_mean"] < 0.2  # raw pixels do well on digits


def _fashion_mnist_installed():
    from dcgan_tf.data.datasets import DataError, load_split

    try:
        load_split("fashion_mnist", "test")
    except DataError:
        return False
    return True


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A DCGAN trained briefly on real data and exported through `dcgan_tf.export.savedmodel`.

    Fashion-MNIST where installed (Debian's `dataset-fashion-mnist`): 3000 steps of a narrow
    model (about a minute) give features 0.7-1.4 points better than random ones, several
    test-set standard errors. Otherwise digits, where random conv features are nearly as good
    (the margin is thinner: about 0.5 points on 360 test images).
    """
    from dcgan_tf.config import ModelConfig, TrainConfig
    from dcgan_tf.export.savedmodel import export_savedmodel
    from dcgan_tf.training.run import train

    root = tmp_path_factory.mktemp("probe")
    run = str(root / "run")
    forced = os.environ.get("DCGAN_TF_PROBE_TEST_DATASET")  # "digits" tests the fallback
    if forced != "digits" and (forced == "fashion_mnist" or _fashion_mnist_installed()):
        dataset, steps, width = "fashion_mnist", 3000, 16
        args = ["--labels", "1000", "--validation", "2000", "--repeats", "2"]
    else:
        dataset, steps, width = "digits", 300, 32
        args = ["--labels", "200", "--validation", "300", "--repeats", "3"]
    train(TrainConfig(out=run, dataset=dataset, max_steps=steps, batch_size=64, recipe="paper"),
          ModelConfig(image_size=32, channels=1, ngf=width, ndf=width), verbose=0)
    model = export_savedmodel(run, str(root / "savedmodels"), name=dataset)
    return {"model": model, "root": root, "dataset": dataset, "steps": steps, "width": width,
            "args": args}


@pytest.mark.slow
def test_features_signature_is_cached(digits_export, tmp_path):
    from dcgan_tf.data.datasets import load_split
    from dcgan_tf.probe.run import extract_features

    (_, model), width = digits_export, 16
    images = load_split("digits", "test").images[:100]
    first = extract_features(model, images, batch_size=32, cache_dir=str(tmp_path), tag="t")
    assert first.shape == (100, 16 * 7 * width) and first.dtype == np.float32  # 4x4 x (1+2+4)w
    cached = os.listdir(tmp_path / "features")
    assert len(cached) == 1 and cached[0].startswith("t-")
    again = extract_features(model, images, batch_size=7, cache_dir=str(tmp_path), tag="t")
    np.testing.assert_array_equal(first, again)
    # Other data, other cache entry; the same images in another batch size, same features.
    extract_features(model, images[:50], cache_dir=str(tmp_path), tag="t")
    assert len(os.listdir(tmp_path / "features")) == 2
    np.testing.assert_allclose(extract_features(model, images, batch_size=7), first, atol=1e-5)
    # A cache capped below one entry keeps only the entry just written.
    third = extract_features(model, images[:30], cache_dir=str(tmp_path), tag="t",
                             cache_max_gb=1e-9)
    remaining = os.listdir(tmp_path / "features")
    assert len(remaining) == 1
    assert np.load(tmp_path / "features" / remaining[0])["features"].shape == third.shape


def test_feature_cache_deletes_least_recently_used_first(tmp_path):
    from dcgan_tf.probe import cache

    paths = [tmp_path / f"f{i}.npy" for i in range(4)]
    for i, path in enumerate(paths):
        path.write_bytes(b"x" * 1000)
        os.utime(path, (1000 + i, 1000 + i))
    # Not a cache entry: never counted or deleted.
    (tmp_path / "notes.txt").write_bytes(b"x" * 5000)
    cache.touch(paths[0])  # A hit: f0 becomes the most recently used.
    removed = cache.prune(tmp_path, 2500, keep=[paths[1]])
    # Oldest first: f1 (kept), then f2 and f3 go; 2000 bytes <= 2500 remain.
    assert [os.path.basename(p) for p in removed] == ["f2.npy", "f3.npy"]
    assert sorted(os.listdir(tmp_path)) == ["f0.npy", "f1.npy", "notes.txt"]
    assert cache.prune(tmp_path, 2500) == []


@pytest.mark.slow
def test_end_to_end_probe_beats_random_baseline_and_writes_complete_json(trained):
    from dcgan_tf.data.datasets import load_split

    root = trained["root"]
    common = ["probe", "--quiet", "--dataset", trained["dataset"], *trained["args"],
              "--c-grid", "1e-4,1e-3,1e-2,1e-1", "--cache-dir", str(root / "cache")]
    runner = CliRunner()
    reports = {}
    for baseline in ("none", "random"):
        out = root / f"{baseline}.json"
        result = runner.invoke(cli, [*common, "--classifier", "svm", "--model", trained["model"],
                                     "--baseline", baseline, "--json", str(out)])
        assert result.exit_code == 0, result.output
        reports[baseline] = json.loads(out.read_text())
    dcgan, random = reports["none"], reports["random"]
    assert REPORT_KEYS <= set(dcgan) and REPORT_KEYS <= set(random)
    assert dcgan["method"] == "dcgan" and random["method"] == "random"
    assert dcgan["metadata"]["model"]["ndf"] == trained["width"]
    assert dcgan["metadata"]["step"] == trained["steps"] and random["metadata"]["step"] == 0
    assert random["feature_dim"] == dcgan["feature_dim"] == 16 * 7 * trained["width"]
    assert {"C", "solver", "val_error", "test_error", "search"} <= set(dcgan["draws"][0])
    assert dcgan["sizes"]["test"] == len(load_split(trained["dataset"], "test"))
    assert dcgan["test_error_mean"] < random["test_error_mean"], (
        dcgan["test_error_mean"], random["test_error_mean"])


@pytest.mark.slow
def test_supervised_baseline_reports_like_the_probe(tmp_path):
    from dcgan_tf.probe.baselines import SupervisedConfig, supervised_baseline
    from dcgan_tf.config import ModelConfig

    cfg = ProbeConfig(labels=100, validation=200, repeats=2, cache_dir=str(tmp_path))
    sup = SupervisedConfig(lrs=(1e-3,), dropouts=(0.0, 0.5), max_epochs=6, eval_every=3)
    report = supervised_baseline("digits", None, ModelConfig(ndf=16, ngf=16), cfg, sup)
    assert REPORT_KEYS <= set(report) and report["method"] == "supervised"
    assert len(report["draws"]) == 2 and len(report["draws"][0]["search"]) == 2
    assert set(report["draws"][0]["hparams"]) == {"lr", "dropout", "epochs"}
    assert report["test_error_mean"] < 0.5  # well above chance (90% error) after 6 epochs


def test_labels_are_fitted_to_the_smallest_class_outside_validation():
    # 10 classes of 150, except class 2 with 110: 1000 labels need 100 per class.
    labels = np.repeat(np.arange(10), 150)
    labels = np.concatenate([labels[labels != 2], np.full(110, 2)])
    cfg = ProbeConfig(labels=1000, validation=250, repeats=2, seed=0)
    draws, notes = split_protocol(labels, 10, cfg)
    validation = draws[0].validation
    outside = np.bincount(np.delete(labels, validation), minlength=10)
    per_class = min(outside.min(), 100)
    assert per_class < 100  # the case the note is about
    for d in draws:
        assert np.bincount(labels[d.labelled], minlength=10).tolist() == [per_class] * 10
    assert notes[-1] == (f"labels {per_class * 10}, not 1000: {per_class} per class, as many as "
                         f"class 2 has outside the validation set")
    # Labels that fit are drawn as asked, without a note.
    draws, notes = split_protocol(labels, 10, ProbeConfig(labels=500, validation=250, repeats=1))
    assert len(draws[0].labelled) == 500 and notes == []
