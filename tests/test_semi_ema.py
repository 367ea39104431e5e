"""Semi-supervised D (Salimans et al. 2016) and G's weight average (Yazici et al. 2019)."""

import json
import os

import numpy as np
import pytest

from dcgan_tf.config import ModelConfig, TrainConfig


def _log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def _lse(x):
    m = x.max(axis=-1)
    return m + np.log(np.exp(x - m[:, None]).sum(axis=-1))


def _softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def test_k_plus_one_losses_match_numpy():
    from dcgan_tf.training import losses

    rng = np.random.default_rng(0)
    labelled = rng.normal(0, 3, (16, 10)).astype("float32")
    labels = rng.integers(0, 10, 16)
    real = rng.normal(0, 3, (16, 10)).astype("float32")
    fake = rng.normal(0, 3, (16, 10)).astype("float32")

    supervised = np.asarray(losses.supervised_loss(labelled, labels))
    np.testing.assert_allclose(supervised, -_log_softmax(labelled.astype("float64"))[
        np.arange(16), labels], rtol=1e-5, atol=1e-5)
    # K+1 classes, the fake class's logit fixed at 0: p(fake | x) = 1 / (Z + 1), Z = sum exp l_k.
    z_real, z_fake = np.exp(real.astype("float64")).sum(-1), np.exp(fake.astype("float64")).sum(-1)
    expected = -np.log(z_real / (z_real + 1)) - np.log(1 / (z_fake + 1))
    np.testing.assert_allclose(np.asarray(losses.unsupervised_loss(real, fake)), expected,
                               rtol=1e-5, atol=1e-5)
    # Salimans et al.'s code form of the same: -lse + softplus(lse) for real, softplus for fake.
    lse_r, lse_f = _lse(real.astype("float64")), _lse(fake.astype("float64"))
    np.testing.assert_allclose(expected, -lse_r + _softplus(lse_r) + _softplus(lse_f), rtol=1e-9)


def test_feature_matching_matches_numpy():
    from dcgan_tf.training import losses

    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(32, 50)), rng.normal(1, 2, size=(24, 50))
    expected = np.mean((real.mean(0) - fake.mean(0)) ** 2)
    got = float(losses.feature_matching_loss(real.astype("float32"), fake.astype("float32")))
    assert got == pytest.approx(expected, rel=1e-5)


def test_labelled_subset_is_the_probes_draw_zero_and_never_a_validation_label():
    from dcgan_tf.data.datasets import load_split
    from dcgan_tf.data.splits import labelled_subset
    from dcgan_tf.probe.protocol import ProbeConfig, split_protocol

    train = load_split("digits", "train")
    for seed in (0, 3):
        labelled, validation = labelled_subset(train.labels, 10, 200, seed)
        draws, _ = split_protocol(train.labels, 10, ProbeConfig(labels=200, repeats=3, seed=seed))
        np.testing.assert_array_equal(labelled, draws[0].labelled)
        np.testing.assert_array_equal(validation, draws[0].validation)
        assert not set(labelled) & set(validation)
        assert np.bincount(train.labels[labelled], minlength=10).tolist() == [20] * 10
        assert labelled.max() < len(train.labels)  # Indices of the training split only.


def test_semi_supervised_pipeline_draws_labelled_images_from_the_subset_only():
    from dcgan_tf.data.datasets import PipelineConfig, load_split, prepare_images, train_dataset
    from dcgan_tf.data.splits import labelled_subset

    train = load_split("digits", "train")
    labelled, validation = labelled_subset(train.labels, 10, 100, 0)
    ds, count = train_dataset("digits", 32, 1, 50, PipelineConfig(seed=0, labelled=labelled))
    assert count == len(train.labels)
    pixels = prepare_images(train.images, 32, 1).astype("float32") / 127.5 - 1.0
    flat = pixels.reshape(len(pixels), -1)
    seen = set()
    for unlabelled, images, labels in ds.take(6):
        assert unlabelled.shape == images.shape == (50, 32, 32, 1)
        for image, label in zip(images.numpy(), labels.numpy()):
            index = int(np.argmin(np.abs(flat - image.reshape(1, -1)).sum(1)))
            np.testing.assert_allclose(flat[index], image.reshape(-1), atol=1e-6)
            assert index in set(labelled.tolist()) and index not in set(validation.tolist())
            assert label == train.labels[index]
            seen.add(index)
    assert seen == set(labelled.tolist())  # 300 draws of 100 images: every one, each pass.


