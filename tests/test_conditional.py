"""The conditional DCGAN (label into both networks) and the 1-NN comparison of the supplement."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from dcgan_tf_cli.main import cli
from dcgan_tf.config import ModelConfig, TrainConfig
from dcgan_tf.training.models import build_discriminator, build_generator
from dcgan_tf.training.run import train

COND = ModelConfig(image_size=32, channels=1, ngf=16, ndf=16, num_classes=10)


def test_conditional_networks_take_the_label():
    g, d = build_generator(COND), build_discriminator(COND)
    z = np.random.default_rng(0).uniform(-1, 1, (10, 100)).astype("float32")
    labels = np.arange(10, dtype="int32")[:, None]
    a = g([z, labels], training=False).numpy()
    b = g([z, (labels + 1) % 10], training=False).numpy()
    assert a.shape == (10, 32, 32, 1) and not np.allclose(a, b)  # same z, other class
    logits = d([a, labels], training=False).numpy()
    assert logits.shape == (10, 1)
    with pytest.raises(ValueError, match="num_classes"):
        ModelConfig(num_classes=1)


@pytest.mark.slow
def test_conditional_training_and_nn_classify(tmp_path):
    run = str(tmp_path / "run")
    train(TrainConfig(out=run, batch_size=64, max_steps=200), COND, verbose=0)
    out = tmp_path / "nn"
    result = CliRunner().invoke(cli, ["nn-classify", run, "--sizes", "20", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "nn_classify.json").read_text())
    (row,) = report["results"]
    assert row["per_class"] == 20 and row["real_per_class"] == 20
    # Class-conditional samples carry their class: far better than chance (0.9 error).
    assert row["generated_error"] < 0.7
    assert row["real_error"] < row["generated_error"]
    assert (out / "samples_by_class.png").stat().st_size > 0


def test_nn_classify_refuses_an_unconditional_run(tmp_path):
    run = str(tmp_path / "run")
    train(TrainConfig(out=run, batch_size=32, max_steps=1), ModelConfig(ngf=8, ndf=8), verbose=0)
    result = CliRunner().invoke(cli, ["nn-classify", run, "--out", str(tmp_path / "nn")])
    assert result.exit_code == 1 and "--conditional" in result.output
