"""The user's own `.npz` dataset: splits, registration in train/probe, and its error messages."""

import os

import numpy as np
import pytest
from click.testing import CliRunner

from dcgan_tf.data import datasets as data
from dcgan_tf.data import npz
from dcgan_tf.data.formats import DataError, DataNotFoundError

DEV_SET = "/work/shared/data/cifar10_train_dev20k.npz"


def _write(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def _images(n, size=8, channels=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, channels), dtype=np.uint8)


def test_last_quarter_is_the_test_split(tmp_path):
    x, y = _images(20), np.arange(20) % 4
    path = _write(tmp_path / "d.npz", x=x, y=y)
    train, test = data.load_split("npz", "train", path), data.load_split("npz", "test", path)
    np.testing.assert_array_equal(train.images, x[:15])
    np.testing.assert_array_equal(test.images, x[15:])
    np.testing.assert_array_equal(test.labels, y[15:])
    assert train.num_classes == test.num_classes == 4


def test_explicit_test_keys_fraction_and_grey(tmp_path):
    x = _images(10, channels=1)[..., 0]  # (N, H, W) grey
    path = _write(tmp_path / "d.npz", x=x, y=np.zeros(10, np.int32), x_test=x[:3],
                  y_test=np.array([0, 1, 2]))
    train, test = data.load_split("npz", "train", path), data.load_split("npz", "test", path)
    assert train.images.shape == (10, 8, 8, 1) and test.images.shape == (3, 8, 8, 1)
    assert train.num_classes == 3
    path = _write(tmp_path / "f.npz", x=_images(10), test_fraction=0.5)
    unlabelled = data.load_split("npz", "test", path)
    assert len(unlabelled) == 5 and unlabelled.labels is None


def test_native_shape_reads_the_header(tmp_path):
    assert data.native_shape("npz", _write(tmp_path / "a.npz", x=_images(4, 28, 1))) == (32, 1)
    assert data.native_shape("npz", _write(tmp_path / "b.npz", x=_images(4, 33, 3))) == (64, 3)


@pytest.mark.parametrize("arrays, match", [
    ({"y": np.zeros(4, np.int64)}, "has no `x` key"),
    ({"x": np.zeros((4, 8, 8, 3), np.float32)}, r"Expected `x` .* uint8 .*Received: x float32"),
    ({"x": np.zeros((4, 8, 8, 2), np.uint8)}, r"Received: x uint8 \(4, 8, 8, 2\)"),
    ({"x": np.zeros((4, 8, 8, 3), np.uint8), "y": np.zeros(3, np.int64)}, r"Expected `y`.*\(4,\)"),
    ({"x": np.zeros((4, 8, 8, 3), np.uint8), "y": np.zeros(4, np.float32)}, "Expected `y`"),
])
def test_bad_arrays(tmp_path, arrays, match):
    path = _write(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=match):
        data.load_split("npz", "train", path)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(DataNotFoundError, match="npz file not found"):
        data.load_split("npz", "train", str(tmp_path / "none.npz"))
    with pytest.raises(DataNotFoundError, match="--data-dir FILE.npz"):
        data.load_split("npz", "train", None)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="Cannot read .* as a NumPy .npz file"):
        data.load_split("npz", "train", str(junk))
    with pytest.raises(DataError, match="Cannot read"):
        data.native_shape("npz", str(junk))
    with pytest.raises(DataError, match="Unknown split"):
        npz.load_arrays(str(junk), "extra")


def test_cli_errors_are_one_line(tmp_path):
    from dcgan_tf_cli.main import cli

    path = _write(tmp_path / "bad.npz", x=np.zeros((4, 8, 8), np.float64))
    for args in (["train", "--dataset", "npz", "--data-dir", path, "--max-steps", "1"],
                 ["probe", "--dataset", "npz", "--data-dir", path, "--baseline", "pixels"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, result.output
        assert result.output.startswith("Error: Expected `x`") and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_unlabelled_probe_says_which_keys(tmp_path):
    from dcgan_tf.probe.run import ProbeError, load_labelled

    path = _write(tmp_path / "u.npz", x=_images(8))
    with pytest.raises(ProbeError, match="needs a `y` key"):
        load_labelled("npz", path)


def test_train_and_probe_on_npz(tmp_path):
    from dcgan_tf.config import TrainConfig
    from dcgan_tf.probe.protocol import ProbeConfig
    from dcgan_tf.probe.run import run_probe
    from dcgan_tf.training.run import train

    digits_train, digits_test = data.load_split("digits", "train"), data.load_split("digits", "test")
    path = _write(tmp_path / "digits.npz", x=digits_train.images, y=digits_train.labels,
                  x_test=digits_test.images, y_test=digits_test.labels)
    summary = train(TrainConfig(out=str(tmp_path / "run"), dataset="npz", data_dir=path,
                                max_steps=2, batch_size=32), verbose=0)
    assert summary["step"] == 2 and summary["model"]["image_size"] == 32
    report = run_probe("pixels", "npz", path, ProbeConfig(labels=100, validation=100, repeats=1,
                                                            cache=False))
    assert report["sizes"]["test"] == len(digits_test) and report["accuracy_mean"] > 0.7


@pytest.mark.skipif(not os.path.isfile(DEV_SET), reason="shared dev set not present")
def test_dev_set_gives_the_benchmark_protocol():
    train, test = data.load_split("npz", "train", DEV_SET), data.load_split("npz", "test", DEV_SET)
    assert len(train) == 15_000 and len(test) == 5_000 and train.num_classes == 10
    with np.load(DEV_SET) as raw:
        np.testing.assert_array_equal(test.images, raw["x"][15_000:])
