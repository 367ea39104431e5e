"""TensorFlow imported quietly wherever a command first imports it.

TensorFlow's import prints absl, oneDNN, `cudart_stub` and CPU-instruction lines straight to
file descriptor 2, before it reads TF_CPP_MIN_LOG_LEVEL; a first device query adds "failed
call to cuInit" on a machine without a GPU. Option callbacks (`export --format`) and library
modules import TensorFlow at different moments, so instead of importing it at one point the
command group installs an import hook: the first `import tensorflow`, wherever it happens,
runs with descriptor 2 pointed at /dev/null, and TF_CPP_MIN_LOG_LEVEL is 3 unless the user set
it (a level the user set is kept for later lines; the import's lines, printed before TensorFlow
reads it, stay hidden). `dcgan-tf --verbose`, or TF_CPP_MIN_LOG_LEVEL=0, leaves TensorFlow's lines
as they are. Nothing is imported by the hook itself, so `--help` stays free of TensorFlow.
"""

import contextlib
import importlib.abc
import importlib.util
import os
import sys

_LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"
_MODULE = "tensorflow"


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


class _QuietLoader(importlib.abc.Loader):
    """Runs the wrapped loader's `exec_module` with descriptor 2 silenced."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with _stderr_to_devnull():
            self._loader.exec_module(module)


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` through the other finders and silences its first execution."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != _MODULE:
            return None
        sys.meta_path.remove(self)  # Once: the other finders give the real spec.
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def hide_tensorflow_startup(verbose=False):
    """Hides TensorFlow's start-up lines for the rest of the process, unless asked for them.

    Args:
        verbose: Leave TensorFlow's lines on stderr (`dcgan-tf --verbose`). Defaults to `False`.

    Returns:
        Whether the lines will be hidden (`False` when verbose, when the user set
        TF_CPP_MIN_LOG_LEVEL=0, or when TensorFlow is already imported).
    """
    if verbose or os.environ.get(_LOG_LEVEL) == "0" or _MODULE in sys.modules:
        return False
    # Kept for the whole process (and its children): TensorFlow reads it once, and level 3
    # also hides the later cuInit error line of a machine without a GPU.
    os.environ.setdefault(_LOG_LEVEL, "3")
    if not any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietFinder())
    return True
