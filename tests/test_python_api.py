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


# Extra flags per recipe, so that each preset is also checked under explicit values.
EXTRA = {"semi": {"labels": 100, "g_ema": 0.99}, "ssgan": {"rotation_weight": 0.5},
         "sngan": {"g_lr": 3e-4, "spectral_norm": False}, "paper": {"ngf": 16, "batch_size": 32}}


def _flags(values):
    flags = []
    for name, value in values.items():
        if isinstance(value, bool):
            flags.append(("--" if value else "--no-") + name.replace("_", "-"))
        else:
            flags += ["--" + name.replace("_", "-"), str(value)]
    return flags


@pytest.mark.parametrize("recipe", recipes.NAMES)
def test_every_recipe_is_the_same_run_from_python_and_the_cli(recipe):
    from dcgan_tf import RunConfig

    for values in ({}, EXTRA.get(recipe, {"max_steps": 7})):
        built = RunConfig.from_recipe(recipe, dataset="fashion_mnist", **values)
        resolved = _dry_run("--recipe", recipe, "--dataset", "fashion_mnist", *_flags(values))
        assert resolved == built.to_dict(), (recipe, values)
        assert built.train.recipe == recipes.resolve_name(recipe)
        assert {"recipe", *values} <= built.stated
    # No --recipe: the default, not stated, so that a resume keeps the run's own recipe.
    default = RunConfig.from_recipe(dataset="fashion_mnist")
    assert default.to_dict() == _dry_run("--dataset", "fashion_mnist")
    assert default.stated == {"dataset"}


def test_a_preset_naming_an_unknown_or_run_time_option_fails(monkeypatch):
    monkeypatch.setitem(recipes.RECIPES, "typo", {"rotaton_weight": 1.0})
    with pytest.raises(ValueError, match="Received: rotaton_weight=1.0"):
        recipes._check_presets()
    monkeypatch.setitem(recipes.RECIPES, "typo", {"batch_size": 64})
    with pytest.raises(ValueError, match="Received: batch_size=64"):
        recipes._check_presets()
    monkeypatch.setitem(recipes.RECIPES, "typo", {"g_ema": 1.5})
    with pytest.raises(ValueError, match=r"Expected `g_ema` in \[0, 1\)"):
        recipes._check_presets()


def test_runs_stored_under_the_old_recipe_name_still_load():
    from dcgan_tf.config import FeatureConfig

    stored = {**TrainConfig().to_dict(), "recipe": "probe"}
    assert TrainConfig.from_dict(stored).recipe == "pyramid"
    assert recipes.feature_config("probe") == recipes.feature_config("pyramid") == FeatureConfig(
        pooling="pyramid", flip=True, shift=2, power=True)


def test_the_public_names_import_from_dcgan_tf():
    import dcgan_tf

    for name in ("train", "export_savedmodel", "generate", "run_probe", "format_table",
                 "open_client", "NNConfig", "ProbeConfig", "RunConfig", "TrainConfig",
                 "ModelConfig", "FeatureConfig", "score_savedmodel", "ScoreConfig"):
        assert name in dcgan_tf.__all__ and getattr(dcgan_tf, name) is not None, name


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
    namespace = {"__name__": "docs_example"}
    exec(compile(block, str(DOC), "exec"), namespace)
    shown = capsys.readouterr().out
    assert "dcgan probe on digits" in shown and "test error" in shown
    config = json.loads((tmp_path / "runs" / "api-digits" / "config.json").read_text())
    assert config["train"]["recipe"] == recipes.AUTO
    assert (tmp_path / "savedmodels" / "api-digits" / "1" / "saved_model.pb").is_file()
    # The generated images are the export's `sample` signature's, seeds 3..18.
    import numpy as np

    from dcgan_tf.serving.clients import SavedModelClient

    images = namespace["images"]
    assert images.shape == (16, 32, 32, 1) and images.dtype == np.uint8
    again = SavedModelClient(namespace["model"]).sample(np.arange(3, 19))["pixels"]
    np.testing.assert_array_equal(images, again)


def test_a_config_json_written_before_the_schema_still_loads_and_resumes(tmp_path):
    """tests/data/config_before_the_schema.json: written by the configs before the option
    schema (a semi run, its first segment under the recipe's old name `probe`)."""
    import shutil

    from dcgan_tf.training import checkpoint, resume
    from dcgan_tf.training.run_config import RunConfig

    run = tmp_path / "old"
    run.mkdir()
    shutil.copy(Path(__file__).parent / "data" / "config_before_the_schema.json",
                run / "config.json")
    model, train = checkpoint.read_run_config(str(run))
    assert (model.labels, model.label_classes, model.ngf, train.recipe, train.g_ema) == (
        1000, 10, 8, "semi", 0.99)
    assert checkpoint.read_feature_config(str(run)).pooling == "pyramid"
    assert [TrainConfig.from_dict(s["train"]).recipe for s in checkpoint.read_segments(str(run))] == [
        "pyramid"]
    # Re-running with no options resumes it as it was.
    again = RunConfig.from_recipe(out=str(run))
    kept_model, kept_train, _ = resume.reconcile(model, train, again.model, again.train,
                                                 again.stated)
    assert kept_model == model and (kept_train.recipe, kept_train.g_ema) == ("semi", 0.99)
