"""Tests for dcgan_tf.data.datasets and dcgan_tf.data.formats: each format against files written with NumPy."""

import collections
import gzip
import hashlib
import logging
import os
import pickle
import time
import types
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.io  # noqa: E402
from PIL import Image  # noqa: E402

from dcgan_tf.data import datasets as data  # noqa: E402
from dcgan_tf.data.datasets import DataError, DataNotFoundError, PipelineConfig  # noqa: E402

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def _rng(seed=0):
    return np.random.default_rng(seed)


def _shared_data_file(name):
    """A file of the shared real-data folder, from $DCGAN_SHARED_DATA or beside the repo."""
    roots = [os.environ.get("DCGAN_SHARED_DATA"),
             Path(__file__).resolve().parents[2] / "shared" / "data"]
    for root in roots:
        if root and (Path(root) / name).is_file():
            return Path(root) / name
    pytest.skip(f"{name} not found in $DCGAN_SHARED_DATA or ../shared/data")


# SVHN -------------------------------------------------------------------------------------------


def _write_svhn(path, images, digits):
    """Writes images (N, 32, 32, 3) and digits 0..9 in SVHN's layout: X (32, 32, 3, N), y 1..10."""
    y = np.where(digits == 0, 10, digits).astype(np.float64).reshape(-1, 1)
    scipy.io.savemat(path, {"X": images.transpose(1, 2, 3, 0), "y": y}, do_compression=True)


@pytest.fixture
def svhn_dir(tmp_path):
    rng = _rng()
    arrays = {}
    for split, n in (("train", 20), ("test", 7)):
        images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        digits = np.arange(n) % 10  # includes 0, stored as 10
        _write_svhn(tmp_path / f"{split}_32x32.mat", images, digits)
        arrays[split] = images, digits
    return tmp_path, arrays


def test_svhn_layout_and_labels(svhn_dir):
    root, arrays = svhn_dir
    for split in ("train", "test"):
        got = data.load_split("svhn", split, data_dir=str(root), verify=False)
        images, digits = arrays[split]
        np.testing.assert_array_equal(got.images, images)
        np.testing.assert_array_equal(got.labels, digits)
        assert got.images.dtype == np.uint8 and got.labels.dtype == np.int64
        assert got.num_classes == 10


def test_svhn_raw_layout_is_transposed(tmp_path):
    # Independent of the writer above: X[h, w, c, n] must land at images[n, h, w, c].
    x = _rng(1).integers(0, 256, (32, 32, 3, 4), dtype=np.uint8)
    scipy.io.savemat(tmp_path / "train_32x32.mat", {"X": x, "y": np.full((4, 1), 10.0)},
                     do_compression=True)
    got = data.load_split("svhn", data_dir=str(tmp_path), verify=False)
    assert got.images[2, 5, 7, 1] == x[5, 7, 1, 2]
    np.testing.assert_array_equal(got.images[3], x[..., 3])
    np.testing.assert_array_equal(got.labels, [0, 0, 0, 0])


def test_svhn_real_pixels_round_trip(tmp_path):
    x = np.load(_shared_data_file("svhn_train_first1083_unlabeled.npz"))["x"]
    assert x.shape == (1083, 32, 32, 3) and x.dtype == np.uint8
    _write_svhn(tmp_path / "train_32x32.mat", x, np.zeros(len(x), np.int64))
    got = data.load_split("svhn", data_dir=str(tmp_path), verify=False)
    np.testing.assert_array_equal(got.images, x)


def test_svhn_verify_refuses_wrong_size(svhn_dir):
    root, _ = svhn_dir
    with pytest.raises(DataError, match=r"train_32x32\.mat is .* bytes, expected 182,040,794.*--no-verify"):
        data.load_split("svhn", data_dir=str(root), verify=True)


def test_svhn_verify_hash(svhn_dir, monkeypatch):
    root, _ = svhn_dir
    path = root / "train_32x32.mat"
    size, sha = path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setitem(data.SVHN_FILES, "train", ("train_32x32.mat", size, "0" * 64))
    with pytest.raises(DataError, match=f"has sha256 {sha}, expected 0000"):
        data.load_split("svhn", data_dir=str(root))
    monkeypatch.setitem(data.SVHN_FILES, "train", ("train_32x32.mat", size, sha))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data.load_split("svhn", data_dir=str(root))