def _small_gan(g_ema=0.9, labels=0):
    from dcgan_tf.training.run import build_gan

    model = ModelConfig(image_size=32, channels=1, ngf=8, ndf=8, labels=labels,
                        label_classes=10 if labels else 0)
    return build_gan(model, TrainConfig(batch_size=16, precision="fp32", g_ema=g_ema))


def test_ema_update_equals_its_definition():
    gan = _small_gan(g_ema=0.9)
    rng = np.random.default_rng(0)
    average = [v.numpy().astype("float64") for v in gan.generator.trainable_variables]
    np.testing.assert_array_equal(average[0], gan.part("ema").weights[0].numpy())
    for _ in range(3):
        gan.train_step(rng.uniform(-1, 1, (16, 32, 32, 1)).astype("float32"))
        weights = [v.numpy().astype("float64") for v in gan.generator.trainable_variables]
        average = [0.9 * a + 0.1 * w for a, w in zip(average, weights)]
    for expected, variable, weight in zip(average, gan.part("ema").weights, weights):
        np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-5, atol=1e-7)
    # After three steps the average is not the raw weights.
    assert any(not np.allclose(v.numpy(), w) for v, w in zip(gan.part("ema").weights, weights))


def test_semi_supervised_step_trains_the_class_head_with_feature_matching():
    gan = _small_gan(g_ema=0.0, labels=100)
    rng = np.random.default_rng(0)
    head = gan.discriminator.get_layer("class_logits").kernel.numpy().copy()
    batch = (rng.uniform(-1, 1, (16, 32, 32, 1)).astype("float32"),
             rng.uniform(-1, 1, (16, 32, 32, 1)).astype("float32"),
             rng.integers(0, 10, 16).astype("int32"))
    logs = gan.train_step(batch)
    assert 0 < float(logs["d_supervised_loss"]) < 2 * np.log(10)
    assert float(logs["g_loss"]) >= 0 and np.isfinite(float(logs["d_loss"]))
    assert not np.array_equal(head, gan.discriminator.get_layer("class_logits").kernel.numpy())
    # D's real/fake logit is the log-sum-exp of its class logits.
    from dcgan_tf.training.models import semi_classifier

    x = batch[0][:4]
    lse = _lse(np.asarray(semi_classifier(gan.discriminator)(x), "float64"))
    np.testing.assert_allclose(np.asarray(gan.discriminator(x)).reshape(-1), lse, rtol=1e-5)


