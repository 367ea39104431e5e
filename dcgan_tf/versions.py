"""TF Serving's model base path layout, `BASE/NAME/VERSION/saved_model.pb`, read without TensorFlow.

TF Serving loads the integer-named directories of a model and ignores every other name, so the
export's hidden temporary directories never show; the exporter, the clients and `models.config`
all scan versions through this module so they agree on what a version is.
"""

import os


def list_versions(model_dir, loadable=False):
    """Integer version directories of `model_dir`, ascending.

    Args:
        model_dir: A model directory, `BASE/NAME`.
        loadable: Count only versions that hold a `saved_model.pb`. Defaults to `False`,
            which counts every integer directory (so an export never reuses a number).

    Returns:
        A sorted list of ints; empty when `model_dir` does not exist.
    """
    if not os.path.isdir(model_dir):
        return []
    marker = "saved_model.pb" if loadable else ""
    return sorted(
        int(n) for n in os.listdir(model_dir)
        if n.isdigit() and os.path.isdir(os.path.join(model_dir, n))
        and (not marker or os.path.isfile(os.path.join(model_dir, n, marker)))
    )


def newest_version_dir(model_dir):
    """The newest loadable version directory of `model_dir`, as TF Serving picks it; `None` if none."""
    versions = list_versions(model_dir, loadable=True)
    return os.path.join(model_dir, str(versions[-1])) if versions else None


def list_models(base_path):
    """Names of the models under `base_path` that have a loadable integer version, sorted."""
    if not os.path.isdir(base_path):
        return []
    return [
        name for name in sorted(os.listdir(base_path))
        if not name.startswith(".") and newest_version_dir(os.path.join(base_path, name))
    ]
