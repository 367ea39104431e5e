"""Scoring: statistics against closed forms and independent computations, feature spaces, CLI."""

import hashlib
import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from dcgan_tf.metrics import stats
from dcgan_tf.metrics.features import ClassifierConfig, ScoringError
from dcgan_tf.scoring.score import ScoreConfig, score_savedmodel

TINY = ClassifierConfig(epochs=1, width=8)


def _trace_sqrt_product(s1, s2):
    """Tr((s1 s2)^(1/2)) = Tr((s1^(1/2) s2 s1^(1/2))^(1/2)), by symmetric eigendecompositions."""
    w, v = np.linalg.eigh(s1)
    root = v @ np.diag(np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root @ s2 @ root)
    return np.sqrt(np.clip(inner, 0, None)).sum()


def _random_cov(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def test_fid_matches_closed_form_for_gaussians():
    rng = np.random.default_rng(0)
    d = 6
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    s1, s2 = _random_cov(rng, d), _random_cov(rng, d)
    closed = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * _trace_sqrt_product(s1, s2)
    assert stats.fid_from_moments(mu1, s1, mu2, s2) == pytest.approx(closed, rel=1e-8)
    # Diagonal covariances: sum of (sqrt(a) - sqrt(b))^2 plus the squared mean distance.
    a, b = rng.uniform(0.5, 2, d), rng.uniform(0.5, 2, d)
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert stats.fid_from_moments(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected)
    # From samples: converges to the population value.
    x = rng.multivariate_normal(mu1, s1, 50_000)
    y = rng.multivariate_normal(mu2, s2, 50_000)
    assert stats.fid(x, y) == pytest.approx(closed, rel=0.03)
    assert stats.fid(x, x) == pytest.approx(0, abs=1e-6)


def _mmd2_loops(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, written as explicit pair sums."""
    d = x.shape[1]

    def k(a, b):
        return (np.dot(a, b) / d + 1) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_matches_pairwise_sums():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((30, 5)), rng.standard_normal((30, 5)) + 0.5
    expected = _mmd2_loops(x, y)
    # Subsets of every row: each draw is a permutation, which MMD does not see.
    mean, std = stats.kid(x, y, subsets=3, subset_size=1000)
    assert mean == pytest.approx(expected, rel=1e-10) and std == pytest.approx(0, abs=1e-12)
    # Unbiased: two samples of one distribution average to about 0; a shift does not.
    same = stats.kid(rng.standard_normal((2000, 8)), rng.standard_normal((2000, 8)), 50, 200)
    shifted = stats.kid(rng.standard_normal((2000, 8)), rng.standard_normal((2000, 8)) + 1, 50, 200)
    assert abs(same[0]) < 3 * same[1] / np.sqrt(50) + 1e-3
    assert shifted[0] > 10 * same[1]


def test_precision_recall_on_constructed_points():
    real = np.arange(10.0)[:, None]  # radii (3rd neighbour): 3 at the ends, 2 inside
    fake = np.concatenate([np.arange(5.0), np.arange(50.0, 55.0)])[:, None]
    # Half of the fakes lie near the reals; the fake balls around 0..4 reach 7.
    assert stats.precision_recall(real, fake, k=3) == (0.5, 0.8)


def test_precision_recall_matches_brute_force():
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(2)
    real, fake = rng.standard_normal((300, 4)), rng.standard_normal((200, 4)) * 1.5 + 0.3

    def covered(manifold, queries, k):
        radius = NearestNeighbors(n_neighbors=k + 1).fit(manifold).kneighbors(manifold)[0][:, k]
        dist = np.linalg.norm(queries[:, None, :] - manifold[None, :, :], axis=2)
        return float(np.mean((dist <= radius[None, :]).any(1)))

    precision, recall = stats.precision_recall(real, fake, k=3)
    assert precision == pytest.approx(covered(real, fake, 3))
    assert recall == pytest.approx(covered(fake, real, 3))


def test_statistics_reject_bad_shapes():
    with pytest.raises(ValueError, match=r"Expected `fake` to be features of shape \(N >= 2, 3\)"):
        stats.fid(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="Expected `k` in"):
        stats.precision_recall(np.zeros((3, 2)), np.zeros((3, 2)), k=3)
    with pytest.raises(ValueError, match="Expected `feature_space`"):
        ScoreConfig(feature_space="pixels")


def test_score_in_classifier_space(digits_export, tmp_path):
    _, model = digits_export
    cfg = ScoreConfig(n=200, kid_subsets=5, kid_subset_size=100, cache_dir=str(tmp_path),
                      classifier=TINY)
    report = score_savedmodel(model, "digits", cfg=cfg)
    assert report["feature_space"]["name"] == "classifier" and report["n"] == 200
    assert report["feature_dim"] == 32 and len(report["feature_space"]["weights_sha256"]) == 64
    assert report["fid"] > 0 and 0 <= report["precision"] <= 1 and 0 <= report["recall"] <= 1
    assert report["seeds"]["generator"] == [0, 199]
    again = score_savedmodel(model, "digits", cfg=cfg)  # the cached classifier, same figures
    assert again["feature_space"]["weights_sha256"] == report["feature_space"]["weights_sha256"]
    assert again["fid"] == pytest.approx(report["fid"], rel=1e-6)


def test_classifier_space_separates_held_out_digits(tmp_path):
    """The space a score is computed in must know the classes on images it did not train on:
    a nearest-class-mean rule in NumPy on its features of the held-out digits."""
    from dcgan_tf.data.datasets import load_split
    from dcgan_tf.metrics.features import classifier_space

    train, test = load_split("digits", "train"), load_split("digits", "test")
    space = classifier_space(train, ClassifierConfig(epochs=10, width=8), str(tmp_path))
    assert space.info["heldout_accuracy"] > 0.8
    feats, test_feats = space.embed(train.images), space.embed(test.images)
    means = np.stack([feats[train.labels == k].mean(0) for k in range(10)])
    nearest = np.argmin(((test_feats[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    assert np.mean(nearest == test.labels) > 0.8


@pytest.mark.bf16
def test_bf16_trained_space_embeds_in_float32_and_a_large_split_trains_max_steps(tmp_path):
    """The classifier trains in bf16 where asked, but the space scores in float32 (bf16's
    8-bit mantissa would coarsen FID's statistics); a split larger than `max_steps` batches
    trains one pass over a random `max_steps * batch_size` of it."""
    import keras

    from dcgan_tf.data.datasets import load_split
    from dcgan_tf.metrics.features import ScoringError, _training_dtype, classifier_space

    train = load_split("digits", "train")
    cfg = ClassifierConfig(epochs=3, width=8, max_steps=4, batch_size=64, precision="bf16")
    assert _training_dtype(cfg) == "mixed_bfloat16"
    space = classifier_space(train, cfg, str(tmp_path))
    # 1,437 digits, 10% held out: 1,294 examples would be 21 batches; 4 batches of 64 are.
    assert space.info["train_examples"] == 4 * 64 and space.info["epochs"] == 1
    assert all(w.dtype == "float32" for w in space.model.weights)
    assert {layer.dtype_policy.name for layer in space.model.layers[1].layers} == {"float32"}
    feats = space.embed(train.images[:20])
    rounded = keras.ops.convert_to_numpy(keras.ops.cast(keras.ops.cast(feats, "bfloat16"), "float64"))
    assert np.abs(feats - rounded).max() > 1e-4  # finer than bf16 could carry
    with pytest.raises(ScoringError, match="precision"):
        ClassifierConfig(precision="fp16")
    with pytest.raises(ScoringError, match="schedule"):
        ClassifierConfig(schedule="step")


def test_inception_space_with_a_random_weights_file(digits_export, tmp_path):
    """Exercises the inception path offline with RANDOMLY INITIALISED weights (no ImageNet
    weights here): the figures mean nothing, the plumbing (file, 299x299 RGB, 2048-d) is real."""
    import keras

    weights = str(tmp_path / "inception_random.weights.h5")
    keras.applications.InceptionV3(include_top=False, pooling="avg", weights=None,
                                   input_shape=(299, 299, 3)).save_weights(weights)
    cfg = ScoreConfig(n=12, feature_space="inception", inception_weights=weights, kid_subsets=2,
                      kid_subset_size=10, batch_size=12)
    report = score_savedmodel(digits_export[1], "digits", cfg=cfg)
    assert report["feature_dim"] == 2048 and report["feature_space"]["input_size"] == 299
    assert np.isfinite(report["fid"]) and report["feature_space"]["weights"] == weights
    with pytest.raises(ScoringError, match="Inception weights file not found"):
        score_savedmodel(digits_export[1], "digits", cfg=ScoreConfig(
            n=12, feature_space="inception", inception_weights=str(tmp_path / "none.h5")))


def _invoke(*args):
    from dcgan_tf_cli.main import cli

    return CliRunner().invoke(cli, ["score", "--quiet", *args])


def test_cli_writes_json(digits_export, tmp_path):
    out = tmp_path / "score.json"
    result = _invoke("--model", digits_export[1], "--dataset", "digits", "--n", "300",
                     "--kid-subsets", "3", "--kid-subset-size", "100", "--classifier-epochs", "2", "--cache-dir",
                     str(tmp_path), "--json", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    assert "FID" in result.output and "classifier space" in result.output
    report = json.loads(out.read_text())
    assert report["n"] == 300 and report["feature_space"]["name"] == "classifier"


def test_cli_progress_shows_an_eta_and_leaks_no_warnings(digits_export, tmp_path):
    """`score` without --quiet: the classifier's training is one bar over all its steps with an
    ETA (not Keras' line per epoch on stdout), the stage line reads cleanly, and no library
    warning (Keras' `shuffle=True was passed, but will be ignored`) reaches the user."""
    import re
    import warnings

    from dcgan_tf_cli.main import cli

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CliRunner().invoke(cli, [
            "score", "--model", digits_export[1], "--dataset", "digits", "--n", "100",
            "--kid-subsets", "3", "--classifier-epochs", "2", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    # Python hides these categories by default; every other one would reach the user.
    hidden = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)
    assert [str(w.message) for w in caught if not issubclass(w.category, hidden)] == []
    assert "Warning" not in result.stderr
    # 1,437 training digits, 10% held out: 11 batches of 128 an epoch, 2 epochs.
    assert re.search(r"classifier space: +\d+%\|.*\| \d+/22 steps \[\d\d:\d\d<\d\d:\d\d",
                     result.stderr), result.stderr
    assert "score, stage 2/5: classifier feature space" in result.stderr
    assert ": :" not in result.stderr
    assert result.stdout.startswith("FID") and "Epoch" not in result.output


def _one_line_error(result, start):
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert result.output.startswith(f"Error: {start}"), result.output


def test_cli_errors(digits_export, tmp_path):
    import tensorflow as tf

    module = tf.Module()
    module.f = tf.function(lambda x: {"y": x * 2}, input_signature=[tf.TensorSpec([None], tf.float32)])
    no_sample = str(tmp_path / "no_sample")
    tf.saved_model.save(module, no_sample, signatures={"serving_default": module.f})
    _one_line_error(_invoke("--model", no_sample, "--dataset", "digits", "--n", "10"),
                    f"{no_sample} has no `sample` signature")
    _one_line_error(_invoke("--model", digits_export[1], "--dataset", "digits", "--n", "5000"),
                    "Expected `n` <= 360")
    unlabelled = str(tmp_path / "u.npz")
    np.savez(unlabelled, x=np.zeros((40, 32, 32, 1), np.uint8))
    _one_line_error(_invoke("--model", digits_export[1], "--dataset", "npz", "--data-dir",
                            unlabelled, "--n", "10"), "npz")
    result = _invoke("--model", digits_export[1], "--dataset", "npz", "--data-dir", unlabelled,
                     "--n", "10")
    assert "--feature-space inception --inception-weights FILE" in result.output
    assert "a `y` key" in result.output


def _fake_checkpoint(run, step, metrics):
    # Only the metadata matters to `select`; one checksummed file makes the checkpoint intact.
    path = os.path.join(run, "checkpoints", f"ckpt-{step:09d}")
    os.makedirs(path)
    payload = f"weights of step {step}".encode()
    with open(os.path.join(path, "state.index"), "wb") as f:
        f.write(payload)
    files = {"state.index": hashlib.sha256(payload).hexdigest()}
    with open(os.path.join(path, "meta.json"), "w") as f:
        json.dump({"step": step, "epoch": 1, "metrics": metrics, "files": files}, f)


def test_best_checkpoint_is_lowest_kid_else_diversity(tmp_path):
    from dcgan_tf.training import checkpoint

    run = str(tmp_path / "run")
    _fake_checkpoint(run, 10, {"diversity_score": -0.1})
    _fake_checkpoint(run, 20, {"diversity_score": -0.5})
    assert checkpoint.select(run, "best").endswith("ckpt-000000010")
    _fake_checkpoint(run, 30, {"diversity_score": -0.9, "kid": 0.02})
    _fake_checkpoint(run, 40, {"diversity_score": -0.0, "kid": 0.05})
    assert checkpoint.select(run, "best").endswith("ckpt-000000030")


def test_training_logs_kid_and_stops_at_max_minutes(tmp_path, monkeypatch):
    from dcgan_tf.config import ModelConfig, TrainConfig
    from dcgan_tf.training import kid as scoring_training
    from dcgan_tf.training import checkpoint
    from dcgan_tf.training.run import train

    monkeypatch.setattr(scoring_training, "TRAINING_CLASSIFIER", TINY)
    monkeypatch.setenv("DCGAN_TF_CACHE", str(tmp_path / "cache"))
    model = ModelConfig(image_size=32, channels=1, ngf=8, ndf=8)
    run = str(tmp_path / "run")
    summary = train(TrainConfig(out=run, max_steps=4, batch_size=64, score_every=1), model,
                    verbose=0)
    with open(os.path.join(run, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f]
    assert len(records) == 1 and records[0]["kid"] > 0 and records[0]["kid_std"] >= 0
    assert not summary["timed_out"]
    # 0.3 ms of training: the first call (up to AUTO_STEPS_PER_EXECUTION steps) crosses it,
    # and the step it ends at is checkpointed.
    from dcgan_tf.config import AUTO_STEPS_PER_EXECUTION

    summary = train(TrainConfig(out=run, epochs=50, batch_size=64, max_minutes=5e-6), model,
                    verbose=0)
    assert summary["timed_out"] and 5 <= summary["step"] <= 4 + AUTO_STEPS_PER_EXECUTION
    assert checkpoint.list_checkpoints(run)[-1][0] == summary["step"]
    one = train(TrainConfig(out=run, epochs=50, batch_size=64, max_minutes=5e-6,
                            steps_per_execution=1), model, verbose=0)
    assert one["timed_out"] and one["step"] == summary["step"] + 1


def test_score_every_needs_labels(tmp_path):
    from dcgan_tf.config import TrainConfig
    from dcgan_tf.training.run import train

    path = str(tmp_path / "u.npz")
    np.savez(path, x=np.zeros((80, 32, 32, 1), np.uint8))
    with pytest.raises(ScoringError, match="--score-every needs a labelled dataset"):
        train(TrainConfig(out=str(tmp_path / "r"), dataset="npz", data_dir=path, max_steps=1,
                          batch_size=32, score_every=1), verbose=0)


def test_score_kid_std_uses_subsets_smaller_than_n():
    """`score --n 300` reported KID +- 0: subsets of all N rows. The std must come from subsets
    of at most N/2, as this NumPy computation of the same draws gives it."""
    from dcgan_tf.scoring.score import compare, kid_subset_size

    rng = np.random.default_rng(4)
    real, fake = rng.standard_normal((40, 3)), rng.standard_normal((40, 3)) + 0.3
    cfg = ScoreConfig(n=40, kid_subsets=6, kid_subset_size=1000, seed=2)
    assert kid_subset_size(cfg) == 20
    figures = compare(real, fake, cfg)
    draws = np.random.default_rng(2)
    values = []
    for _ in range(6):
        r, f = draws.choice(40, 20, replace=False), draws.choice(40, 20, replace=False)
        values.append(_mmd2_loops(real[r], fake[f]))
    assert figures["kid_subset_size"] == 20
    assert figures["kid"] == pytest.approx(np.mean(values), rel=1e-9)
    assert figures["kid_std"] == pytest.approx(np.std(values, ddof=1), rel=1e-9)
    assert figures["kid_std"] > 0
    # A subset size below N/2 is used as given.
    assert kid_subset_size(ScoreConfig(n=10_000)) == 1000
