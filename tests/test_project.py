"""`dcgan-tf project`: D's features for TensorBoard's projector, read back with its own proto."""

import os

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image


def _read_config(log_dir):
    from google.protobuf import text_format
    from tensorboard.plugins import projector

    with open(os.path.join(log_dir, "projector_config.pbtxt"), encoding="utf-8") as f:
        return text_format.Parse(f.read(), projector.ProjectorConfig())


def test_project_writes_what_the_projector_reads(digits_export, tmp_path):
    import tensorflow as tf

    from dcgan_tf_cli.main import cli
    from dcgan_tf.data.crop import prepare_images
    from dcgan_tf.data.datasets import load_split

    _, model = digits_export
    out = str(tmp_path / "projector")
    result = CliRunner().invoke(cli, ["project", "--model", model, "--dataset", "digits",
                                      "--n", "150", "--out", out])
    assert result.exit_code == 0, result.output
    config = _read_config(out)
    assert len(config.embeddings) == 1
    embedding = config.embeddings[0]
    assert list(embedding.sprite.single_image_dim) == [32, 32]

    # Metadata: a header, then one row per point with its label and its index in the split.
    with open(os.path.join(out, embedding.metadata_path), encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f]
    assert rows[0] == ["label", "index"] and len(rows) == 151
    test = load_split("digits", "test")
    indices = np.array([int(r[1]) for r in rows[1:]])
    assert len(set(indices)) == 150 and np.all(np.diff(indices) > 0)
    assert [int(r[0]) for r in rows[1:]] == test.labels[indices].tolist()

    # The sprite: a square of 32-pixel cells, row-major, each the image resized to 32x32.
    with Image.open(os.path.join(out, embedding.sprite.image_path)) as sprite:
        sprite = np.asarray(sprite)
    cols = int(np.ceil(np.sqrt(150)))
    assert sprite.shape[:2] == (cols * 32, cols * 32)
    cells = np.stack([sprite[(i // cols) * 32:(i // cols + 1) * 32,
                             (i % cols) * 32:(i % cols + 1) * 32] for i in range(150)])[..., None]
    assert np.array_equal(cells, prepare_images(test.images[indices], 32, 1))
    assert not sprite[(149 // cols) * 32:, (149 % cols + 1) * 32:].any()  # Blank after the last.

    # The checkpoint tensor is the SavedModel's `features` of those images, called directly.
    reader = tf.train.load_checkpoint(out)
    tensor = reader.get_tensor(embedding.tensor_name)
    assert tensor.shape[0] == 150
    loaded = tf.saved_model.load(model)
    direct = loaded.signatures["features"](images=tf.constant(cells))["features"]
    np.testing.assert_allclose(tensor, direct.numpy(), rtol=1e-4, atol=1e-4)
    assert tensor.shape[1] == direct.shape[1]


def test_project_refuses_a_directory_of_other_files(digits_export, tmp_path):
    from dcgan_tf.investigations.common import InvestigateError
    from dcgan_tf.investigations.projector import project

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InvestigateError, match="holds other files"):
        project(digits_export[1], str(tmp_path), n=10)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_sprite_shrinks_cells_past_the_projectors_limit():
    from dcgan_tf.investigations.projector import MAX_SPRITE_SIDE, sprite_image

    pixels = np.random.default_rng(0).integers(0, 255, (300, 512, 512, 1), np.uint8)
    sprite, cell = sprite_image(pixels)
    assert cell == MAX_SPRITE_SIDE // 18 and sprite.shape == (18 * cell, 18 * cell, 1)
    assert sprite.shape[0] <= MAX_SPRITE_SIDE
