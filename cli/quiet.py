"""Quiet TensorFlow start-up: the CLI hides TensorFlow's C++ log lines unless asked for them.

Importing TensorFlow prints absl lines ("All log messages before absl::InitializeLog() ...",
oneDNN, "Could not find cuda drivers", CPU instruction notes) straight to file descriptor 2,
before TF_CPP_MIN_LOG_LEVEL is read; the first device query adds "failed call to cuInit" on
a machine without a GPU. Commands that run (not `--help`) import TensorFlow with descriptor 2
pointed at /dev/null and TF_CPP_MIN_LOG_LEVEL=3, unless `dcgan-tf --verbose` or the user's own
TF_CPP_MIN_LOG_LEVEL says otherwise.
"""

import contextlib
import importlib
import os
import sys

import click

_LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"


@contextlib.contextmanager
def _stderr_to_devnull():
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow(verbose=False):
    """Imports TensorFlow, hiding its C++ start-up lines unless `verbose` or the user set
    TF_CPP_MIN_LOG_LEVEL.

    Args:
        verbose: Show everything TensorFlow prints.
    """
    if "tensorflow" in sys.modules:
        return
    if verbose or _LOG_LEVEL in os.environ:
        importlib.import_module("tensorflow")
        return
    # Kept for the whole process (and its children): TensorFlow reads it once, and level 3
    # also hides the later "failed call to cuInit" error line of a machine without a GPU.
    os.environ[_LOG_LEVEL] = "3"
    with _stderr_to_devnull():
        importlib.import_module("tensorflow")


class Command(click.Command):
    """A command that imports TensorFlow quietly before it runs (not for `--help`)."""

    def invoke(self, ctx):
        root = ctx.find_root()
        import_tensorflow(verbose=bool(root.params.get("verbose")))
        return super().invoke(ctx)
