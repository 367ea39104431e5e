"""Atomic writes: a temporary file or directory beside the target, then one rename.

A reader (TF Serving polling `models.config` or a model's versions, a resumed run reading its
checkpoints, a probe reading its feature cache) sees the old file or directory or the new
one, never half of one. Directories (checkpoints, SavedModel versions, portable exports) go
through one protocol: `temp_dir`, fill it, `publish_dir`; `recover_dirs` finishes or undoes
what killed writers left.
"""

import contextlib
import errno
import hashlib
import json
import os
import secrets
import shutil
import tempfile

from dcgan_tf import paths


TEMP_PREFIX = ".tmp-"
OLD_PREFIX = ".old-"
REPORT_BYTES = 1 << 20  # Room a JSON report may need: a disk with less is full for it.
# An overwrite's journal: `{"final", "old", "new", "pid"}`, written before the old directory
# moves aside and removed once the new one is in place (`recover_dirs`).
JOURNAL_PREFIX = ".overwrite-"


def _target(path):
    """Where a write to `path` lands: through a symbolic link to the file it names."""
    path = os.path.abspath(os.fspath(path))
    return os.path.realpath(path) if os.path.islink(path) else path


def temp_path(path, suffix=""):
    """A hidden temporary name beside `path`: `.tmp-<pid>-<random>-<name><suffix>`.

    Unique per writer, and hidden: directory scans (cache pruning, readers looking for
    entries, checkpoint and version listings) skip names starting with `TEMP_PREFIX`.
    """
    directory, name = os.path.split(_target(path))
    head = f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-"
    # Shortened to fit the filesystem's name limit: a name near the limit stays writable.
    room = paths.NAME_MAX - len(os.fsencode(head + suffix))
    name = os.fsdecode(os.fsencode(name)[:room])
    return os.path.join(directory, f"{head}{name}{suffix}")


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yields a temporary path to write; on success it is renamed to `path`, on error deleted.

    Args:
        path: The file to write.
        suffix: Ending of the temporary name, for writers that pick a format by extension
            (`".png"`, `".npy"`). Defaults to `""`.
    """
    path = _target(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
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


def _nearest_existing(path):
    parent = os.path.realpath(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    return parent


def _probe_write(directory, shown):
    """Creates and deletes a hidden file in `directory`: the one test a read-only mount, a
    permission or an ACL cannot fool (`os.access` says yes to root on some of them)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}probe-{os.getpid()}-", dir=directory)
    except OSError as e:
        reason = e.strerror or str(e)
        raise OSError(f"Cannot write {shown}: {directory} is not writable ({reason}).") from None
    os.close(fd)
    os.remove(probe)


def check_writable(path, needed_bytes=None):
    """Checks, before any work, that a file can be written at `path` (a report, an output).

    Links are resolved (a link into a run's `checkpoints/` is refused there). Missing parent
    directories count as writable where they can be created (writers create them); `"-"`
    (stdout) always passes.

    Args:
        path: The file to be written.
        needed_bytes: About how many bytes it needs, checked against the free space.
            Defaults to `None`: `REPORT_BYTES`, what a report needs at most.

    Raises:
        OSError: `path` is a directory, its nearest existing parent is not a writable
            directory, or the disk lacks `needed_bytes`; the message names it.
        ValueError: `path` resolves into a run's `checkpoints/`, or has a name longer than
            `paths.NAME_MAX` bytes.
    """
    if path in (None, "-"):
        return path
    path = os.fspath(path)
    paths.check_name_lengths(path, "the output")
    if os.path.isdir(path):
        raise OSError(f"Cannot write {path}: it is a directory. Pass a file path.")
    paths.check_outside_checkpoints(path, "the output")
    parent = _nearest_existing(os.path.dirname(_target(path)))
    if not os.path.isdir(parent):
        raise OSError(f"Cannot write {path}: {parent} is a file, not a directory.")
    _probe_write(parent, path)
    _check_space(path, parent, needed_bytes or REPORT_BYTES)
    return path


def check_dir_writable(path, needed_bytes=None):
    """Checks, before any work, that directory `path` can be created or filled.

    Args:
        path: The output directory (it need not exist).
        needed_bytes: About how many bytes the output needs. Defaults to `None` (unchecked).

    Raises:
        OSError: `path` or its nearest existing parent is a file or not writable, or the
            disk lacks `needed_bytes`; the message names it.
        ValueError: `path` has a name longer than `paths.NAME_MAX` bytes.
    """
    path = os.fspath(path)
    paths.check_name_lengths(path, "the output")
    existing = _nearest_existing(path)
    if not os.path.isdir(existing):
        raise OSError(f"Cannot write {path}: {existing} is a file, not a directory.")
    _probe_write(existing, path)
    _check_space(path, existing, needed_bytes)
    return path


def _check_space(path, existing, needed_bytes):
    if not needed_bytes:
        return
    free = free_bytes(existing)
    if free is not None and free < needed_bytes:
        raise disk_full(path, needed_bytes)


