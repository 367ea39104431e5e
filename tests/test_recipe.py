"""Recipe options: DiffAugment, rotation and contrastive heads, spectral norm, TTUR, feature
choices, presets."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from dcgan_tf import recipes
from dcgan_tf.config import FeatureConfig, ModelConfig, TrainConfig
from dcgan_tf.training import augment, losses
from dcgan_tf.training.models import (
    build_discriminator, build_feature_model, extract_features, feature_dim,
)

SEED = tf.constant([3, 7], tf.int64)


def _images(n=8, size=32, channels=3, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, size, size, channels)).astype("float32")


def _np_translate(x, shifts):
    out = np.zeros_like(x)
    n, h, w, _ = x.shape
    for i, (dy, dx) in enumerate(shifts):
        for y in range(h):
            for xx in range(w):
                sy, sx = y - dy, xx - dx
                if 0 <= sy < h and 0 <= sx < w:
                    out[i, y, xx] = x[i, sy, sx]
    return out


def _np_cut(x, centres, side):
    out = x.copy()
    for i, (cy, cx) in enumerate(centres):
        top, left = cy - side // 2, cx - side // 2
        out[i, max(top, 0):max(top + side, 0), max(left, 0):max(left + side, 0)] = 0
    return out


def test_translation_matches_numpy_on_fixed_seed():
    x = _images()
    got = augment.translation(tf.constant(x), SEED).numpy()
    shifts = augment.translation_shifts(8, 32, SEED).numpy()
    assert np.abs(shifts).max() <= 4 and len({tuple(s) for s in shifts}) > 1
    np.testing.assert_array_equal(got, _np_translate(x, shifts))


def test_cutout_matches_numpy_on_fixed_seed():
    x = _images()
    got = augment.cutout(tf.constant(x), SEED).numpy()
    centres = augment.cutout_centres(8, 32, SEED).numpy()
    np.testing.assert_array_equal(got, _np_cut(x, centres, 16))
    # A square of half the side, less where it is clipped at the border.
    zeroed = (got == 0).all(axis=-1).sum(axis=(1, 2))
    assert zeroed.max() == 256 and zeroed.min() > 0


def test_flip_mirrors_about_half_of_the_images():
    x = _images(channels=3)
    x = np.concatenate([x] * 8)  # 64 images.
    got = augment.flip(tf.constant(x), SEED).numpy()
    mirrored = np.array([np.array_equal(g, i[:, ::-1]) for g, i in zip(got, x)])
    kept = np.array([np.array_equal(g, i) for g, i in zip(got, x)])
    assert (mirrored ^ kept).all()
    assert 16 <= mirrored.sum() <= 48


@pytest.mark.parametrize("policy", ["translation", "cutout", "color", "flip",
                                    "translation,cutout,color,flip"])
def test_augmentations_are_differentiable_and_keep_shapes_and_ranges(policy):
    x = tf.constant(_images(channels=3))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = augment.diff_augment(x, policy, SEED)
        total = tf.reduce_sum(y * tf.random.stateless_normal(y.shape, [1, 2]))
    grad = tape.gradient(total, x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert grad is not None and float(tf.reduce_sum(tf.abs(grad))) > 0
    values = y.numpy()
    if "color" in policy:
        # The analytic bound of `augment.color` for inputs in [-1, 1] (its docstring).
        extreme = tf.constant(np.sign(_images(channels=3, seed=1)))
        assert np.abs(augment.color(extreme, SEED).numpy()).max() <= 6.0
        assert np.abs(values).max() <= 6.0
    else:
        # Moved or zeroed pixels only: every value is an input value or 0.
        assert np.isin(values, np.append(x.numpy(), 0.0)).all()
    # Same seed, same draw; another seed, another.
    np.testing.assert_array_equal(values, augment.diff_augment(x, policy, SEED).numpy())
    assert not np.array_equal(values, augment.diff_augment(x, policy, SEED + 1).numpy())


def test_unknown_policy_is_rejected():
    with pytest.raises(ValueError, match="Expected `diffaugment`"):
        TrainConfig(diffaugment="translation,mirror")


def test_rotation_labels_match_np_rot90():
    x = _images(n=9, channels=1)
    rotated, labels = augment.rotate_batch(tf.constant(x))
    labels = labels.numpy()
    np.testing.assert_array_equal(labels, np.arange(9) % 4)
    for i in range(9):
        np.testing.assert_array_equal(rotated.numpy()[i], np.rot90(x[i], labels[i], axes=(0, 1)))


def test_rotation_loss_matches_numpy_cross_entropy():
    logits = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
    targets = np.array([0, 1, 2, 3, 1, 0])
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    want = -log_softmax[np.arange(6), targets]
    got = np.asarray(losses.rotation_loss(logits, targets))
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_contrastive_loss_matches_numpy_nt_xent():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 7)).astype("float32"), rng.normal(size=(5, 7)).astype("float32")
    z = np.concatenate([a, b]).astype(np.float64)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    want = []
    for k in range(10):
        others = [j for j in range(10) if j != k]
        logits = z[k] @ z[others].T / 0.3
        partner = others.index((k + 5) % 10)
        want.append(np.log(np.exp(logits).sum()) - logits[partner])
    got = np.asarray(losses.contrastive_loss(a, b, 0.3))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    # Identical views far apart from the other images: the loss goes to 0.
    far = np.eye(5, 7, dtype="float32")
    assert float(np.max(losses.contrastive_loss(far, far, 0.05))) < 1e-6


def test_contrastive_views_crop_inside_the_image_at_the_drawn_scale():
    boxes = augment.crop_boxes(2000, SEED).numpy()
    height, width = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    assert boxes.min() >= 0 and boxes.max() <= 1 + 1e-6
    area, aspect = height * width, width / height
    unclipped = (height < 1) & (width < 1)
    assert np.all(area[unclipped] >= augment.CROP_AREA[0] - 1e-5) and np.all(area <= 1 + 1e-5)
    assert np.all((aspect[unclipped] > 0.75 - 1e-4) & (aspect[unclipped] < 4 / 3 + 1e-4))
    x = _images(n=6, channels=1)
    first = augment.contrastive_view(tf.constant(x), SEED).numpy()
    assert first.shape == x.shape and first.dtype == np.float32
    np.testing.assert_array_equal(first, augment.contrastive_view(tf.constant(x), SEED).numpy())
    other = augment.contrastive_view(tf.constant(x), tf.constant([4, 7], tf.int64)).numpy()
    assert not np.allclose(first, other)


def test_paper_recipe_equals_todays_defaults():
    model, train, features = recipes.apply("paper", {"image_size": 32, "channels": 1}, {}, {})
    assert model == ModelConfig() and train == TrainConfig(recipe="paper") and features == FeatureConfig()
    assert not model.spectral_norm and train.rotation_weight == 0 and train.diffaugment == ""
    assert train.d_learning_rate == train.g_learning_rate == 2e-4


def test_cli_recipe_presets_and_explicit_overrides():
    from dcgan_tf_cli.main import cli as main

    runner = CliRunner()
    paper = runner.invoke(main, ["train", "--recipe", "paper", "--dry-run"])
    assert paper.exit_code == 0, paper.output
    resolved = json.loads(paper.output)
    defaults = TrainConfig(recipe="paper").to_dict()
    assert {k: v for k, v in resolved["train"].items() if k not in ("out", "epochs")} == {
        k: v for k, v in defaults.items() if k not in ("out", "epochs")}
    assert resolved["model"] == "dataset default" and resolved["features"] == FeatureConfig().to_dict()

    # The default is `auto`: the paper's training, read out as the study chose.
    default = json.loads(runner.invoke(main, ["train", "--dry-run"]).output)
    assert default["train"]["recipe"] == recipes.AUTO == "pyramid"
    assert {k: v for k, v in default["train"].items() if k not in ("out", "epochs", "recipe")} == {
        k: v for k, v in defaults.items() if k not in ("out", "epochs", "recipe")}
    assert default["features"] == {**FeatureConfig().to_dict(), "pooling": "pyramid", "flip": True,
                                   "shift": 2, "power": True}

    out = runner.invoke(main, ["train", "--recipe", "ssgan", "--rotation-weight", "0.5",
                               "--diffaugment", "cutout", "--spectral-norm", "--g-lr", "1e-4",
                               "--dry-run"])
    assert out.exit_code == 0, out.output
    resolved = json.loads(out.output)
    assert resolved["train"]["recipe"] == "ssgan"
    assert resolved["train"]["rotation_weight"] == 0.5 and resolved["train"]["diffaugment"] == "cutout"
    assert resolved["train"]["rotation_weight_g"] == 0.2  # From the preset.
    assert resolved["model"]["spectral_norm"] is True and resolved["train"]["g_lr"] == 1e-4
    contrastive = json.loads(runner.invoke(main, ["train", "--recipe", "contrastive", "--dry-run",
                                                   "--contrastive-temperature", "0.2"]).output)
    assert contrastive["train"]["contrastive_weight"] == 1.0
    assert contrastive["train"]["contrastive_temperature"] == 0.2
    bad = runner.invoke(main, ["train", "--recipe", "paper", "--rotation-weight-g", "0.2", "--dry-run"])
    assert bad.exit_code != 0 and "rotation_weight" in bad.output and "Traceback" not in bad.output


def test_spectral_norm_keeps_top_singular_value_near_one():
    cfg = ModelConfig(ndf=8, spectral_norm=True)
    d = build_discriminator(cfg)
    x = _images(n=4, channels=1)
    for _ in range(30):  # Power iteration converges over training-mode calls.
        d(x, training=True)
    for name in ("conv0", "conv1", "conv2", "logit"):
        kernel = d.get_layer(name).layer.kernel.numpy()
        top = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
        assert abs(top - 1.0) < 0.05, (name, top)
    assert build_feature_model(d, cfg) is not None  # Feature layer names survive the wrapper.


def test_feature_choices_pyramid_pre_activation_and_flip():
    cfg = ModelConfig(ndf=8)
    d = build_discriminator(cfg)
    x = _images(n=3, channels=1)
    chosen = FeatureConfig(layers="1,2", pooling="pyramid", activation="pre", flip=True)
    model = build_feature_model(d, cfg, chosen)
    assert [o.name.split("/")[0] for o in model.outputs] and feature_dim(cfg, chosen) == 21 * (16 + 32)
    got = np.asarray(extract_features(model, x, chosen))
    assert got.shape == (3, feature_dim(cfg, chosen))
    # Mirror averaging makes the features invariant to a horizontal flip.
    np.testing.assert_allclose(got, np.asarray(extract_features(model, x[:, :, ::-1], chosen)),
                               rtol=1e-5, atol=1e-6)
    # Pyramid pooling against NumPy max pooling of the pre-activation maps, unflipped.
    plain = FeatureConfig(layers="1,2", pooling="pyramid", activation="pre")
    acts = [np.asarray(a) for a in build_feature_model(d, cfg, plain)(x, training=False)]
    want = []
    for a in acts:
        n, h, w, c = a.shape
        for g in (1, 2, 4):
            s = h // g
            want.append(a.reshape(n, g, s, g, s, c).max(axis=(2, 4)).reshape(n, -1))
    np.testing.assert_allclose(np.asarray(extract_features(model, x, plain)),
                               np.concatenate(want, axis=1), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="block indices below 3"):
        feature_dim(cfg, FeatureConfig(layers="3"))


def test_feature_shifts_and_power_normalisation_match_numpy():
    cfg = ModelConfig(ndf=8)
    d = build_discriminator(cfg)
    x = _images(n=3, channels=1)
    chosen = FeatureConfig(pooling="pyramid", flip=True, shift=2, power=True)
    model = build_feature_model(d, cfg, chosen)
    got = np.asarray(extract_features(model, x, chosen))
    # NumPy: the 5 views (image, shifted 2 px each way with reflected borders), each also
    # mirrored, pooled by the plain read-out, averaged, then sign(v) * sqrt(|v|).
    plain = FeatureConfig(pooling="pyramid")
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    views = [x] + [np.roll(padded, (dy, dx), axis=(1, 2))[:, 2:-2, 2:-2]
                   for dy, dx in ((0, 2), (0, -2), (2, 0), (-2, 0))]
    views += [v[:, :, ::-1] for v in views]
    mean = np.mean([np.asarray(extract_features(model, v, plain)) for v in views], axis=0)
    np.testing.assert_allclose(got, np.sign(mean) * np.sqrt(np.abs(mean)), rtol=1e-4, atol=1e-6)
    assert got.shape == (3, feature_dim(cfg, chosen))
    with pytest.raises(ValueError, match="shift"):
        FeatureConfig(shift=-1)


OPTIONS = {
    "rotation": ({}, {"rotation_weight": 1.0, "rotation_weight_g": 0.2}, {}),
    "contrastive": ({}, {"contrastive_weight": 1.0, "contrastive_temperature": 0.2}, {}),
    "diffaugment": ({}, {"diffaugment": "translation,cutout,color"}, {}),
    "sn_ttur": ({"spectral_norm": True}, {"d_lr": 4e-4, "g_lr": 1e-4}, {}),
    "features": ({}, {}, {"pooling": "pyramid", "activation": "pre", "flip": True, "layers": "1,2",
                          "shift": 1, "power": True}),
}


@pytest.mark.slow
@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_train_resume_export_and_features_with_each_option(tmp_path, option):
    from dcgan_tf.export.savedmodel import export_savedmodel
    from dcgan_tf.training import checkpoint
    from dcgan_tf.training.run import build_gan, train

    model_values, train_values, feature_values = OPTIONS[option]
    model_cfg, train_cfg, feature_cfg = recipes.apply(
        "paper", {"image_size": 32, "channels": 1, "ngf": 8, "ndf": 8, **model_values},
        {"out": str(tmp_path / "run"), "max_steps": 3, "batch_size": 32, "precision": "fp32",
         **train_values}, feature_values)
    first = train(train_cfg, model_cfg, verbose=0, feature_cfg=feature_cfg)
    assert first["step"] == 3
    # Resume: counters, both optimizers and D's heads come back from the checkpoint.
    gan = build_gan(model_cfg, train_cfg)
    checkpoint.restore(gan, first["checkpoint"])
    assert int(gan.d_optimizer.iterations.numpy()) == 3
    for head, size in ((getattr(gan.part("rotation"), "head", None), 2),
                       (getattr(gan.part("contrastive"), "head", None), 4)):
        if head is None:
            continue
        # The restored head holds trained values stored in the checkpoint (not a fresh init).
        saved = checkpoint.read_arrays(first["checkpoint"]).values()
        assert len(head.variables) == size
        for variable in head.variables:
            value = variable.numpy()
            assert any(a.shape == value.shape and np.array_equal(a, value) for a in saved)
    resumed = train(train_cfg.__class__(**{**train_cfg.to_dict(), "max_steps": 4}), model_cfg, verbose=0)
    assert resumed["start_step"] == 3 and resumed["step"] == 4
    metrics = [json.loads(line) for line in open(tmp_path / "run" / "metrics.jsonl")]
    assert all(np.isfinite(m["d_loss"]) and np.isfinite(m["g_loss"]) for m in metrics)

    path = export_savedmodel(str(tmp_path / "run"), base_path=str(tmp_path / "sm"), name="m")
    loaded = tf.saved_model.load(path)
    meta = json.loads(loaded.signatures["metadata"](request=tf.constant([0]))["metadata"][0].numpy())
    assert meta["features"] == feature_cfg.to_dict() and meta["recipe"] == "paper"
    assert meta["model"]["spectral_norm"] == model_cfg.spectral_norm
    assert meta["train"]["rotation_weight"] == train_cfg.rotation_weight
    assert meta["train"]["contrastive_weight"] == train_cfg.contrastive_weight
    pixels = np.random.default_rng(0).integers(0, 256, (5, 40, 40, 3), dtype=np.uint8)
    features = loaded.signatures["features"](images=tf.constant(pixels))["features"].numpy()
    assert features.shape == (5, meta["feature_dim"]) and np.isfinite(features).all()
    assert meta["feature_dim"] == feature_dim(model_cfg, feature_cfg)
    # The variables are stored once: close to the networks' own size.
    variables = sum(os.path.getsize(os.path.join(r, f))
                    for r, _, fs in os.walk(os.path.join(path, "variables")) for f in fs)
    assert variables < 1.3 * meta["weights_bytes"]


@pytest.mark.parametrize("precision,conditional", [pytest.param("bf16", False, marks=pytest.mark.bf16),
                                                    ("fp32", True)])
def test_all_options_train_under_bf16_and_conditional(precision, conditional):
    from dcgan_tf.training.run import build_gan

    cfg = ModelConfig(ngf=8, ndf=8, spectral_norm=True, num_classes=10 if conditional else 0)
    gan = build_gan(cfg, TrainConfig(precision=precision, batch_size=16, rotation_weight=1.0,
                                     rotation_weight_g=0.2, contrastive_weight=1.0,
                                     diffaugment="translation,cutout,color"))
    x = _images(n=16, channels=1)
    data = (x, np.arange(16) % 10) if conditional else x
    step = tf.function(gan.train_step)
    heads = (gan.part("rotation").head, gan.part("contrastive").head)
    before = [h.variables[0].numpy().copy() for h in heads]
    for _ in range(2):
        logs = step(data)
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert 0 < float(logs["d_rotation_loss"]) < 10
    # NT-Xent starts near log(2N - 1), the loss of a head that cannot tell views apart.
    assert 0 < float(logs["d_contrastive_loss"]) < 2 * np.log(31)
    for head, start in zip(heads, before):
        assert not np.array_equal(start, head.variables[0].numpy())


MIRRORED_OPTIONS_SCRIPT = """
import json, numpy as np, tensorflow as tf
from dcgan_tf.training.distribute import split_cpu
devices = split_cpu(2)
from dcgan_tf.config import ModelConfig, TrainConfig
from dcgan_tf.training.run import build_gan
strategy = tf.distribute.MirroredStrategy(devices)
cfg = ModelConfig(image_size=32, channels=1, ngf=8, ndf=8, spectral_norm=True)
with strategy.scope():
    gan = build_gan(cfg, TrainConfig(batch_size=16, precision="fp32", rotation_weight=1.0,
                                     rotation_weight_g=0.2, contrastive_weight=1.0,
                                     diffaugment="translation,cutout,color"))
