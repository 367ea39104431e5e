"""A user's own labelled (or unlabelled) images in one `.npz` file: `--dataset npz --data-dir F`.

Keys: `x` uint8 (N, H, W, C), C in {1, 3} (or (N, H, W) grey); optionally `y` integer labels
(N,); optionally `x_test`/`y_test`. Without `x_test` the last `test_fraction` of the rows is
the test split (0.25 unless the file holds a scalar `test_fraction`), so a file whose rows are
already shuffled needs nothing else: `cifar10_train_dev20k.npz` (20,000 rows) trains on its
first 15,000 and tests on its last 5,000.
"""

import os
import zipfile

import numpy as np

from dcgan_tf.config import MAX_IMAGE_SIZE
from dcgan_tf.data.formats import DataError, DataNotFoundError

DEFAULT_TEST_FRACTION = 0.25
SPLITS = ("train", "test")
# Largest image side read from a file: 4096 (a 4096x4096 model is already beyond what DCGAN
# trains; larger sides are refused before any model is built or pixel read).
MAX_IMAGE_SIDE = MAX_IMAGE_SIZE


def _open(path):
    if path is None:
        raise DataNotFoundError(
            "The npz dataset needs its file: --data-dir FILE.npz (keys x uint8 NHWC, optional y).")
    if not os.path.isfile(path):
        raise DataNotFoundError(f"npz file not found: {path}. Pass --data-dir FILE.npz.")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as e:
        raise DataError(f"Cannot read {path} as a NumPy .npz file: {e}") from None


def _images(path, data, key):
    shape, dtype = _header(path, key)  # Refuse object arrays by their header, before reading.
    if dtype != np.uint8:
        raise DataError(
            f"Expected `{key}` in {path} to be uint8 (N, H, W, C) with C in {{1, 3}} and N > 0. "
            f"Received: {key} {dtype} {shape}")
    x = data[key]
    if x.ndim == 3:
        x = x[..., None]
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] not in (1, 3) or len(x) == 0:
        raise DataError(
            f"Expected `{key}` in {path} to be uint8 (N, H, W, C) with C in {{1, 3}} and N > 0. "
            f"Received: {key} {x.dtype} {x.shape}")
    return x


def _labels(path, data, key, count):
    if key not in data.files:
        return None
    y = data[key]
    if not np.issubdtype(y.dtype, np.integer) or y.ndim != 1 or len(y) != count or (
            len(y) and y.min() < 0):
        raise DataError(
            f"Expected `{key}` in {path} to be non-negative integers of shape ({count},). "
            f"Received: {key} {y.dtype} {y.shape}")
    return y.astype(np.int64)


def _test_fraction(path, data):
    if "test_fraction" not in data.files:
        return DEFAULT_TEST_FRACTION
    fraction = data["test_fraction"]
    if fraction.shape != () or not 0 < float(fraction) < 1:
        raise DataError(
            f"Expected `test_fraction` in {path} to be a scalar in (0, 1). Received: {fraction}")
    return float(fraction)


def _header(path, key):
    """`(shape, dtype)` of array `key` in the .npz at `path`, from its header (no data read)."""
    with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as f:
        major, _ = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if major == 1
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(f)
    return tuple(shape), dtype


