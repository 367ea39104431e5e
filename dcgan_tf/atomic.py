"""Atomic file writes: a temporary file beside the target, then one rename.

A reader (TF Serving polling `models.config`, a resumed run reading its checkpoint index, a
probe reading its feature cache) sees the old file or the new one, never half of one.
"""

import contextlib
import errno
import hashlib
import json
import os
import secrets


TEMP_PREFIX = ".tmp-"


def temp_path(path, suffix=""):
    """A hidden temporary name beside `path`: `.tmp-<pid>-<random>-<name><suffix>`.

    Unique per writer, and hidden: directory scans (cache pruning, readers looking for
    entries, checkpoint and version listings) skip names starting with `TEMP_PREFIX`.
    """
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{name}{suffix}")


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yields a temporary path to write; on success it is renamed to `path`, on error deleted.

    Args:
        path: The file to write.
        suffix: Ending of the temporary name, for writers that pick a format by extension
            (`".png"`, `".npy"`). Defaults to `""`.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = temp_path(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as e:
        written = os.path.getsize(tmp) if os.path.isfile(tmp) else 0
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(e, Exception) and is_disk_full(e):
            raise disk_full(path, written or None) from None
        raise


def write_text(path, text):
    """Writes `text` (UTF-8) to `path` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def save_json(path, payload):
    """Writes `payload` as indented, key-sorted JSON to `path` atomically."""
    return write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def free_bytes(path):
    """Free bytes on the filesystem holding `path` (its nearest existing parent); `None` if unknown."""
    path = os.path.abspath(path)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    try:
        stat = os.statvfs(path)
    except OSError:
        return None
    return stat.f_bavail * stat.f_frsize


def is_disk_full(error):
    """Whether `error` (any exception) says the disk or quota is full."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return "No space left on device" in str(error) or "Disk quota exceeded" in str(error)


def disk_full(path, needed_bytes=None):
    """The one-line `OSError(ENOSPC)` for a write to `path` that ran out of space.

    Args:
        path: What was being written.
        needed_bytes: About how many bytes the write needs; `None` if unknown.
    """
    free = free_bytes(path)
    need = f"about {_mb(needed_bytes)} free" if needed_bytes else "more free space"
    now = f" ({_mb(free)} free now)" if free is not None else ""
    error = OSError(f"No space left on device writing {path}: it needs {need}{now}. "
                    "Free some space and run the command again.")
    error.errno = errno.ENOSPC
    return error


def _mb(size):
    return f"{size / 1e6:.1f} MB"


def check_writable(path):
    """Checks, before any work, that a file can be written at `path` (a report, an output).

    Missing parent directories count as writable where they can be created (writers create
    them); `"-"` (stdout) always passes.

    Raises:
        OSError: `path` is a directory, or its nearest existing parent is not a writable
            directory; the message names it.
    """
    if path in (None, "-"):
        return path
    path = os.fspath(path)
    if os.path.isdir(path):
        raise OSError(f"Cannot write {path}: it is a directory. Pass a file path.")
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise OSError(f"Cannot write {path}: {parent} is a file, not a directory.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OSError(f"Cannot write {path}: {parent} is not writable.")
    return path


def file_sha256(path):
    """The SHA-256 hex digest of a file, read in 1 MB chunks (checkpoints, cache entries)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
