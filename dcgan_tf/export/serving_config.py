"""`BASE/models.config`: TF Serving's `model_config_list` (text format) of every exported model.

The file lists exactly the models found under the base path. An entry that already exists is
kept as written, so hand edits such as a `model_version_policy` survive re-exports; only its
`base_path` changes, and only when a new serving root is asked for.
"""

import os
import re

FILENAME = "models.config"
DEFAULT_ROOT = "/models"  # Where the tensorflow/serving Docker image expects models.
_BASE_PATH = re.compile(r'base_path\s*:\s*"((?:[^"\\]|\\.)*)"')
_MODEL_NAME = re.compile(r'\bname\s*:\s*"((?:[^"\\]|\\.)*)"')
_HEADER = (
    "# TF Serving model config: every model under this directory, kept up to date by\n"
    "# `dcgan-tf export`. Serve with --model_config_file (see README, \"Serving\").\n"
)


class ServingConfigError(ValueError):
    """A `models.config` that cannot be read as a `model_config_list`."""


def config_path(base_path):
    return os.path.join(base_path, FILENAME)


def list_models(base_path):
    """Names of the models under `base_path` that have a loadable integer version, sorted."""
    if not os.path.isdir(base_path):
        return []
    names = []
    for name in sorted(os.listdir(base_path)):
        model_dir = os.path.join(base_path, name)
        if name.startswith(".") or not os.path.isdir(model_dir):
            continue
        if any(
            v.isdigit() and os.path.isfile(os.path.join(model_dir, v, "saved_model.pb"))
            for v in os.listdir(model_dir)
        ):
            names.append(name)
    return names


def _blocks(text, start, end):
    """Yields `(keyword, body_start, body_end)` of the `keyword [:] { ... }` blocks in text[start:end]."""
    i, depth, token_start, body_start, keyword = start, 0, None, None, None
    while i < end:
        ch = text[i]
        if ch == "#":
            i = text.find("\n", i)
            i = end if i < 0 else i
            continue
        if ch in "\"'":
            close = i + 1
            while close < end and text[close] != ch:
                close += 2 if text[close] == "\\" else 1
            i = close + 1
            continue
        if ch == "{":
            if depth == 0:
                keyword = text[token_start:i].strip().rstrip(":").strip() if token_start is not None else ""
                body_start = i + 1
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise ServingConfigError("unbalanced '}'")
            if depth == 0:
                yield keyword.split()[-1] if keyword else "", body_start, i
                token_start = None
        elif depth == 0 and token_start is None and not ch.isspace() and ch != ",":
            token_start = i
        i += 1
    if depth:
        raise ServingConfigError("unbalanced '{'")


def parse(text):
    """Returns `{name: entry_text}` of a `model_config_list` text-format config.

    Raises:
        ServingConfigError: the text is not a `model_config_list`.
    """
    entries = {}
    lists = [b for b in _blocks(text, 0, len(text)) if b[0] == "model_config_list"]
    if not lists and text.strip() and not text.strip().startswith("#"):
        raise ServingConfigError("no model_config_list")
    for _, start, end in lists:
        for keyword, body_start, body_end in _blocks(text, start, end):
            if keyword != "config":
                continue
            body = text[body_start:body_end]
            match = _MODEL_NAME.search(body)
            if match:
                entries[match.group(1)] = body.strip("\n")
    return entries


def read(base_path):
    """Reads `BASE/models.config` into `{name: entry_text}`; `{}` when there is none.

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
    for name, body in entries.items():
        match = _BASE_PATH.search(body)
        if match and match.group(1).rstrip("/").endswith("/" + name):
            return match.group(1).rstrip("/")[: -len(name) - 1] or "/"
    return DEFAULT_ROOT


def render(names, entries=None, serving_root=None):
    """Renders the config text for `names`, keeping the text of `entries` that exist.

    Args:
        names: Model names to list.
        entries: `{name: entry_text}` of the current file. Defaults to none.
        serving_root: The base path as the server sees it; rewrites every `base_path` when
            given. `None` keeps existing ones and uses their root (or `/models`) for new ones.
    """
    entries = entries or {}
    root = (serving_root or _root_of(entries)).rstrip("/") or ""
    lines = [_HEADER.rstrip("\n"), "model_config_list {"]
    for name in names:
        base_path = f"{root}/{name}"
        body = entries.get(name)
        if body is None:
            body = (
                f'    name: "{name}"\n    base_path: "{base_path}"\n'
                '    model_platform: "tensorflow"'
            )
        elif serving_root is not None:
            body = _BASE_PATH.sub(lambda _: f'base_path: "{base_path}"', body, count=1)
        lines += ["  config {", body, "  }"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def write(base_path, entries=None, serving_root=None):
    """Writes `BASE/models.config` atomically, listing every model under `base_path`.

    Args:
        base_path: TF Serving's model base path on this machine.
        entries: The file's previous `{name: entry_text}` (from `read`), kept for
            models still present. Defaults to reading the file now.
        serving_root: See `render`.

    Returns:
        The config file's path.
    """
    if entries is None:
        entries = read(base_path)
    path = config_path(base_path)
    os.makedirs(base_path, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(render(list_models(base_path), entries, serving_root))
    os.replace(tmp, path)
    return path
