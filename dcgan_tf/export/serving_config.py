"""`BASE/models.config`: TF Serving's `ModelServerConfig` (text format) of every exported model.

Read and written with the official proto (`tensorflow-serving-api`) and protobuf's
`text_format`, so TF Serving and this module agree on the syntax. The file lists exactly the
models found under the base path. An entry that already exists keeps its typed fields, so hand
edits such as a `model_version_policy` or `version_labels` survive re-exports; only its
`base_path` changes, and only when a new serving root is asked for. Comments are not fields and
are not kept, except the header this module writes.
"""

import os

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from dcgan_tf.atomic import write_text
from dcgan_tf.versions import list_models

FILENAME = "models.config"
DEFAULT_ROOT = "/models"  # Where the tensorflow/serving Docker image expects models.
_HEADER = (
    "# TF Serving model config: every model under this directory, kept up to date by\n"
    "# `dcgan-tf export`. Serve with --model_config_file (see README, \"Serving\").\n"
)

__all__ = ["FILENAME", "ServingConfigError", "config_path", "list_models", "parse", "read",
           "render", "write"]


class ServingConfigError(ValueError):
    """A `models.config` that cannot be read as a `model_config_list`."""


def config_path(base_path):
    """The path of `base_path`'s `models.config`."""
    return os.path.join(base_path, FILENAME)


def parse(text):
    """Returns `{name: ModelConfig}` of a text-format `ModelServerConfig`, in file order.

    Raises:
        ServingConfigError: the text is not a `ModelServerConfig`, or holds a
            `custom_model_config` instead of a `model_config_list`.
    """
    config = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as e:
        raise ServingConfigError(str(e)) from None
    if config.WhichOneof("config") == "custom_model_config":
        raise ServingConfigError("it holds a custom_model_config, not a model_config_list")
    return {entry.name: entry for entry in config.model_config_list.config}


def read(base_path):
    """Reads `BASE/models.config` into `{name: ModelConfig}`; `{}` when there is none.

    Raises:
        ServingConfigError: the file exists but is not a `model_config_list`.
    """
    path = config_path(base_path)
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return parse(text)
    except ServingConfigError as e:
        raise ServingConfigError(
            f"{path} is not a TF Serving model_config_list ({e}); fix or delete it."
        ) from None


def _root_of(entries):
    for name, entry in entries.items():
        base_path = entry.base_path.rstrip("/")
        if base_path.endswith("/" + name):
            return base_path[: -len(name) - 1] or "/"
    return DEFAULT_ROOT


def render(names, entries=None, serving_root=None):
    """Renders the config text for `names`, keeping the fields of `entries` that exist.

    Args:
        names: Model names to list.
        entries: `{name: ModelConfig}` of the current file. Defaults to none.
        serving_root: The base path as the server sees it; rewrites every `base_path` when
            given. `None` keeps existing ones and uses their root (or `/models`) for new ones.

    Returns:
        The file's text: the header, then the proto in text format. The same inputs always
        give the same bytes, so re-exporting a model leaves the file as it was.
    """
    entries = entries or {}
    root = (serving_root or _root_of(entries)).rstrip("/")
    config = model_server_config_pb2.ModelServerConfig()
    for name in names:
        entry = config.model_config_list.config.add()
        if name in entries:
            entry.CopyFrom(entries[name])
            if serving_root is not None:
                entry.base_path = f"{root}/{name}"
        else:
            entry.name, entry.base_path, entry.model_platform = name, f"{root}/{name}", "tensorflow"
    return _HEADER + text_format.MessageToString(config)


def write(base_path, entries=None, serving_root=None):
    """Writes `BASE/models.config` atomically, listing every model under `base_path`.

    Args:
        base_path: TF Serving's model base path on this machine.
        entries: The file's previous `{name: ModelConfig}` (from `read`), kept for models
            still present. Defaults to reading the file now.
        serving_root: See `render`.

    Returns:
        The config file's path.
    """
    if entries is None:
        entries = read(base_path)
    path = config_path(base_path)
    write_text(path, render(list_models(base_path), entries, serving_root))
    return path
