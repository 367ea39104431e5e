"""Readers for the on-disk formats behind `dcgan_tf.data.datasets`: MATLAB, idx, CIFAR, image folders.

Each reader takes a path, checks the layout it expects and returns NumPy arrays; every problem
with a file is a `DataError` naming the file and how to fix it, so the CLI can print one line.
"""

import codecs
import gzip
import hashlib
import logging
import os
import pickle
import zlib

import numpy as np
from PIL import Image
from scipy.io import loadmat
from scipy.io.matlab import MatReadError

from dcgan_tf.data.crop import crop_resize_pil

logger = logging.getLogger("dcgan_tf")

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
CIFAR_RECORD_BYTES = 1 + 3 * 32 * 32  # one label byte, then 3x32x32 channel-major pixels
IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension


class DataError(ValueError):
    """A dataset is unknown, missing, corrupt or laid out unexpectedly."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A dataset file or directory does not exist where it was expected."""


def verify_file(path, size, sha256, hint):
    """Refuses a file whose size or SHA-256 differs from the published one (a bad download).

    The hash is computed only when the size matches, streaming, so a truncated download is
    reported at once instead of after hashing it.

    Args:
        path: File to check.
        size: Expected size in bytes.
        sha256: Expected hex digest.
        hint: What to do about a mismatch, appended to the message.

    Returns:
        `True` when both match.

    Raises:
        DataError: the size or the SHA-256 differs.
    """
    actual_size = os.path.getsize(path)
    if actual_size != size:
        raise DataError(f"{path} is {actual_size:,} bytes, expected {size:,}: {hint}")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != sha256:
        raise DataError(f"{path} has sha256 {digest.hexdigest()}, expected {sha256}: {hint}")
    return True


def read_svhn_mat(path):
    """Reads one SVHN cropped-digits `.mat` file (MATLAB 5, `X` (32, 32, 3, N), `y` (N, 1)).

    Args:
        path: A `train_32x32.mat`, `test_32x32.mat` or `extra_32x32.mat`.

    Returns:
        `(images, labels)`: uint8 (N, 32, 32, 3) and int64 (N,) digits 0..9 (SVHN's label 10
        is the digit 0).

    Raises:
        DataError: The file cannot be parsed or is not laid out like SVHN.
    """
    try:
        mat = loadmat(path, variable_names=("X", "y"))
    except (ValueError, TypeError, OSError, EOFError, zlib.error, MatReadError) as err:
        raise DataError(f"Corrupt SVHN file {path}: {err}. Re-download it.") from err
    if "X" not in mat or "y" not in mat:
        raise DataError(
            f"SVHN file {path} lacks the `X` or `y` variable (found: {sorted(mat)}). "
            "Re-download it from http://ufldl.stanford.edu/housenumbers/ (format 2, 32x32)."
        )
    x, y = mat["X"], mat["y"]
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[:3] != (32, 32, 3):
        raise DataError(
            f"SVHN file {path} has `X` {x.dtype} {x.shape}, expected uint8 (32, 32, 3, N). "
            "Re-download it (format 2, cropped digits)."
        )
    labels = np.asarray(y).reshape(-1).astype(np.int64)
    if labels.shape[0] != x.shape[3] or labels.min(initial=1) < 1 or labels.max(initial=1) > 10:
        raise DataError(
            f"SVHN file {path} has {labels.shape[0]} labels for {x.shape[3]} images or labels "
            "outside 1..10. Re-download it."
        )
    return np.ascontiguousarray(x.transpose(3, 0, 1, 2)), labels % 10


