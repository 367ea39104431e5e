"""Atomic file writes: a temporary file beside the target, then one rename.

A reader (TF Serving polling `models.config`, a resumed run reading its checkpoint index, a
probe reading its feature cache) sees the old file or the new one, never half of one.
"""

import contextlib
import json
import os


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yields a temporary path to write; on success it is renamed to `path`, on error deleted.

    Args:
        path: The file to write.
        suffix: Ending of the temporary name, for writers that pick a format by extension
            (`".png"`, `".npy"`). Defaults to `""`.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}{suffix}"
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def write_text(path, text):
    """Writes `text` (UTF-8) to `path` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def save_json(path, payload):
    """Writes `payload` as indented, key-sorted JSON to `path` atomically."""
    return write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")
