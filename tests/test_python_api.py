"""The Python API is the CLI's: same defaults, and the documented example runs."""

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from dcgan_tf_cli.main import cli
from dcgan_tf import recipes
from dcgan_tf.config import TrainConfig

DOC = Path(__file__).resolve().parent.parent / "docs" / "python-api.md"


def _dry_run(*flags):
    result = CliRunner().invoke(cli, ["train", *flags, "--dry-run"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_train_config_defaults_are_the_cli_defaults():
    resolved = _dry_run()
    assert resolved["train"] == TrainConfig().to_dict()
    assert resolved["model"] == "dataset default"
    assert resolved["features"] == recipes.feature_config(TrainConfig().recipe).to_dict()
    # What the defaults are, so that neither side drifts silently to the other's old value.
    assert resolved["train"]["recipe"] == recipes.AUTO
    assert resolved["train"]["out"] == "runs/digits" and resolved["train"]["epochs"] == 60


def test_flags_and_config_fields_give_the_same_run():
    resolved = _dry_run("--dataset", "fashion_mnist", "--max-steps", "7", "--recipe", "paper",
                        "runs/x", "--batch-size", "32")
    built = TrainConfig(dataset="fashion_mnist", max_steps=7, recipe="paper", out="runs/x",
                        batch_size=32)
    assert resolved["train"] == built.to_dict() and built.epochs == 25


def test_train_writes_the_recipe_read_out_when_given_none(tmp_path):
    from dcgan_tf.config import FeatureConfig, ModelConfig
    from dcgan_tf.training.run import default_feature_config

    assert default_feature_config(TrainConfig(out=str(tmp_path / "a"))) == FeatureConfig(
        pooling="pyramid", flip=True, shift=2, power=True)
    assert default_feature_config(TrainConfig(out=str(tmp_path / "b"), recipe="paper")) == (
        FeatureConfig())
    # A resumed run keeps what it stored.
    from dcgan_tf.training import checkpoint

    checkpoint.write_run_config(str(tmp_path / "c"), ModelConfig(), TrainConfig(out="x"),
                                feature_cfg=FeatureConfig(layers="1,2"))
    assert default_feature_config(TrainConfig(out=str(tmp_path / "c"))).layers == "1,2"


def _python_blocks(text):
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.slow
def test_documented_example_runs(tmp_path, monkeypatch, capsys):
    (block,) = _python_blocks(DOC.read_text(encoding="utf-8"))[:1]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))  # the probe's feature cache
    exec(compile(block, str(DOC), "exec"), {"__name__": "docs_example"})
    shown = capsys.readouterr().out
    assert "dcgan probe on digits" in shown and "test error" in shown
    config = json.loads((tmp_path / "runs" / "api-digits" / "config.json").read_text())
    assert config["train"]["recipe"] == recipes.AUTO
    assert (tmp_path / "savedmodels" / "api-digits" / "1" / "saved_model.pb").is_file()