def read_idx(path, magic):
    """Reads an idx file (MNIST's format), gzipped or not.

    Args:
        path: An `*-idx3-ubyte` (images) or `*-idx1-ubyte` (labels) file, optionally `.gz`.
        magic: Expected magic number: `IDX_IMAGES_MAGIC` or `IDX_LABELS_MAGIC`.

    Returns:
        uint8 array of the shape in the header: (N, rows, cols) or (N,).

    Raises:
        DataError: Unreadable, wrong magic number, or size not matching the header.
    """
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                data = f.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"Corrupt idx file {path}: {err}. Re-download it.") from err
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DataError(
            f"Bad idx file {path}: magic number {found}, expected {magic}. "
            "Check the file names (images vs labels) or re-download it."
        )
    ndim = magic & 0xFF
    if len(data) < 4 * (1 + ndim):
        raise DataError(f"Corrupt idx file {path}: only {len(data)} bytes. Re-download it.")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 * (1 + ndim))
    if body.size != int(np.prod(shape)):
        raise DataError(
            f"Corrupt idx file {path}: header says {shape} ({int(np.prod(shape))} bytes), "
            f"found {body.size} bytes. Re-download it."
        )
    return body.reshape(shape)


def read_cifar_binary(path):
    """Reads a CIFAR-10 binary batch: records of 1 label byte and 3072 channel-major pixels.

    Returns:
        `(images, labels)`: uint8 (N, 32, 32, 3) and int64 (N,).

    Raises:
        DataError: The size is not a whole number of records or a label is not 0..9.
    """
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % CIFAR_RECORD_BYTES:
        raise DataError(
            f"Corrupt CIFAR-10 file {path}: {raw.size} bytes is not a whole number of "
            f"{CIFAR_RECORD_BYTES}-byte records. Re-download cifar-10-binary.tar.gz."
        )
    records = raw.reshape(-1, CIFAR_RECORD_BYTES)
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), _cifar_labels(records[:, 0], path)


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds NumPy arrays and plain containers, and nothing else.

    CIFAR's Python batches are pickles, and unpickling runs any callable the file names; this
    allows only the few NumPy functions that reconstruct arrays.
    """

    def __init__(self, file, path):
        super().__init__(file, encoding="bytes")  # Python 2 str -> bytes, as CIFAR wrote them
        self.path = path

    def find_class(self, module, name):
        allowed = _allowed_globals()
        if (module, name) not in allowed:
            raise DataError(
                f"Refusing to unpickle {module}.{name} from {self.path}: a CIFAR-10 batch holds "
                "only NumPy arrays. Use the official cifar-10-python.tar.gz or the binary version."
            )
        return allowed[(module, name)]


def _allowed_globals():
    """The NumPy callables CIFAR pickles need, under their NumPy 1 and NumPy 2 module names."""
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # NumPy 1.x
        from numpy.core import multiarray, numeric
    allowed = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        # Python 3 writes bytes in protocols 0-2 as _codecs.encode(text, "latin1").
        ("_codecs", "encode"): codecs.encode,
    }
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        # Protocol-5 pickles written by NumPy rebuild arrays from a buffer.
        allowed[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer
    return allowed


def read_cifar_pickle(path):
    """Reads a CIFAR-10 Python batch (a pickled dict with `data` (N, 3072) and `labels`).

    Only NumPy arrays and plain containers are unpickled; anything else is refused.

    Returns:
        `(images, labels)`: uint8 (N, 32, 32, 3) and int64 (N,).

    Raises:
        DataError: The pickle is corrupt, names a disallowed callable, or is not a CIFAR batch.
    """
    with open(path, "rb") as f:
        try:
            batch = _ArrayUnpickler(f, path).load()
        except DataError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
                IndexError, KeyError) as err:
            raise DataError(f"Corrupt CIFAR-10 file {path}: {err!r}. Re-download it.") from err
    if not isinstance(batch, dict):
        raise DataError(f"CIFAR-10 file {path} holds a {type(batch).__name__}, expected a dict.")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3072 or labels is None or len(labels) != data.shape[0]:
        raise DataError(
            f"CIFAR-10 file {path} is not a batch: expected `data` uint8 (N, 3072) and N "
            "`labels`. Re-download cifar-10-python.tar.gz."
        )
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), _cifar_labels(labels, path)


def read_cifar_dir(data_dir, names):
    """Reads and concatenates CIFAR-10 batches `names`, binary or Python, wherever they are.

    Looks in `data_dir/cifar-10-batches-bin/` (`<name>.bin`), `data_dir/cifar-10-batches-py/`
    (`<name>` pickles), then `data_dir` itself.

    Returns:
        `(images, labels)` as uint8 (N, 32, 32, 3) and int64 (N,), or `None` if no folder holds
        all the batches.
    """
    for sub in ("cifar-10-batches-bin", "cifar-10-batches-py", ""):
        for suffix, read in ((".bin", read_cifar_binary), ("", read_cifar_pickle)):
            paths = [os.path.join(data_dir, sub, name + suffix) for name in names]
            if all(os.path.isfile(p) for p in paths):
                images, labels = zip(*[read(p) for p in paths])
                return np.concatenate(images), np.concatenate(labels)
    return None


def _cifar_labels(labels, path):
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"CIFAR-10 file {path} has labels outside 0..9. Re-download it.")
    return labels


def list_images(directory):
    """Sorted paths of the PNG/JPEG files directly inside `directory` (not recursive)."""
    names = sorted(n for n in os.listdir(directory) if n.lower().endswith(IMAGE_EXTENSIONS))
    return [os.path.join(directory, n) for n in names if os.path.isfile(os.path.join(directory, n))]


# What `read_image` does to images that are not 8-bit RGB, said once per folder.
SIXTEEN_BIT = "16-bit images scaled to 8 bits (not clipped)"
ALPHA = "images with an alpha channel composited onto white"


def _to_rgb(image):
    """Pillow image -> 8-bit RGB image, and what was done (`SIXTEEN_BIT`, `ALPHA` or `None`).

    16-bit (and 32-bit integer) greys are scaled by 255/65535 rather than clipped at 255, as
    Pillow's `convert` does; transparent pixels are composited onto white rather than their
    hidden colour shown, as dropping the alpha channel does.
    """

    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(image, dtype=np.float64)
        scaled = np.clip(np.round(values * (255.0 / 65535.0)), 0, 255).astype(np.uint8)
        return Image.fromarray(scaled, "L").convert("RGB"), SIXTEEN_BIT
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
            image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB"), ALPHA
    return image.convert("RGB"), None


def read_image(path, size, notes=None):
    """Reads one image as RGB, centre-cropped to a square and resized to `size` x `size`.

    Pillow's bilinear filter widens its support when shrinking, so downscaling is antialiased.

    Args:
        path: The image file.
        size: Side of the result.
        notes: A set that receives what was done to a 16-bit or transparent image
            (`SIXTEEN_BIT`, `ALPHA`), for one notice per folder.

    Returns:
        uint8 array (size, size, 3).

    Raises:
        DataError: Pillow cannot decode the file.
    """
    try:
        with Image.open(path) as image:
            image, note = _to_rgb(image)
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise DataError(f"Corrupt image file {path}: {err}. Remove or replace it.") from err
    if note and notes is not None:
        notes.add(note)
    return crop_resize_pil(image, size)


def read_image_folder(data_dir, split, size):
    """Reads `DIR/<split>/<class>/*`, or for split `"train"` also `DIR/<class>/*` or `DIR/*`.

    Class labels follow the sorted class folder names; images directly in the folder are
    unlabelled.

    Returns:
        `(images, labels, num_classes)`: uint8 (N, size, size, 3), int64 (N,) or `None`, and the
        number of class folders or `None`.

    Raises:
        DataError: No split folder (`DataNotFoundError`), no images, or an undecodable image.
    """
    root = os.path.join(data_dir, split)
    if not os.path.isdir(root):
        if split != "train":
            raise DataNotFoundError(
                f"Split folder not found: {root}. Create DIR/{split}/<class>/ or use split 'train'."
            )
        root = data_dir
    flat = list_images(root)
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if flat or not classes:
        paths, labels, num_classes = flat, None, None
    else:
        per_class = [list_images(os.path.join(root, c)) for c in classes]
        paths = [p for group in per_class for p in group]
        labels = np.repeat(np.arange(len(classes), dtype=np.int64), [len(g) for g in per_class])
        num_classes = len(classes)
    if not paths:
        raise DataError(
            f"No images in {root}: expected *.png/*.jpg files in it or in its class subfolders."
        )
    notes = set()
    images = np.stack([read_image(p, size, notes) for p in paths])
    if notes:
        logger.warning("%s: %s.", root, "; ".join(sorted(notes)))
    return images, labels, num_classes
