"""The on-disk feature cache: self-checking entries, invisible temporary files, an LRU cap.

Features of one model on one dataset take up to a few GB (60,000 x 9,408 float32 is 2.3 GB),
and every new export or read-out adds its own, so an unbounded cache fills a disk within a
study. After each extraction (a probe's, or `extract_features`') the cache is pruned to its
cap, oldest use first, never deleting the files just used; a cache hit counts as a use (its
modification time is refreshed).

The cache only accelerates: an entry (`.npz`: the features, the key they were computed for
and their SHA-256) that fails to load, belongs to another key or fails its checksum is
recomputed with a one-line note; a write that fails (a full disk, a read-only directory) is
skipped with a one-line note. Entries are written under hidden temporary names
(`dcgan_tf.atomic.temp_path`) that neither readers nor pruning look at, then renamed, so
concurrent probes and pruning never see or delete half an entry.
"""

import hashlib
import logging
import os
import zipfile

import numpy as np

from dcgan_tf.atomic import TEMP_PREFIX, disk_full, is_disk_full, temp_path

from dcgan_tf.config import DEFAULT_CACHE_MAX_GB as DEFAULT_MAX_GB  # noqa: F401  (re-exported)
# Cache files pruning counts: entries, and `.npy` entries of earlier versions.
ENTRY_SUFFIXES = (".npz", ".npy")

logger = logging.getLogger("dcgan_tf")
# Cache directories a write failed in, in this process: later writes there are skipped quietly,
# so a full disk costs one note, not one per entry.
_failing = set()


def _checksum(features):
    return hashlib.sha256(np.ascontiguousarray(features).tobytes()).hexdigest()


def read(path, key, rows):
    """The cached features at `path` if they are whole and were made for `key`, else `None`.

    Args:
        path: The entry's file.
        key: What the features were computed from (model and data fingerprints).
        rows: The number of images they must cover.

    Returns:
        float32 `(rows, F)`, or `None` on a miss (a bad entry is noted in one line).
    """
    try:
        entry = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return None  # Not cached, or pruned by another process meanwhile.
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        return _bad(path, f"unreadable: {type(e).__name__}")
    if not isinstance(entry, np.lib.npyio.NpzFile):
        return _bad(path, "not a cache entry")
    try:
        with entry:
            features, stored_key, stored_sum = (entry["features"], str(entry["key"]),
                                                str(entry["sha256"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        return _bad(path, f"unreadable: {type(e).__name__}")
    if stored_key != key:
        return _bad(path, "made for other data or another model")
    if features.ndim != 2 or features.shape[0] != rows:
        return _bad(path, f"{features.shape[0] if features.ndim else 0} rows for {rows} images")
    if _checksum(features) != stored_sum:
        return _bad(path, "fails its sha256 checksum")
    touch(path)
    return features


def _bad(path, why):
    logger.warning("Recomputing the cached features %s (%s).", path, why)
    return None


def write(path, key, features):
    """Stores `features` for `key` at `path` atomically; a failed write only skips caching.

    Returns:
        Whether the entry was written.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if directory in _failing:
        return False
    tmp = temp_path(path)
    try:
        os.makedirs(directory, exist_ok=True)
        with open(tmp, "wb") as f:  # A file object: numpy adds no extension to the name.
            np.savez(f, features=features, key=np.array(key), sha256=np.array(_checksum(features)))
        os.replace(tmp, path)
        return True
    except OSError as e:
        _remove(tmp)
        if is_disk_full(e):
            e = disk_full(path, features.nbytes)
        _failing.add(directory)
        logger.warning("Not caching the features (%s).", str(e).rstrip("."))
        return False
    except BaseException:
        _remove(tmp)
        raise


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def touch(path):
    """Marks the cache file `path` as just used."""
    try:
        os.utime(path)
    except OSError:  # Read-only cache or removed meanwhile: the hit still counts.
        pass


def prune(directory, max_bytes, keep=()):
    """Deletes the least recently used entries of `directory` until it holds `max_bytes`.

    Temporary files of writers still at work (hidden names) are neither counted nor deleted.

    Args:
        directory: The features directory of a cache.
        max_bytes: Most bytes of entries to leave.
        keep: Paths never deleted (the files the caller is about to use), even past the cap.

    Returns:
        The deleted paths, oldest first.
    """
    keep = {os.path.abspath(p) for p in keep}
    entries = []
    try:
        scan = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    for entry in scan:
        if (entry.name.endswith(ENTRY_SUFFIXES) and not entry.name.startswith(TEMP_PREFIX)
                and entry.is_file(follow_symlinks=False)):
            try:
                stat = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # Pruned by another process meanwhile.
                continue
            entries.append((stat.st_mtime, stat.st_size, os.path.abspath(entry.path)))
    total = sum(size for _, size, _ in entries)
    removed = []
    for _, size, path in sorted(entries):
        if total <= max_bytes:
            break
        if path in keep:
            continue
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        total -= size
        removed.append(path)
    return removed