def test_svhn_verify_false_is_silent(svhn_dir):
    root, _ = svhn_dir
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data.load_split("svhn", data_dir=str(root), verify=False)


def test_svhn_missing_file_names_path(tmp_path):
    with pytest.raises(DataNotFoundError, match="ufldl.stanford.edu") as info:
        data.load_split("svhn", "test", data_dir=str(tmp_path))
    assert str(tmp_path / "test_32x32.mat") in str(info.value)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)


def test_svhn_corrupt_file(tmp_path):
    (tmp_path / "train_32x32.mat").write_bytes(_rng().integers(0, 256, 5000, np.uint8).tobytes())
    with pytest.raises(DataError, match="Corrupt SVHN file .*train_32x32.mat.*Re-download"):
        data.load_split("svhn", data_dir=str(tmp_path), verify=False)


def test_svhn_truncated_file(svhn_dir):
    root, _ = svhn_dir
    path = root / "train_32x32.mat"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="Corrupt SVHN file"):
        data.load_split("svhn", data_dir=str(root), verify=False)


@pytest.mark.parametrize("variables", [
    {"X": np.zeros((32, 32, 3, 2), np.uint8)},
    {"X": np.zeros((28, 28, 2), np.uint8), "y": np.ones((2, 1))},
    {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.ones((3, 1))},
])
def test_svhn_wrong_layout(tmp_path, variables):
    scipy.io.savemat(tmp_path / "train_32x32.mat", variables)
    with pytest.raises(DataError, match="SVHN file"):
        data.load_split("svhn", data_dir=str(tmp_path), verify=False)


def test_svhn_train_plus_extra(svhn_dir):
    root, arrays = svhn_dir
    images, digits = arrays["test"]
    _write_svhn(root / "extra_32x32.mat", images, digits)
    got = data.load_split("svhn", "train+extra", data_dir=str(root), verify=False)
    np.testing.assert_array_equal(got.images, np.concatenate([arrays["train"][0], images]))
    np.testing.assert_array_equal(got.labels, np.concatenate([arrays["train"][1], digits]))


# TFDS -------------------------------------------------------------------------------------------