def test_resume_restores_the_ema_weights_and_keeps_the_average(tmp_path):
    from dcgan_tf.training import checkpoint
    from dcgan_tf.training.run import TrainingError, train

    run = str(tmp_path / "run")
    model = ModelConfig(image_size=32, channels=1, ngf=8, ndf=8)
    train(TrainConfig(out=run, max_steps=4, batch_size=32, g_ema=0.5, precision="fp32"), model,
          verbose=0)
    path = checkpoint.select(run, "last")
    arrays = checkpoint.read_arrays(path)
    saved = [arrays[f"g_ema/{i}/.ATTRIBUTES/VARIABLE_VALUE"] for i in range(11)]
    gan = _small_gan(g_ema=0.5)
    checkpoint.restore(gan, path)
    for value, variable in zip(saved, gan.part("ema").weights):
        np.testing.assert_array_equal(value, variable.numpy())
    raw = [v.numpy() for v in gan.generator.trainable_variables]
    assert any(not np.allclose(a, b) for a, b in zip(saved, raw))
    # The checkpoint's averaged generator holds the average, with its own batch-norm statistics.
    _, _, ema_g, _, _ = checkpoint.load_networks(run, generator="ema")
    for value, variable in zip(saved, ema_g.trainable_variables):
        np.testing.assert_array_equal(value, variable.numpy())
    # The average is part of the checkpoint (a model flag): resuming without it is refused.
    with pytest.raises(TrainingError, match="--g-ema"):
        train(TrainConfig(out=run, max_steps=6, batch_size=32, g_ema=0.0, precision="fp32"),
              model, verbose=0)
    # Not given (the CLI's flags without --g-ema), the run's decay is kept and the restored
    # average continues.
    summary = train(TrainConfig(out=run, max_steps=6, batch_size=32, precision="fp32"),
                    model, verbose=0, given={"out", "max_steps", "batch_size", "precision"})
    assert summary["resumed_from"] == path and summary["step"] == 6
    assert checkpoint.read_run_config(run)[1].g_ema == 0.5


