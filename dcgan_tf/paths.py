"""Where dcgan-tf keeps caches, and which places an output may not go.

Every inside/outside decision resolves symbolic links first (`os.path.realpath`): a link
into a run's `checkpoints/` is that directory, whatever it is called.
"""

import os

CHECKPOINTS = "checkpoints"
RUN_CONFIG = "config.json"


def default_cache_dir():
    """`$DCGAN_TF_CACHE`, else `$XDG_CACHE_HOME/dcgan-tf`, else `~/.cache/dcgan-tf`."""
    if os.environ.get("DCGAN_TF_CACHE"):
        return os.environ["DCGAN_TF_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "dcgan-tf")


def cache_root(path=None):
    """The cache directory to use: `path`, else `default_cache_dir()`, checked to lie outside
    runs' `checkpoints/` (links resolved), where training's pruning would delete entries.

    Raises:
        ValueError: the directory resolves into a run's `checkpoints/`.
    """
    path = path or default_cache_dir()
    return check_outside_checkpoints(path, "--cache-dir")


NAME_MAX = 255  # Bytes in one file name on Linux, macOS and Windows filesystems.


def check_name_lengths(path, option):
    """Refuses a path with a file or folder name longer than the filesystem takes.

    Checked where the path is read from the command line, so the refusal names the bound
    instead of the `[Errno 36] File name too long` of the first write, after the work.

    Args:
        path: The path given.
        option: The option that named it, for the message (`"json_path"`).

    Raises:
        ValueError: a name of `path` is longer than `NAME_MAX` bytes.
    """
    for name in os.fspath(path).split(os.sep):
        size = len(os.fsencode(name))
        if size > NAME_MAX:
            raise ValueError(
                f"Expected each name in `{option}` to be at most {NAME_MAX} bytes (the "
                f"filesystem's limit). Received: {name[:40]!r}... ({size} bytes)"
            )
    return path


def resolved(path):
    """`path` with `~` expanded and every symbolic link resolved, as an absolute path."""
    return os.path.realpath(os.path.expanduser(os.fspath(path)))


def is_run(directory):
    """Whether `directory` is a `dcgan-tf train` output (its `config.json` and `checkpoints/`)."""
    return (os.path.isfile(os.path.join(directory, RUN_CONFIG))
            and os.path.isdir(os.path.join(directory, CHECKPOINTS)))


def enclosing_run(path, include_self=True):
    """The run directory that holds `path` (links resolved), or `None`.

    Args:
        path: Any path; it need not exist.
        include_self: Count `path` itself when it is a run. Defaults to `True`.
    """
    path = resolved(path)
    if not include_self:
        path = os.path.dirname(path)
    while True:
        if is_run(path):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def in_checkpoints(path):
    """The run whose `checkpoints/` holds `path` (links resolved), or `None`."""
    path = resolved(path)
    run = enclosing_run(path)
    while run is not None:
        if os.path.commonpath([path, os.path.join(run, CHECKPOINTS)]) == os.path.join(
                run, CHECKPOINTS):
            return run
        run = enclosing_run(run, include_self=False)
    return None


def check_outside_runs(path, option):
    """Refuses an output directory inside a run, where the run's pruning may delete it.

    Args:
        path: The directory asked for (links are resolved).
        option: The flag that named it, for the message (`"--base-path"`).

    Raises:
        ValueError: `path` (resolved) lies in a run directory; the message names both.
    """
    run = enclosing_run(path)
    if run is not None:
        shown = path if resolved(path) == os.path.abspath(path) else (
            f"{path} (which resolves to {resolved(path)})")
        raise ValueError(
            f"Expected {option} outside run directories: {shown} is inside the run {run}, "
            f"whose checkpoint pruning may delete it. Received: {option} {path}"
        )
    return path


def check_outside_checkpoints(path, option):
    """Refuses a file or directory inside a run's `checkpoints/` (pruned by training).

    Raises:
        ValueError: `path` (links resolved) lies in a run's `checkpoints/`.
    """
    run = in_checkpoints(path)
    if run is not None:
        raise ValueError(
            f"Expected {option} outside {os.path.join(run, CHECKPOINTS)}, which training prunes: "
            f"{path} resolves to {resolved(path)}. Pick another path."
        )
    return path


def check_run_dir(path):
    """Refuses a training output inside another run (its checkpoint pruning may delete it).

    A link to a run is that run: resuming through it is allowed.

    Raises:
        ValueError: `path` (links resolved) lies inside another run directory.
    """
    outer = enclosing_run(path, include_self=False)
    if outer is not None:
        raise ValueError(
            f"Expected the run directory outside other runs: {path} resolves to {resolved(path)}, "
            f"inside the run {outer}. Pick a directory outside it."
        )
    return path