x = np.random.default_rng(0).uniform(-1, 1, (32, 32, 32, 1)).astype("float32")
ds = tf.data.Dataset.from_tensor_slices(x).batch(16, drop_remainder=True)
history = gan.fit(ds, epochs=1, verbose=0).history
def same(v):
    parts = [t.numpy() for t in strategy.experimental_local_results(v.value)]
    return all(np.array_equal(parts[0], p) for p in parts)
print(json.dumps({
    "losses": [float(v[-1]) for v in history.values()],
    # Batch norm's moving statistics are per replica (Keras' BN is not synchronised), with or
    # without the options: compare the trained weights and spectral norm's power-iteration state.
    "replicas_equal": all(same(v) for v in gan.part("rotation").head.variables
                          + gan.part("contrastive").head.variables
                          + gan.discriminator.trainable_variables
                          + [v for v in gan.discriminator.variables if "vector_u" in v.path]),
    "vector_u": sum("vector_u" in v.path for v in gan.discriminator.variables),
    "step": int(gan.d_optimizer.iterations.numpy()),
}))
"""


def test_mirrored_strategy_with_every_training_option():
    from test_distribute import _run_python

    result = _run_python(MIRRORED_OPTIONS_SCRIPT)
    assert result["step"] == 2 and all(np.isfinite(result["losses"])) and result["vector_u"] == 4
    # Spectral norm's power-iteration state and D's heads stay in sync across replicas.
    assert result["replicas_equal"]


def test_random_baseline_reads_features_like_the_probed_model(digits_export, tmp_path):
    """The untrained-D baseline uses the probed export's feature choices, so that a richer
    read-out is not credited to training."""
    from dcgan_tf.export.config import ExportConfig
    from dcgan_tf.export.savedmodel import export_savedmodel
    from dcgan_tf.probe.baselines import random_savedmodel
    from dcgan_tf.probe.run import read_metadata

    run, _ = digits_export
    path = export_savedmodel(run, base_path=str(tmp_path / "sm"), name="pyr",
                             config=ExportConfig(features={"pooling": "pyramid", "flip": True,
                                                           "shift": 1}))
    meta = read_metadata(path)
    random = random_savedmodel(ModelConfig.from_dict(meta["model"]), str(tmp_path / "cache"),
                               features=meta["features"])
    random_meta = read_metadata(random)
    assert random_meta["features"] == meta["features"] == {**FeatureConfig().to_dict(),
                                                            "pooling": "pyramid", "flip": True,
                                                            "shift": 1}
    assert random_meta["feature_dim"] == meta["feature_dim"] == 21 * 7 * 16
    paper = read_metadata(random_savedmodel(ModelConfig.from_dict(meta["model"]),
                                            str(tmp_path / "cache")))
    assert paper["feature_dim"] == 16 * 7 * 16


TINY_FLAGS = ["--batch-size", "32", "--ngf", "8", "--ndf", "8", "--precision", "fp32"]


def _train(*args):
    from dcgan_tf_cli.main import cli as main

    return CliRunner().invoke(main, ["train", *args, *TINY_FLAGS])


def test_resume_keeps_the_model_state_and_refuses_a_recipe_that_contradicts_it(tmp_path):
    from dcgan_tf.training import checkpoint

    run = str(tmp_path / "semi")
    first = _train(run, "--recipe", "semi", "--labels", "100", "--g-ema", "0.99", "--max-steps", "2")
    assert first.exit_code == 0, first.output
    before = checkpoint.select(run, "last")

    # Another recipe that contradicts the run's model state: one line naming the option, before
    # any note, and nothing trained.
    paper = _train(run, "--recipe", "paper", "--max-steps", "4")
    assert paper.exit_code == 1
    assert paper.output.strip().splitlines() == [
        f"Error: {run} holds a different model: it was trained with --labels 100, not 0. Resume "
        "with the same value (or leave it out), or use a new run directory."]
    # A contradicting flag: the same, naming only the option (no configuration dump).
    more = _train(run, "--labels", "200", "--max-steps", "4")
    assert more.exit_code == 1 and "Resuming" not in more.output
    (line,) = more.output.strip().splitlines()
    assert "trained with --labels 100, not 200" in line and "ModelConfig" not in line
    assert checkpoint.select(run, "last") == before

    # The run's recipe with a training option changed: accepted, said, and recorded; the model
    # state not given (--g-ema) is the run's.
    changed = _train(run, "--recipe", "semi", "--labels", "100", "--diffaugment", "translation",
                     "--max-steps", "3")
    assert changed.exit_code == 0, changed.output
    assert ("Resuming with --recipe semi's training options: --diffaugment translation (was "
            "translation,flip); recorded in this launch's segment.") in changed.output
    assert "Resuming with the run's own --g-ema 0.99 (not given on this launch)." in changed.output
    # No recipe named: the run's own recipe options and model state, said in one note.
    report = tmp_path / "train.json"
    again = _train(run, "--max-steps", "4", "--json", str(report))
    assert again.exit_code == 0, again.output
    assert "--recipe semi" in again.output and "--diffaugment translation" in again.output
    summary = json.loads(report.read_text())
    assert (summary["start_step"], summary["step"], summary["model"]["labels"]) == (3, 4, 100)
    with open(os.path.join(run, "config.json")) as f:
        segments = json.load(f)["segments"]
    assert [(s["start_step"], s["train"]["recipe"], s["train"]["diffaugment"], s["train"]["g_ema"])
            for s in segments] == [(0, "semi", "translation,flip", 0.99), (2, "semi", "translation", 0.99),
                                   (3, "semi", "translation", 0.99)]
    assert checkpoint.read_run_config(run)[0].labels == 100


def test_a_recipe_without_model_options_still_states_the_models():
    """`--recipe paper` on a spectral-norm run: paper states no spectral norm, so it is refused."""
    from dcgan_tf.config import ModelConfig, TrainConfig
    from dcgan_tf.training import resume
    from dcgan_tf.training.run_config import RunConfig

    saved_model = ModelConfig(spectral_norm=True)
    saved_train = TrainConfig(out="R", recipe="sngan", d_lr=4e-4, g_lr=1e-4)
    paper = RunConfig.from_recipe("paper", out="R")
    assert paper.model is None
    with pytest.raises(resume.ResumeError, match=r"^R holds a different model: it was trained "
                                                 r"with --spectral-norm True, not False\."):
        resume.reconcile(saved_model, saved_train, paper.model, paper.train, paper.stated)
    # Naming no recipe keeps the run's, said in one note.
    plain = RunConfig.from_recipe(out="R", max_steps=9)
    model, train, notes = resume.reconcile(saved_model, saved_train, plain.model, plain.train,
                                           plain.stated)
    assert model == saved_model and (train.recipe, train.d_lr, train.g_lr) == ("sngan", 4e-4, 1e-4)
    assert notes == ["Resuming with the run's own --d-lr 0.0004, --g-lr 0.0001, --recipe sngan "
                     "(not given on this launch)."]
    # Another recipe that only changes training: accepted with a note.
    diffaug = RunConfig.from_recipe("diffaug", out="R", spectral_norm=True)
    _, train, notes = resume.reconcile(saved_model, saved_train, diffaug.model, diffaug.train,
                                       diffaug.stated)
    assert train.diffaugment == "translation,cutout,color" and train.d_lr is None
    assert len(notes) == 1 and notes[0].startswith("Resuming with --recipe diffaug's training options: ")
    assert "--d-lr None (was 0.0004)" in notes[0]