def temp_dir(parent, tag):
    """A new hidden directory `.tmp-<tag>-<pid>-<random>` in `parent` to fill, then publish.

    Its mode follows the umask (not `mkdtemp`'s 0700), so a server running as another user
    can read what is published.
    """
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{tag}-{os.getpid()}-", dir=parent)
    mask = os.umask(0o022)
    os.umask(mask)
    os.chmod(tmp, 0o777 & ~mask)
    return tmp


def fsync(path):
    """Flushes a file or directory to disk (a directory: the names it holds)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_dir(tmp, final, overwrite=False, sync=False):
    """Moves the finished directory `tmp` to `final` with renames; no half directory shows.

    Without `overwrite` the rename never replaces an existing directory. With it, the old
    directory moves aside and the new one takes its place; a journal beside them lets
    `recover_dirs` put the old one back if a kill lands between the two renames, so a
    reader sees the old directory, for an instant none, then the new one.

    Args:
        tmp: The filled temporary directory, in the same parent as `final`.
        final: The published name.
        overwrite: Replace `final` if it exists. Defaults to `False`.
        sync: fsync the parent directory after the rename (checkpoints: durable after a
            power cut). Defaults to `False`.

    Raises:
        FileExistsError: `final` exists and `overwrite` is `False`.
    """
    parent, name = os.path.split(os.path.abspath(final))
    if not os.path.lexists(final):
        try:
            os.rename(tmp, final)
        except OSError as e:
            if os.path.lexists(final):  # Another writer published first.
                raise FileExistsError(f"{final} already exists.") from None
            raise e
    elif not overwrite:
        raise FileExistsError(f"{final} already exists. Pass --overwrite to replace it.")
    else:
        tag = _tag(tmp)
        old = os.path.join(parent, f"{OLD_PREFIX}{tag}-{os.getpid()}-{secrets.token_hex(4)}-{name}")
        journal = os.path.join(parent, f"{JOURNAL_PREFIX}{name}.json")
        save_json(journal, {"final": name, "old": os.path.basename(old),
                            "new": os.path.basename(tmp), "pid": os.getpid()})
        os.rename(final, old)
        try:
            os.rename(tmp, final)
        except OSError:
            os.rename(old, final)  # Put the previous directory back rather than leave a gap.
            os.remove(journal)
            raise
        os.remove(journal)
        shutil.rmtree(old, ignore_errors=True)
    if sync:
        fsync(parent)
    return final


def pid_alive(pid):
    """Whether process `pid` exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tag(path):
    """The `<tag>` of a `.tmp-<tag>-...` name (`temp_dir`), else `"dir"`."""
    parts = os.path.basename(path).split("-")
    return parts[1] if os.path.basename(path).startswith(TEMP_PREFIX) and len(parts) > 2 else "dir"


def _writer(entry):
    """`(tag, pid)` of a `.tmp-<tag>-<pid>-...` or `.old-<tag>-<pid>-...` name, else `None`."""
    parts = entry.split("-")
    if entry.startswith((TEMP_PREFIX, OLD_PREFIX)) and len(parts) >= 4 and parts[2].isdigit():
        return parts[1], int(parts[2])
    return None


def recover_dirs(parent, on_restore=None, tag=None):
    """Finishes or undoes the directory publishes of killed writers in `parent`.

    Killed before the old directory moved aside: nothing changed. Between the renames: the old
    one is put back (`on_restore(path)` is called, e.g. to log a note). After the new one is
    in place: the old one is deleted. Temporary and set-aside directories of writers that are
    gone are deleted; a live writer's are left alone.

    Args:
        parent: The directory holding the published directories.
        on_restore: Called with the path of each directory put back. Defaults to `None`.
        tag: Only clean up after writers of this `temp_dir` tag (a folder shared with other
            programs). Defaults to `None`: every tag.

    Returns:
        The restored directories' paths.
    """
    restored = []
    try:
        entries = sorted(os.listdir(parent))
    except FileNotFoundError:
        return restored
    for entry in entries:
        if not entry.startswith(JOURNAL_PREFIX):
            continue
        journal = os.path.join(parent, entry)
        try:
            with open(journal, encoding="utf-8") as f:
                record = json.load(f)
            final = os.path.join(parent, os.path.basename(str(record.get("final",
                                                                         record.get("version")))))
            old = os.path.join(parent, os.path.basename(record["old"]))
            new = os.path.join(parent, os.path.basename(record["new"]))
            pid = int(record.get("pid", 0))
        except (OSError, ValueError, KeyError, TypeError):
            with contextlib.suppress(OSError):
                os.remove(journal)  # Torn before it was complete: nothing had moved yet.
            continue
        if pid and pid != os.getpid() and pid_alive(pid):
            continue
        if not os.path.exists(final) and os.path.isdir(old):
            os.rename(old, final)
            restored.append(final)
            if on_restore:
                on_restore(final)
        for leftover in (old, new):
            shutil.rmtree(leftover, ignore_errors=True)
        os.remove(journal)
    for entry in os.listdir(parent):
        writer = _writer(entry)
        if writer is not None and tag in (None, writer[0]):
            pid = writer[1]
            if pid != os.getpid() and not pid_alive(pid):
                path = os.path.join(parent, entry)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
    return restored


def file_sha256(path):
    """The SHA-256 hex digest of a file, read in 1 MB chunks (checkpoints, cache entries)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