def available_memory():
    """Bytes of memory available to a new allocation (Linux `MemAvailable`); `None` if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_sizes(path):
    """Refuses, from the headers alone, arrays of `path` that would fail or exhaust memory.

    Image sides must be in [1, `MAX_IMAGE_SIDE`]; the images of all splits must fit twice
    into the available memory (loaded, then split or converted).

    Raises:
        DataError: a zero or too large side, or more memory than is available; the message
            gives the estimate.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            keys = [k[:-4] for k in archive.namelist() if k in ("x.npy", "x_test.npy")]
    except (OSError, zipfile.BadZipFile) as e:
        raise DataError(f"Cannot read {path} as a NumPy .npz file: {e}") from None
    total = 0
    for key in keys:
        try:
            shape, dtype = _header(path, key)
        except (OSError, ValueError, zipfile.BadZipFile) as e:
            raise DataError(f"Cannot read `{key}` in {path}: {e}") from None
        if len(shape) in (3, 4) and not all(1 <= side <= MAX_IMAGE_SIDE for side in shape[1:3]):
            raise DataError(
                f"Expected `{key}` in {path} to hold images with sides in [1, {MAX_IMAGE_SIDE}]. "
                f"Received: {key} {shape}")
        total += int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    available = available_memory()
    if available is not None and 2 * total > available:
        raise DataError(
            f"{path} holds {total / 1e9:.1f} GB of images; loading it needs about "
            f"{2 * total / 1e9:.1f} GB of memory and {available / 1e9:.1f} GB is available. "
            "Use a smaller file or a machine with more memory.")


def load_arrays(path, split="train"):
    """Reads one split of a `.npz` dataset.

    Args:
        path: The `.npz` file.
        split: `"train"` or `"test"`. Defaults to `"train"`.

    Returns:
        `(images, labels, num_classes)`: uint8 (N, H, W, C); int64 (N,) and the class count
        (max label + 1, over both splits), or `None, None` when the file has no `y`.

    Raises:
        DataError: Unknown split, unreadable file, missing `x`, or a key of the wrong dtype or
            shape (`DataNotFoundError` for a missing file).
    """
    if split not in SPLITS:
        raise DataError(f"Unknown split {split!r} for npz. Expected one of: {', '.join(SPLITS)}.")
    with _open(path) as data:
        check_sizes(path)  # From the headers, before any array is read.
        if "x" not in data.files:
            raise DataError(
                f"{path} has no `x` key (it has: {', '.join(data.files) or 'nothing'}). Expected "
                "`x` uint8 (N, H, W, C), optional `y` integer labels, `x_test`, `y_test`.")
        x = _images(path, data, "x")
        y = _labels(path, data, "y", len(x))
        if "x_test" in data.files:
            x_test = _images(path, data, "x_test")
            y_test = _labels(path, data, "y_test", len(x_test))
            if x_test.shape[1:] != x.shape[1:]:
                raise DataError(f"Expected `x_test` in {path} to have images of shape "
                                f"{x.shape[1:]} like `x`. Received: x_test {x_test.shape}")
        else:
            cut = len(x) - int(round(_test_fraction(path, data) * len(x)))
            if not 0 < cut < len(x):
                raise DataError(f"{path} has {len(x)} rows: too few to split into train and test.")
            x, x_test = x[:cut], x[cut:]
            y, y_test = (None, None) if y is None else (y[:cut], y[cut:])
    if (y is None) != (y_test is None):
        raise DataError(f"{path} labels one split but not the other: give both `y` and `y_test`.")
    num_classes = None if y is None else int(max(y.max(), y_test.max())) + 1
    if split == "train":
        return x, y, num_classes
    return x_test, y_test, num_classes


def image_shape(path):
    """`(height, width, channels)` of the file's `x`, read from its header, not its pixels.

    Raises:
        DataError: As `load_arrays`.
    """
    if path is None or not os.path.isfile(path):
        _open(path)
    try:
        shape, dtype = _header(path, "x")
    except KeyError:
        return load_arrays(path)[0].shape[1:]  # reports the missing key
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise DataError(f"Cannot read {path} as a NumPy .npz file: {e}") from None
    if len(shape) == 3:
        shape = (*shape, 1)
    if dtype != np.uint8 or len(shape) != 4 or shape[-1] not in (1, 3):
        raise DataError(
            f"Expected `x` in {path} to be uint8 (N, H, W, C) with C in {{1, 3}}. "
            f"Received: x {dtype} {shape}")
    check_sizes(path)
    return tuple(shape[1:])
