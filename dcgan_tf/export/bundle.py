"""One export command's formats, all or nothing: a SavedModel version and its portable formats.

Every destination is checked (outside runs, writable, room on its disk) before the first byte
of work. The portable formats are written while the SavedModel version waits unpublished in
its temporary directory, so a failure in either publishes neither.
"""

import os
import shutil

from dcgan_tf import atomic, locks
from dcgan_tf.export import portable
from dcgan_tf.export.config import ExportConfig
from dcgan_tf.export.savedmodel import (
    _check_base_path, _export_bytes, export_savedmodel, model_name,
)


def export_formats(run_dir, formats=("savedmodel",), base_path="savedmodels", name=None,
                   version=None, out=None, config=ExportConfig()):
    """Exports `formats` of one checkpoint: `BASE/NAME/VERSION` and its portable sibling.

    Args:
        run_dir: A `dcgan-tf train` output directory.
        formats: Some of `portable.FORMATS`. Defaults to the SavedModel only.
        base_path: TF Serving's model base path. Defaults to `"savedmodels"`.
        name: Model name; `None` for the run directory's name.
        version: Version number; `None` for the next one.
        out: Directory of the portable formats; `None` for `BASE/NAME-portable/VERSION`.
        config: An `ExportConfig` (checkpoint, `overwrite`, `features`; the rest is the
            SavedModel's). Defaults to `ExportConfig()`.

    Returns:
        `(savedmodel_path or None, {format: directory})`.

    Raises:
        ValueError, OSError: a destination that cannot take the export (inside a run, not
            writable, too little space, an existing version without `overwrite`), before
            any work; or a failure of the export itself, after which nothing new is published.
    """
    name = model_name(run_dir, name)
    rest = tuple(f for f in formats if f != "savedmodel")

    def portable_out(number):
        return out or portable.portable_dir(base_path, name, number)

    # Every destination first: nothing is computed for an export that cannot be kept.
    if "savedmodel" in formats:
        _check_base_path(base_path, name)
        atomic.check_dir_writable(os.path.join(base_path, name), _export_bytes(run_dir))
    if rest:
        number = version or portable.next_version(base_path, name)
        portable.check_destination(run_dir, portable_out(number), rest, config.overwrite)

    # Folders this export creates: taken back if it fails, so a failure leaves no trace.
    new_dirs = [d for d in (base_path, os.path.join(base_path, name),
                            os.path.join(base_path, name + portable.SUFFIX),
                            os.path.dirname(os.path.abspath(out)) if out else None)
                if d and not os.path.exists(d)]
    try:
        return _export(run_dir, formats, base_path, name, version, portable_out, config)
    except BaseException:
        for directory in reversed(new_dirs):
            _remove_if_unused(directory)
        raise


def _remove_if_unused(directory):
    """Deletes `directory` if it holds nothing but a lock file (another export's temporary
    directory keeps it)."""
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    if set(entries) <= {locks.LOCK_FILE}:
        shutil.rmtree(directory, ignore_errors=True)


def _export(run_dir, formats, base_path, name, version, portable_out, config):
    """`export_formats` once its destinations are checked: the portable formats are written
    before the SavedModel version is published (or alone)."""
    rest = tuple(f for f in formats if f != "savedmodel")
    written, created = {}, []

    def write_portable(number):
        target = portable_out(number)
        if not os.path.exists(target):
            created.append(target)
        written.update(portable.export_portable(run_dir, target, rest, which=config.which,
                                                features=config.features,
                                                overwrite=config.overwrite))

    if "savedmodel" not in formats:
        write_portable(version or portable.next_version(base_path, name))
        return None, written
    try:
        path = export_savedmodel(run_dir, base_path, name, version, config,
                                 before_publish=write_portable if rest else None)
    except BaseException:
        # The SavedModel failed to publish after its portable formats did: take them back.
        for target in created:
            shutil.rmtree(target, ignore_errors=True)
        raise
    return path, written