def _write_tfds(data_dir, name, split_images, labels=None, version=None):
    """Prepares a real on-disk TFDS directory for `name` from NumPy images (no download)."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=str(data_dir))
    features, folder = builder.info.features, builder.data_dir
    if version:  # as prepared by another TFDS release
        folder = os.path.join(os.path.dirname(folder), version)
    os.makedirs(folder)
    for split, images in split_images.items():
        path = os.path.join(folder, f"{builder.info.name}-{split}.tfrecord-00000-of-00001")
        with tf.io.TFRecordWriter(path) as writer:
            for i, image in enumerate(images):
                example = {"image": image, "id": str(i), "label": labels[split][i] if labels else 0}
                writer.write(features.serialize_example({k: example[k] for k in features}))
    tfds.folder_dataset.write_metadata(data_dir=folder, features=features, check_data=False)


def test_svhn_falls_back_to_prepared_tfds(tmp_path):
    images = _rng().integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    _write_tfds(tmp_path, "svhn_cropped", {"test": images}, {"test": [3, 1, 4, 1, 5]})
    got = data.load_split("svhn", "test", data_dir=str(tmp_path))
    np.testing.assert_array_equal(got.images, images)
    np.testing.assert_array_equal(got.labels, [3, 1, 4, 1, 5])
    image, label = next(iter(data.tfds_dataset("svhn", "test", data_dir=str(tmp_path))))
    assert image.dtype.name == "uint8" and label.dtype.name == "int64"
    np.testing.assert_array_equal(image.numpy(), images[0])
    with pytest.raises(DataError, match="Unknown split 'train'"):
        data.tfds_dataset("svhn", "train", data_dir=str(tmp_path))


def test_tfds_other_prepared_version_is_read(tmp_path):
    images = _rng().integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    _write_tfds(tmp_path, "svhn_cropped", {"train": images}, {"train": [7, 8, 9]}, version="3.0.0")
    got = data.load_split("svhn", data_dir=str(tmp_path))
    np.testing.assert_array_equal(got.images, images)
    np.testing.assert_array_equal(got.labels, [7, 8, 9])


def test_tfds_train_dataset_streams_crops_and_normalises(tmp_path):
    # This dataset stores JPEG: flat colours survive it within a step or two.
    colours = np.array([(40 * i, 250 - 40 * i, 100) for i in range(6)], np.uint8)
    square = np.broadcast_to(colours[:, None, None, :], (6, 32, 32, 3))
    _write_tfds(tmp_path, "downsampled_imagenet/32x32", {"train": square})
    ds, count = data.train_dataset("downsampled_imagenet/32x32", 32, 3, batch_size=6,
                                   config=PipelineConfig(seed=1, data_dir=str(tmp_path)))
    assert count == 6 and ds.element_spec.shape == (6, 32, 32, 3)
    _, label = next(iter(data.tfds_dataset("downsampled_imagenet/32x32", data_dir=str(tmp_path))))
    assert int(label) == -1  # unlabelled
    batch = next(iter(ds)).numpy()
    expected = square.astype(np.float32) / 127.5 - 1
    order = [int(np.argmin(np.abs(expected - b).sum(axis=(1, 2, 3)))) for b in batch]
    assert sorted(order) == list(range(6))  # one pass is a permutation of the examples
    np.testing.assert_allclose(batch, expected[order], atol=3 / 127.5)


def test_tfds_non_square_is_centre_cropped(tmp_path):
    wide = np.zeros((2, 32, 48, 3), np.uint8)
    wide[:, :, 8:40] = 200  # the centre 32 columns
    _write_tfds(tmp_path, "downsampled_imagenet/32x32", {"train": wide})
    ds, _ = data.train_dataset("downsampled_imagenet/32x32", 32, 1, batch_size=2,
                               config=PipelineConfig(data_dir=str(tmp_path)))
    np.testing.assert_allclose(next(iter(ds)).numpy(), 200 / 127.5 - 1, atol=3 / 127.5)


def test_tfds_not_prepared_fails_fast_without_download(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    def no_download(*args, **kwargs):
        raise AssertionError("download_and_prepare must never be called")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", no_download)
    start = time.perf_counter()
    for name in ("celeb_a", "lsun/bedroom", "downsampled_imagenet/32x32"):
        with pytest.raises(DataNotFoundError, match="not prepared.*tfds build"):
            data.tfds_dataset(name, data_dir=str(tmp_path))
    with pytest.raises(DataNotFoundError, match="celeb_a is not prepared"):
        data.train_dataset("celeb_a", 64, 3, 8, PipelineConfig(data_dir=str(tmp_path / "missing")))
    assert time.perf_counter() - start < 5
    assert not any(tmp_path.iterdir())  # nothing was created


def test_load_split_refuses_tfds_names():
    with pytest.raises(DataError, match="tfds_dataset"):
        data.load_split("celeb_a")


# CIFAR-10 ---------------------------------------------------------------------------------------


def _cifar_batches(n_train=3, n_test=2):
    rng = _rng(3)
    return {
        split: (rng.integers(0, 256, (5 * n if split == "train" else n, 32, 32, 3), dtype=np.uint8),
                rng.integers(0, 10, 5 * n if split == "train" else n))
        for split, n in (("train", n_train), ("test", n_test))
    }


def _batch_names(split):
    return [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]


def test_cifar10_binary(tmp_path):
    arrays = _cifar_batches()
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    for split, (images, labels) in arrays.items():
        names = _batch_names(split)
        parts = zip(names, np.split(images, len(names)), np.split(labels, len(names)))
        for name, part, part_labels in parts:
            planes = part.transpose(0, 3, 1, 2).reshape(len(part), -1)  # channel-major R, G, B
            records = np.concatenate([part_labels[:, None].astype(np.uint8), planes], axis=1)
            (folder / f"{name}.bin").write_bytes(records.tobytes())
    for split, (images, labels) in arrays.items():
        got = data.load_split("cifar10", split, data_dir=str(tmp_path))
        np.testing.assert_array_equal(got.images, images)
        np.testing.assert_array_equal(got.labels, labels)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar10_python_pickles(tmp_path, protocol):
    arrays = _cifar_batches()
    for split, (images, labels) in arrays.items():
        names = _batch_names(split)
        parts = zip(names, np.split(images, len(names)), np.split(labels, len(names)))
        for name, part, part_labels in parts:
            batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in part_labels],
                     b"data": part.transpose(0, 3, 1, 2).reshape(len(part), 3072),
                     b"filenames": [b"x.png"] * len(part)}
            (tmp_path / name).write_bytes(pickle.dumps(batch, protocol=protocol))
    for split, (images, labels) in arrays.items():
        got = data.load_split("cifar10", split, data_dir=str(tmp_path))  # files directly in it
        np.testing.assert_array_equal(got.images, images)
        np.testing.assert_array_equal(got.labels, labels)


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_cifar10_malicious_pickle_is_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    marker = tmp_path / "pwned"
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": _Exploit(marker), b"labels": []}))
    with pytest.raises(DataError, match="Refusing to unpickle (posix|os|nt).system"):
        data.load_split("cifar10", "test", data_dir=str(tmp_path))
    assert not marker.exists()


def test_cifar10_corrupt_and_missing(tmp_path):
    with pytest.raises(DataNotFoundError, match="cifar-10-batches-bin.*cs.toronto.edu"):
        data.load_split("cifar10", "test", data_dir=str(tmp_path))
    (tmp_path / "test_batch.bin").write_bytes(b"\x00" * 3000)
    with pytest.raises(DataError, match="not a whole number of 3073-byte records"):
        data.load_split("cifar10", "test", data_dir=str(tmp_path))
    (tmp_path / "test_batch.bin").unlink()
    (tmp_path / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="Corrupt CIFAR-10 file"):
        data.load_split("cifar10", "test", data_dir=str(tmp_path))


# MNIST idx --------------------------------------------------------------------------------------


def _idx_bytes(magic, array):
    header = np.array([magic, *array.shape], dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def _write_idx_set(folder, gz, n_train=6, n_test=4, swap=False):
    rng = _rng(4)
    arrays = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n)
        files = {f"{prefix}-images-idx3-ubyte": _idx_bytes(2051, images),
                 f"{prefix}-labels-idx1-ubyte": _idx_bytes(2049, labels)}
        if swap:
            files = dict(zip(files, reversed(list(files.values()))))
        for name, payload in files.items():
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(payload))
            else:
                (folder / name).write_bytes(payload)
        arrays[split] = images, labels
    return arrays


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx(tmp_path, gz, name):
    arrays = _write_idx_set(tmp_path, gz)
    for split, (images, labels) in arrays.items():
        got = data.load_split(name, split, data_dir=str(tmp_path))
        assert got.images.shape == (len(images), 28, 28, 1)
        np.testing.assert_array_equal(got.images[..., 0], images)
        np.testing.assert_array_equal(got.labels, labels)


def test_idx_bad_magic_truncated_and_missing(tmp_path):
    _write_idx_set(tmp_path, gz=False, swap=True)
    with pytest.raises(DataError, match="magic number 2049, expected 2051"):
        data.load_split("mnist", data_dir=str(tmp_path))
    _write_idx_set(tmp_path, gz=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DataError, match="Corrupt idx file"):
        data.load_split("mnist", "test", data_dir=str(tmp_path))
    with pytest.raises(DataNotFoundError, match="apt-get install dataset-fashion-mnist"):
        data.load_split("fashion_mnist", data_dir=str(tmp_path / "nowhere"))


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="dataset-fashion-mnist not installed")
def test_fashion_mnist_real_files():
    for split, n in (("train", 60000), ("test", 10000)):
        got = data.load_split("fashion_mnist", split)  # Debian's folder by default
        assert got.images.shape == (n, 28, 28, 1) and got.images.dtype == np.uint8
        np.testing.assert_array_equal(np.unique(got.labels), np.arange(10))
        assert np.bincount(got.labels).min() == n // 10  # balanced classes


# digits -----------------------------------------------------------------------------------------


def test_digits_split():
    from sklearn.datasets import load_digits

    digits = load_digits()
    train, test = data.load_split("digits", "train"), data.load_split("digits", "test")
    assert len(train) + len(test) == 1797 and len(test) == 360
    assert train.images.shape[1:] == (8, 8, 1) and train.images.dtype == np.uint8
    expected = np.round(digits.images * 255 / 16).astype(np.uint8)
    key = lambda images, labels: collections.Counter(  # noqa: E731
        (im.tobytes(), int(lab)) for im, lab in zip(images.reshape(len(images), -1), labels))
    got = key(train.images, train.labels) + key(test.images, test.labels)
    assert got == key(expected, digits.target)  # a partition of the 1797 examples
    again = data.load_split("digits", "train")
    np.testing.assert_array_equal(again.images, train.images)
    np.testing.assert_array_equal(again.labels, train.labels)


def test_unknown_dataset_and_split():
    with pytest.raises(DataError, match="Unknown dataset 'imagenet'.*digits.*celeb_a"):
        data.load_split("imagenet")
    with pytest.raises(DataError, match="Unknown split 'val' for digits.*train, test"):
        data.load_split("digits", "val")
    with pytest.raises(DataError, match="Unknown dataset"):
        data.train_dataset("nope", 32, 1, 8)


def test_native_shape():
    assert data.native_shape("digits") == (32, 1)
    assert data.native_shape("svhn") == (32, 3)
    assert data.native_shape("fashion_mnist") == (32, 1)
    assert data.native_shape("lsun/bedroom") == (64, 3)
    assert set(data.DATASETS) == set(data.IN_MEMORY_DATASETS) | set(data.TFDS_DATASETS)


# folder -----------------------------------------------------------------------------------------


def _png(path, color, size=(64, 64), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)


def test_folder_labelled(tmp_path):
    _png(tmp_path / "train" / "dog" / "a.png", (0, 0, 255))
    _png(tmp_path / "train" / "cat" / "b.png", (255, 0, 0))
    _png(tmp_path / "train" / "cat" / "c.jpg", (0, 255, 0))
    _png(tmp_path / "test" / "dog" / "d.png", 77, mode="L")  # grey becomes RGB
    train = data.load_split("folder", "train", data_dir=str(tmp_path))
    assert train.images.shape == (3, 64, 64, 3) and train.num_classes == 2
    np.testing.assert_array_equal(train.labels, [0, 0, 1])  # cat, cat, dog (sorted names)
    np.testing.assert_array_equal(train.images[0, 10, 10], [255, 0, 0])
    np.testing.assert_allclose(train.images[1, 10, 10], [0, 255, 0], atol=2)  # JPEG
    test = data.load_split("folder", "test", data_dir=str(tmp_path))
    np.testing.assert_array_equal(test.images, np.full((1, 64, 64, 3), 77, np.uint8))


def test_folder_flat_crops_and_resizes(tmp_path):
    image = np.zeros((100, 140, 3), np.uint8)
    image[:, 20:120] = (10, 20, 30)  # the centre 100x100 square
    Image.fromarray(image).save(tmp_path / "wide.png")
    _png(tmp_path / "small.png", (1, 2, 3), size=(16, 16))
    got = data.load_split("folder", data_dir=str(tmp_path))
    assert got.labels is None and got.num_classes is None
    assert got.images.shape == (2, 64, 64, 3)
    np.testing.assert_array_equal(got.images[0], np.broadcast_to([1, 2, 3], (64, 64, 3)))
    np.testing.assert_array_equal(got.images[1], np.broadcast_to([10, 20, 30], (64, 64, 3)))
    with pytest.raises(DataNotFoundError, match="Split folder not found"):
        data.load_split("folder", "test", data_dir=str(tmp_path))


def test_folder_train_dataset_reads_at_training_size(tmp_path):
    for i in range(4):
        _png(tmp_path / f"{i}.png", (60 * i, 10, 250), size=(80, 80))
    ds, count = data.train_dataset("folder", 32, 3, 4, PipelineConfig(data_dir=str(tmp_path)))
    batch = np.round((next(iter(ds)).numpy() + 1) * 127.5)
    assert count == 4 and batch.shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(np.unique(batch[..., 0]), [0, 60, 120, 180])
    np.testing.assert_array_equal(np.unique(batch[..., 1:]), [10, 250])


def test_folder_empty_and_corrupt(tmp_path):
    with pytest.raises(DataError, match="No images in"):
        data.load_split("folder", data_dir=str(tmp_path))
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="Corrupt image file .*bad.png"):
        data.load_split("folder", data_dir=str(tmp_path))
    with pytest.raises(DataNotFoundError, match="Image folder not found"):
        data.load_split("folder", data_dir=str(tmp_path / "missing"))


# prepare_images ---------------------------------------------------------------------------------


def test_prepare_images_channels_crop_and_resize():
    rng = _rng(5)
    rgb = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    assert data.prepare_images(rgb, 32, 3) is rgb
    grey = data.prepare_images(rgb, 32, 1)
    luminance = rgb.astype(np.float64) @ [0.2989, 0.5870, 0.1140]
    assert grey.shape == (3, 32, 32, 1) and grey.dtype == np.uint8
    assert np.abs(grey[..., 0] - luminance).max() <= 0.51
    mono = rng.integers(0, 256, (2, 32, 32, 1), dtype=np.uint8)
    np.testing.assert_array_equal(data.prepare_images(mono, 32, 3), np.repeat(mono, 3, axis=-1))
    wide = rng.integers(0, 256, (2, 32, 40, 3), dtype=np.uint8)
    np.testing.assert_array_equal(data.prepare_images(wide, 32, 3), wide[:, :, 4:36])
    flat = np.full((2, 8, 8, 1), 123, np.uint8)
    np.testing.assert_array_equal(data.prepare_images(flat, 32, 1), np.full((2, 32, 32, 1), 123))
    stripes = np.zeros((1, 64, 64, 1), np.uint8)
    stripes[:, :, 1::2] = 200  # a 1-pixel pattern averages to 100 when halved with antialiasing
    halved = data.prepare_images(stripes, 32, 1)
    np.testing.assert_allclose(halved[:, :, 1:-1], 100, atol=1)  # the borders renormalise
    with pytest.raises(ValueError, match="Expected `images` to be uint8"):
        data.prepare_images(np.zeros((2, 8, 8, 3), np.float32), 32, 3)


# train_dataset ----------------------------------------------------------------------------------


def test_train_dataset_batches(svhn_dir):
    root, arrays = svhn_dir
    images = arrays["train"][0]
    ds, count = data.train_dataset("svhn", 32, 3, batch_size=8,
                                   config=PipelineConfig(seed=3, data_dir=str(root), verify=False))
    assert count == 20
    assert ds.element_spec.shape == (8, 32, 32, 3) and ds.element_spec.dtype.name == "float32"
    batches = np.concatenate([b.numpy() for b in ds.take(5)])  # 40 images: two passes
    assert batches.min() >= -1 and batches.max() <= 1
    expected = images.astype(np.float32) / 127.5 - 1
    order = [int(np.argmin(np.abs(expected - b).sum(axis=(1, 2, 3)))) for b in batches]
    np.testing.assert_allclose(batches, expected[order], atol=1e-6)
    assert sorted(order[:20]) == sorted(order[20:]) == list(range(20))  # each pass a permutation
    assert order[:20] != order[20:]  # reshuffled every pass
    # A fresh pipeline with the same seed repeats the first iteration's batches exactly.
    again, _ = data.train_dataset("svhn", 32, 3, 8,
                                  PipelineConfig(seed=3, data_dir=str(root), verify=False))
    other, _ = data.train_dataset("svhn", 32, 3, 8,
                                  PipelineConfig(seed=4, data_dir=str(root), verify=False))
    np.testing.assert_array_equal(next(iter(again)).numpy(), batches[:8])
    assert not np.array_equal(next(iter(other)).numpy(), batches[:8])
    # On one private thread (training's pipeline on CPUs), the same batches in the same order.
    one, _ = data.train_dataset("svhn", 32, 3, 8, PipelineConfig(seed=3, data_dir=str(root),
                                                                   verify=False, threads=1))
    np.testing.assert_array_equal(np.concatenate([b.numpy() for b in one.take(5)]), batches)


def test_train_dataset_resizes_with_message(caplog):
    with caplog.at_level(logging.WARNING, logger="dcgan_tf.data.datasets"):
        ds, count = data.train_dataset("digits", 32, 1, batch_size=16)
    assert "digits images are 8x8 grey; resizing to 32x32." in caplog.text
    assert count == 1437
    assert next(iter(ds)).shape == (16, 32, 32, 1)


def test_train_dataset_batch_size_errors(svhn_dir):
    root, _ = svhn_dir
    with pytest.raises(DataError, match="has 20 examples, fewer than batch_size 32"):
        data.train_dataset("svhn", 32, 3, 32, PipelineConfig(data_dir=str(root), verify=False))
    strategy = types.SimpleNamespace(num_replicas_in_sync=3)
    with pytest.raises(DataError, match="Batch size 8 is not a multiple of the 3 replicas"):
        data.train_dataset("svhn", 32, 3, 8, PipelineConfig(data_dir=str(root)), strategy=strategy)
