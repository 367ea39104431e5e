"""Bounds the on-disk feature cache: least recently used files go first.

Features of one model on one dataset take up to a few GB (60,000 x 9,408 float32 is 2.3 GB),
and every new export or read-out adds its own, so an unbounded cache fills a disk within a
study. After each extraction (a probe's, or `extract_features`') the cache is pruned to its
cap, oldest use first, never deleting the files just used; a cache hit counts as a use (its
modification time is refreshed).
"""

import os

from dcgan_tf.config import DEFAULT_CACHE_MAX_GB as DEFAULT_MAX_GB  # noqa: F401  (re-exported)


def touch(path):
    """Marks the cache file `path` as just used."""
    try:
        os.utime(path)
    except OSError:  # Read-only cache or removed meanwhile: the hit still counts.
        pass


def prune(directory, max_bytes, keep=()):
    """Deletes the least recently used `.npy` files of `directory` until it holds `max_bytes`.

    Args:
        directory: The features directory of a cache.
        max_bytes: Most bytes of `.npy` files to leave.
        keep: Paths never deleted (the files the caller is about to use), even past the cap.

    Returns:
        The deleted paths, oldest first.
    """
    keep = {os.path.abspath(p) for p in keep}
    entries = []
    for entry in os.scandir(directory):
        if entry.name.endswith(".npy") and entry.is_file(follow_symlinks=False):
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