@pytest.mark.slow
def test_semi_supervised_run_exports_classify_and_probes_it(tmp_path):
    from click.testing import CliRunner

    from dcgan_tf_cli.main import cli
    from dcgan_tf.export.config import ExportConfig
    from dcgan_tf.export.savedmodel import export_savedmodel
    from dcgan_tf.probe.protocol import ProbeConfig
    from dcgan_tf.probe.run import run_probe
    from dcgan_tf.serving.clients import SavedModelClient
    from dcgan_tf.data.datasets import load_split
    from dcgan_tf.training.run import train

    run, base = str(tmp_path / "semi"), str(tmp_path / "sm")
    train(TrainConfig(out=run, max_steps=12, batch_size=32, g_ema=0.9),
          ModelConfig(image_size=32, channels=1, ngf=8, ndf=8, labels=100, label_seed=2),
          verbose=0)
    with open(os.path.join(run, "config.json")) as f:
        saved = json.load(f)["model"]
    assert (saved["labels"], saved["label_seed"], saved["label_classes"]) == (100, 2, 10)
    # Resume takes the labelled subset from the run: no model flags needed.
    summary = train(TrainConfig(out=run, max_steps=14, batch_size=32, g_ema=0.9), verbose=0)
    assert summary["step"] == 14 and summary["model"]["labels"] == 100

    path = export_savedmodel(run, base_path=base, name="semi")
    ema = export_savedmodel(run, base_path=base, name="semi-ema",
                            config=ExportConfig(generator="ema"))
    client = SavedModelClient(path)
    meta = client.metadata()
    assert meta["labelled_subset"] == {"labels": 100, "seed": 2, "validation": 10000, "classes": 10}
    assert set(meta["signatures"]) == {"serving_default", "sample", "discriminate", "features",
                                       "metadata", "classify"}
    test = load_split("digits", "test")
    out = client.classify(test.images[:20])
    assert out["probabilities"].shape == (20, 10) and out["probabilities"].dtype == np.float32
    assert out["classes"].dtype == np.int64
    np.testing.assert_allclose(out["probabilities"].sum(1), 1, rtol=1e-5)
    np.testing.assert_array_equal(out["classes"], out["probabilities"].argmax(1))
    assert SavedModelClient(ema).metadata()["generator"] == "ema"
    averaged = SavedModelClient(ema).sample([1, 2])["images"]
    assert not np.allclose(client.sample([1, 2])["images"], averaged)

    # With the features' read-out views, `classify` averages the probabilities of the image,
    # its 2-pixel shifts (reflected borders) and their mirrors: checked view by view in NumPy.
    plain = SavedModelClient(export_savedmodel(
        run, base_path=base, name="semi-plain",
        config=ExportConfig(features={"flip": False, "shift": 0})))
    views_path = export_savedmodel(run, base_path=base, name="semi-views",
                                   config=ExportConfig(features={"flip": True, "shift": 2}))
    x = np.random.default_rng(1).integers(0, 256, (6, 32, 32, 1), dtype=np.uint8)
    padded = np.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]], mode="reflect")
    views = [x] + [padded[:, 2 + dy:34 + dy, 2 + dx:34 + dx]
                   for dy, dx in ((0, -2), (0, 2), (-2, 0), (2, 0))]
    views += [v[:, :, ::-1] for v in views]
    expected = np.mean([plain.classify(np.ascontiguousarray(v))["probabilities"] for v in views], 0)
    averaged_views = SavedModelClient(views_path).classify(x)
    np.testing.assert_allclose(averaged_views["probabilities"], expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(averaged_views["classes"], expected.argmax(1))

    report = run_probe(path, "digits", cfg=ProbeConfig(labels=100, repeats=1, seed=2, cache=False))
    predicted = client.classify(test.images)["classes"]
    assert report["classify"]["accuracy"] == pytest.approx(np.mean(predicted == test.labels))
    assert report["classify"]["same_draw"]
    result = CliRunner().invoke(cli, ["inspect", path])
    assert result.exit_code == 0
    assert "classify" in result.output and "labelled_subset" in result.output


def test_export_of_a_run_without_ema_refuses_generator_ema(digits_export, tmp_path):
    from dcgan_tf.export.config import ExportConfig
    from dcgan_tf.export.savedmodel import export_savedmodel
    from dcgan_tf.training.checkpoint import CheckpointError

    run, _ = digits_export
    with pytest.raises(CheckpointError, match="--g-ema"):
        export_savedmodel(run, base_path=str(tmp_path / "sm"), name="x",
                          config=ExportConfig(generator="ema"))


def test_semi_supervised_config_is_checked():
    with pytest.raises(ValueError, match="conditional"):
        ModelConfig(labels=100, num_classes=10)
    with pytest.raises(ValueError, match="g_ema"):
        TrainConfig(g_ema=1.0)


MIRRORED_SCRIPT = """
import json, numpy as np, tensorflow as tf
from dcgan_tf.training.distribute import split_cpu
devices = split_cpu(2)
from dcgan_tf.config import ModelConfig, TrainConfig
from dcgan_tf.training.run import build_gan
strategy = tf.distribute.MirroredStrategy(devices)
cfg = ModelConfig(image_size=32, channels=1, ngf=8, ndf=8, labels=100, label_classes=10)
with strategy.scope():
    gan = build_gan(cfg, TrainConfig(batch_size=16, precision="fp32", g_ema=0.5))
start = [v.numpy().copy() for v in gan.generator.trainable_variables]
rng = np.random.default_rng(0)
x = rng.uniform(-1, 1, (32, 32, 32, 1)).astype("float32")
y = rng.integers(0, 10, 32).astype("int32")
ds = tf.data.Dataset.from_tensor_slices((x, x[::-1].copy(), y)).batch(16, drop_remainder=True)
history = gan.fit(ds, epochs=1, verbose=0).history
def parts(v):
    return [t.numpy() for t in strategy.experimental_local_results(v.value)]
ema = [parts(v) for v in gan.part("ema").weights]
end = [v.numpy() for v in gan.generator.trainable_variables]
print(json.dumps({
    "losses": [float(v[-1]) for v in history.values()],
    "replicas_equal": all(np.array_equal(p[0], q) for p in ema for q in p),
    "moved": any(not np.allclose(p[0], s) for p, s in zip(ema, start)),
    "not_raw": any(not np.allclose(p[0], e) for p, e in zip(ema, end)),
    "step": int(gan.g_optimizer.iterations.numpy()),
}))
"""


def test_mirrored_strategy_with_semi_supervised_d_and_ema():
    from test_distribute import _run_python

    result = _run_python(MIRRORED_SCRIPT)
    assert result["step"] == 2 and all(np.isfinite(result["losses"]))
    assert result["replicas_equal"] and result["moved"] and result["not_raw"]


def test_train_cli_labels_and_recipe_semi_resolve():
    from click.testing import CliRunner

    from dcgan_tf_cli.main import cli

    result = CliRunner().invoke(cli, ["train", "--recipe", "semi", "--g-ema", "0.999", "--dry-run"])
    assert result.exit_code == 0, result.output
    resolved = json.loads(result.output)
    assert resolved["model"]["labels"] == 1000 and resolved["model"]["label_seed"] == 0
    assert resolved["train"]["g_ema"] == 0.999 and resolved["features"]["pooling"] == "pyramid"
    assert resolved["train"]["diffaugment"] == "translation,flip"
    result = CliRunner().invoke(cli, ["train", "--recipe", "semi", "--labels", "4000",
                                      "--diffaugment", "translation", "--dry-run"])
    resolved = json.loads(result.output)
    assert resolved["model"]["labels"] == 4000 and resolved["train"]["diffaugment"] == "translation"
    result = CliRunner().invoke(cli, ["train", "--labels", "100", "--label-seed", "4", "--dry-run"])
    assert json.loads(result.output)["model"]["label_seed"] == 4
    bad = CliRunner().invoke(cli, ["train", "--labels", "100", "--conditional", "--dry-run"])
    assert bad.exit_code != 0 and "conditional" in bad.output and "Traceback" not in bad.output


def test_d_dropout_regularises_training_and_leaves_inference_unchanged():
    from dcgan_tf.training.models import build_discriminator, semi_classifier

    plain_cfg = ModelConfig(image_size=32, channels=1, ndf=8, labels=100, label_classes=10)
    dropout_cfg = ModelConfig(image_size=32, channels=1, ndf=8, labels=100, label_classes=10,
                              d_dropout=0.5)
    plain, dropped = build_discriminator(plain_cfg), build_discriminator(dropout_cfg)
    dropped.set_weights(plain.get_weights())  # Dropout adds no weights.
    x = np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 1)).astype("float32")
    classify = semi_classifier(dropped)
    # Inference (exported features, `classify`) is the D without dropout.
    np.testing.assert_allclose(classify(x, training=False), semi_classifier(plain)(x, training=False),
                               rtol=1e-5, atol=1e-6)
    # In training, about half of each block's activations are zeroed (the rest scaled by 2).
    block = keras_model_of(dropped, "conv2_dropout")(x, training=True).numpy()
    before = keras_model_of(dropped, "conv2_lrelu")
    assert 0.4 < np.mean(block == 0) < 0.6
    assert np.mean(before(x, training=True).numpy() == 0) < 0.05
    with pytest.raises(ValueError, match="d_dropout"):
        ModelConfig(d_dropout=1.0)


def keras_model_of(model, layer):
    import keras

    return keras.Model(model.input, model.get_layer(layer).output)


def test_pooled_head_reads_the_mean_of_the_last_block():
    from dcgan_tf.training.models import build_discriminator, with_class_logits

    cfg = ModelConfig(image_size=32, channels=1, ndf=8, labels=100, label_classes=10, d_head="pool")
    d = build_discriminator(cfg)
    x = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 1)).astype("float32")
    block = keras_model_of(d, "conv2_lrelu")(x, training=False).numpy()
    kernel, bias = d.get_layer("class_logits").get_weights()
    logits, pooled = with_class_logits(d)(x, training=False)
    # The head is a dense layer on the block's spatial mean, and feature matching reads that mean.
    np.testing.assert_allclose(pooled, block.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits, block.mean(axis=(1, 2)) @ kernel + bias, rtol=1e-4, atol=1e-5)
    lse = np.log(np.exp(logits.numpy()).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(d(x, training=False), lse, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="d_head"):
        ModelConfig(d_head="pool")
    with pytest.raises(ValueError, match="d_head"):
        ModelConfig(labels=100, d_head="gap")
