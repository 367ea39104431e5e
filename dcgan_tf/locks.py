"""One writer per directory: an advisory lock file naming its holder (PID, host, start time).

The lock is `fcntl.flock` on `DIR/.lock`: the kernel drops it when the holder exits, however
it exits, so a lock left by a killed process is free for the next writer, which notes the
takeover. The file itself only says who holds (or last held) the lock; a clean release
empties it, so a non-empty file found unlocked means its holder died.
"""

import contextlib
import datetime
import fcntl
import json
import logging
import os
import socket
import time

LOCK_FILE = ".lock"

logger = logging.getLogger("dcgan_tf")


class LockError(RuntimeError):
    """Another process holds the directory's lock."""


def _holder(fd):
    # The holder writes its record right after locking: give it a moment before reporting.
    for _ in range(20):
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 4096)
        if raw:
            try:
                return json.loads(raw)
            except ValueError:
                pass
        time.sleep(0.05)
    return {}


def _describe(record):
    return (f"PID {record.get('pid', '?')} on {record.get('host', '?')} "
            f"(since {record.get('since', '?')}: {record.get('what', '?')})")


@contextlib.contextmanager
def hold(directory, what, wait=False):
    """Holds `directory`'s lock for the `with` block; creates the directory if needed.

    Args:
        directory: The directory to write into alone (a run, a model's versions).
        what: What the holder does, shown to a second writer (e.g. `"dcgan-tf train"`).
        wait: Block until the lock is free instead of failing. Defaults to `False`.

    Yields:
        The previous holder's record when a dead holder's lock was taken over, else `None`.

    Raises:
        LockError: another live process holds the lock (and `wait` is `False`).
    """
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, LOCK_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockError(
                f"{directory} is in use by {_describe(_holder(fd))}. Wait for it to finish, "
                "or use another directory."
            ) from None
        os.lseek(fd, 0, os.SEEK_SET)
        stale = os.read(fd, 4096)
        previous = None
        if stale:
            try:
                previous = json.loads(stale)
            except ValueError:
                previous = {}
            logger.warning("Taking over the lock of %s, which ended without releasing it.",
                           _describe(previous))
        record = {
            "pid": os.getpid(), "host": socket.gethostname(), "what": what,
            "since": datetime.datetime.now().isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        os.fsync(fd)
        try:
            yield previous
        finally:
            os.ftruncate(fd, 0)  # Released cleanly: the next holder has nothing to take over.
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
