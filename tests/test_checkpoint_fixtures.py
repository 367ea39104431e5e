"""Checkpoints written before the GAN was split into parts still resume, restore and export.

The run directories under tests/fixtures/checkpoints/ were written by
tests/fixtures/make_checkpoints.py with the code of the commit that added them: the paper's
DCGAN, a semi-supervised K+1 D with a generator average, one with the rotation and contrastive
heads and DiffAugment, and a conditional one.
"""

import os
import shutil

import numpy as np
import pytest

from dcgan_tf.training import checkpoint

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "checkpoints")
RUNS = ("paper", "semi_ema", "ssgan_contrastive", "conditional")
GIVEN = {"out", "max_steps", "batch_size", "precision"}


def _copy(tmp_path, name):
    run = str(tmp_path / name)
    shutil.copytree(os.path.join(FIXTURES, name), run)
    return run


@pytest.mark.parametrize("name", RUNS)
def test_fixture_restores_into_the_same_object_graph(tmp_path, name):
    from dcgan_tf.training.run import build_gan

    run = _copy(tmp_path, name)
    path = checkpoint.select(run, "last")
    model_cfg, train_cfg = checkpoint.read_run_config(run)
    gan = build_gan(model_cfg, train_cfg)
    assert checkpoint.restore(gan, path)["step"] == 2
    assert gan.step == 2
    # Written again from the restored model, the checkpoint holds the same keys and values:
    # every saved object found its place, and nothing new appeared beside them.
    saved = checkpoint.read_arrays(path)
    rewritten = checkpoint.read_arrays(checkpoint.serialize(gan, run))
    assert sorted(rewritten) == sorted(saved)
    for key, value in saved.items():
        if key.startswith("generator/") and "moving_" in key:
            continue  # Restored with training's statistics, saved with sampling's.
        np.testing.assert_array_equal(rewritten[key], value, err_msg=key)


@pytest.mark.parametrize("name", RUNS)
def test_fixture_resumes_where_it_stopped(tmp_path, name):
    from dcgan_tf.config import TrainConfig
    from dcgan_tf.training.run import train

    run = _copy(tmp_path, name)
    stored_model, stored_train = checkpoint.read_run_config(run)
    summary = train(TrainConfig(out=run, max_steps=4, batch_size=32, precision="fp32"),
                    verbose=0, given=GIVEN)
    assert summary["start_step"] == 2 and summary["step"] == 4
    assert os.path.basename(summary["resumed_from"]) == "ckpt-000000002"
    model_cfg, train_cfg = checkpoint.read_run_config(run)
    assert model_cfg == stored_model
    for option in ("rotation_weight", "contrastive_weight", "diffaugment", "g_ema"):
        assert getattr(train_cfg, option) == getattr(stored_train, option)


@pytest.mark.parametrize("name,generator", [("paper", "raw"), ("semi_ema", "ema"),
                                            ("ssgan_contrastive", "raw")])
def test_fixture_exports_what_its_checkpoint_holds(tmp_path, name, generator):
    import tensorflow as tf

    from dcgan_tf.export.config import ExportConfig
    from dcgan_tf.export.savedmodel import export_savedmodel

    run = _copy(tmp_path, name)
    path = export_savedmodel(run, base_path=str(tmp_path / "sm"), name=name,
                             config=ExportConfig(generator=generator))
    _, _, net, _, meta = checkpoint.load_networks(run, generator=generator)
    assert meta["step"] == 2
    z = np.random.default_rng(0).uniform(-1, 1, (3, 100)).astype("float32")
    served = tf.saved_model.load(path).signatures["serving_default"](z=tf.constant(z))["images"]
    np.testing.assert_allclose(served.numpy(), net(z, training=False).numpy(), atol=1e-5)
