"""Memorisation check, guided backprop and forgetting (`nearest`, `visualize`, `forget`)."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from dcgan_tf.investigations import nearest as memorisation
from dcgan_tf.investigations.forget import box_mask, forget, split_generator, split_layer_name
from dcgan_tf.investigations.common import InvestigateError
from dcgan_tf.investigations.configs import ForgetConfig, NearestConfig, VisualizeConfig
from dcgan_tf.investigations.visualize import guided_backprop, guided_leaky_relu, visualize


@pytest.fixture(scope="module")
def trained(digits_export):
    return digits_export


def test_nearest_compares_generated_and_heldout(trained, tmp_path):
    report = memorisation.nearest(trained[1], str(tmp_path),
                                  NearestConfig(n=32, max_train=400, k=2, show=4))
    assert report["dataset"] == "digits" and report["train_images"] == 400
    assert report["heldout_images"] == 32
    for space in ("pixels", "features"):
        s = report["spaces"][space]
        assert s["generated_to_train"]["median"] > 0 and s["heldout_to_train"]["median"] > 0
        assert s["median_ratio"] == pytest.approx(
            s["generated_to_train"]["median"] / s["heldout_to_train"]["median"], rel=1e-4)
        assert 0 <= s["near_copy_fraction"] <= 1
    assert set(report["files"]) == {"nearest.png", "nearest_distances.png", "nearest.json"}


def test_nearest_flags_a_generator_that_copies(trained, tmp_path, monkeypatch):
    # A "generator" that returns training images must show NN distances near 0 in both spaces.
    from dcgan_tf.data.datasets import load_split, prepare_images

    train = prepare_images(load_split("digits", "train").images, 32, 1)
    rng = np.random.default_rng(0)
    copies = train[np.sort(rng.choice(len(train), 400, replace=False))][:32]
    monkeypatch.setattr(memorisation, "generate", lambda client, z: copies[:len(z)])
    report = memorisation.nearest(trained[1], str(tmp_path), NearestConfig(n=32, max_train=400))
    for space in ("pixels", "features"):
        s = report["spaces"][space]
        assert s["generated_to_train"]["median"] == pytest.approx(0, abs=1e-3)
        assert s["near_copy_fraction"] == 1.0 and s["median_ratio"] < 0.01


def test_guided_leaky_relu_passes_only_positive_gradients_through_positive_inputs():
    import tensorflow as tf

    x = tf.constant([-2.0, -1.0, 1.0, 2.0])
    upstream = tf.constant([1.0, -1.0, 1.0, -1.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = guided_leaky_relu(0.2)(x)
    np.testing.assert_allclose(y.numpy(), [-0.4, -0.2, 1.0, 2.0], rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(y, x, output_gradients=upstream).numpy(), [0, 0, 1, 0])


def test_guided_backprop_maps_have_the_image_shape(trained):
    from dcgan_tf.training.checkpoint import load_networks

    cfg, _, _, discriminator, _ = load_networks(trained[0])
    images = np.random.default_rng(0).uniform(-1, 1, (3, 32, 32, 1)).astype(np.float32)
    grads = guided_backprop(discriminator, "conv1_lrelu", 0, images)
    assert grads.shape == images.shape and np.abs(grads).max() > 0


def test_visualize_trained_and_random(trained, tmp_path):
    report = visualize(trained[0], str(tmp_path), VisualizeConfig(num_channels=2, top=2, n_images=200))
    assert report["layer"] == "conv2_lrelu" and len(report["channels"]) == 2
    for name in ("trained", "random"):
        net = report["networks"][name]
        assert [c["channel"] for c in net["channels"]] == report["channels"]
        first = net["channels"][0]
        assert len(first["top_images"]) == 2
        assert first["top_activations"][0] >= first["top_activations"][1]
        assert 0 < first["map_concentration"] <= 1
    assert os.path.isfile(tmp_path / "visualize.png")
    with pytest.raises(InvestigateError, match="Expected `layer`"):
        visualize(trained[0], str(tmp_path), VisualizeConfig(layer="conv9_lrelu"))
    with pytest.raises(InvestigateError, match="channels in"):
        visualize(trained[0], str(tmp_path), VisualizeConfig(channels=[999], n_images=50))


def test_box_mask_uses_cell_centres():
    mask = box_mask([(0, 0, 16, 8)], size=32, grid=16)
    assert mask.sum() == 8 * 4 and mask[:4, :8].all() and not mask[4:].any()


def test_split_generator_recomposes_g(trained):
    from dcgan_tf.training.checkpoint import load_networks

    cfg, _, generator, _, _ = load_networks(trained[0])
    assert split_layer_name(cfg) == "deconv2_relu"
    lower, upper = split_generator(generator, "deconv2_relu")
    z = np.random.default_rng(0).uniform(-1, 1, (4, cfg.z_dim)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(upper(lower(z))), np.asarray(generator(z, training=False)),
                               atol=1e-5)


def test_forget_with_boxes(trained, tmp_path):
    boxes = {"0": [[8, 8, 24, 24]], "3": [[0, 0, 16, 16], [20, 20, 32, 32]]}
    report = forget(trained[0], str(tmp_path), boxes=boxes, config=ForgetConfig(n=4))
    assert report["layer"] == "deconv2_relu" and report["feature_maps"] == 16 and report["grid"] == 16
    reg = report["regression"]
    assert reg["positives"] == 64 + 64 + 36 and reg["negatives"] == reg["positives"]
    assert report["dropped_maps"] == [i for i, w in enumerate(reg["weights"]) if w > 0]
    assert report["boxed_change_inside"] >= 0 and 0 <= report["d_probability_after"] <= 1
    assert os.path.isfile(tmp_path / "forget.png")


def test_forget_all_maps_leaves_one_image(trained, tmp_path):
    report = forget(trained[0], str(tmp_path), maps=list(range(16)), config=ForgetConfig(n=4, scale=1))
    assert report["dropped_maps"] == list(range(16)) and report["dropped_fraction"] == 1.0
    assert report["mean_abs_change"] > 0
    # With every map zeroed only the output layer's bias is left: the same image for all z.
    from PIL import Image

    image = np.asarray(Image.open(tmp_path / "forget.png"))
    left = 2 * 34 + 2 + 8  # A 2x2 grid of 32-px cells padded by 2, then the gap.
    cells = [image[12 + 2 + r * 34:12 + 34 + r * 34, left + 2 + c * 34:left + 34 + c * 34]
             for r in range(2) for c in range(2)]
    assert all(np.array_equal(cells[0], cell) for cell in cells[1:])
    before = [image[12 + 2:12 + 34, 2:34], image[12 + 2:12 + 34, 36:68]]
    assert not np.array_equal(*before)


def test_forget_builds_float32_under_a_mixed_policy(trained, tmp_path):
    import keras

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        report = forget(trained[0], str(tmp_path), maps=[0], config=ForgetConfig(n=2))
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"  # restored
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert report["dropped_maps"] == [0] and report["mean_abs_change"] > 0


def test_forget_errors(trained, tmp_path):
    with pytest.raises(InvestigateError, match="either boxes"):
        forget(trained[0], str(tmp_path))
    with pytest.raises(InvestigateError, match=r"0 <= x0 < x1 <= 32"):
        forget(trained[0], str(tmp_path), boxes={"1": [[10, 10, 40, 20]]})
    with pytest.raises(InvestigateError, match=r"maps in \[0, 16\)"):
        forget(trained[0], str(tmp_path), maps=[16])


def test_cli_nearest_visualize_forget(trained, tmp_path):
    from dcgan_tf_cli.main import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["nearest", "--model", trained[1], "--out", str(tmp_path / "nn"),
                                 "--n", "16", "--max-train", "200", "--show", "2"])
    assert result.exit_code == 0, result.output
    assert "pixels: median NN distance" in result.output

    result = runner.invoke(cli, ["visualize", trained[0], "--out", str(tmp_path / "vis"),
                                 "--d-channels", "0,3", "--top", "2", "--images", "100"])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "vis" / "visualize.json", encoding="utf-8") as f:
        assert json.load(f)["channels"] == [0, 3]

    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"2": [[4, 4, 20, 20]]}))
    result = runner.invoke(cli, ["forget", trained[0], "--boxes", str(boxes),
                                 "--out", str(tmp_path / "f"), "--n", "4"])
    assert result.exit_code == 0, result.output
    assert "maps of deconv2_relu" in result.output

    boxes.write_text("{not json")
    result = runner.invoke(cli, ["forget", trained[0], "--boxes", str(boxes),
                                 "--out", str(tmp_path)])
    assert result.exit_code != 0 and "is not JSON" in result.output
