"""Opening an export for reading: the one place that resolves, checks and loads a SavedModel.

Every consumer of an export (the local client, the probe, scoring, the investigations) opens
it here: the path is resolved as TF Serving does (a model directory means its newest
version), the signatures are read from `saved_model.pb` without loading anything, the ones
the consumer needs are checked, the metadata is read from `assets.extra/metadata.json` (or
the `metadata` signature), and the graph is loaded with plain `tf.saved_model.load` only
when a signature is first called. Problems raise one error, raised once, never translated.
"""

import json
import os

import numpy as np
import tensorflow as tf

from dcgan_tf.contract import METADATA_ASSET
from dcgan_tf.serving.signatures import (
    ServingError, describe, first_line, read_signature_defs, resolve_model_path, text_of,
)


class ExportReadError(ServingError):
    """An export that cannot be opened, or lacks a signature its consumer needs."""


class ExportReader:
    """An opened export: its version directory, signatures, metadata and callable signatures.

    Args:
        path: A SavedModel version directory, or a TF Serving model directory (its newest
            version is opened).
        needs: Signature names the consumer calls; a missing one is an error now, not at
            the first call.
        error: The exception class raised (a `ValueError`); consumers with their own error
            vocabulary pass theirs, so that the error is raised once in it. Defaults to
            `ExportReadError`.

    Raises:
        `error`: `path` is not a SavedModel (a run directory is named as one, with the
            command that exports it), cannot be read, or lacks a needed signature.
    """

    def __init__(self, path, needs=(), error=ExportReadError):
        self._error = error
        path = os.fspath(path)
        try:
            self.path = resolve_model_path(path)
            self.signatures = describe(read_signature_defs(self.path))
        except ServingError as e:
            if os.path.isfile(os.path.join(path, "config.json")):
                raise error(f"{e} {path} is a training run: export it first with "
                            f"`dcgan-tf export {path}` and pass the version directory it "
                            "prints.") from None
            raise error(str(e)) from None
        missing = [name for name in needs if name not in self.signatures]
        if missing:
            raise error(
                f"{self.path} has no `{missing[0]}` signature (it has: "
                f"{', '.join(sorted(self.signatures)) or 'none'}): export it with "
                "`dcgan-tf export`."
            )
        self._loaded = None
        self._metadata = None

    def function(self, name):
        """The signature `name` as a callable concrete function (loads the graph once)."""
        if name not in self.signatures:
            raise self._error(f"{self.path} has no `{name}` signature (it has: "
                              f"{', '.join(sorted(self.signatures)) or 'none'}).")
        if self._loaded is None:
            try:
                self._loaded = tf.saved_model.load(self.path)
            except Exception as e:  # TF raises many types; report one line with the path.
                raise self._error(
                    f"Could not load the SavedModel {self.path}: {first_line(e)}") from e
        return self._loaded.signatures[name]

    def metadata(self):
        """The export's metadata dict: `assets.extra/metadata.json` (no graph loaded), else
        the `metadata` signature's answer, else `{}`."""
        if self._metadata is None:
            asset = os.path.join(self.path, METADATA_ASSET)
            if os.path.isfile(asset):
                try:
                    with open(asset, encoding="utf-8") as f:
                        metadata = json.load(f)
                except (OSError, ValueError) as e:
                    raise self._error(f"{asset} is not readable JSON ({first_line(e)}); "
                                      "re-export the model.") from None
                if not isinstance(metadata, dict):
                    raise self._error(f"{asset} holds a JSON {type(metadata).__name__}, not an "
                                      "object; re-export the model.")
                self._metadata = metadata
            elif "metadata" in self.signatures:
                raw = self.function("metadata")(request=tf.constant(np.zeros([1], np.int32)))
                self._metadata = json.loads(text_of(raw["metadata"].numpy()[0]))
            else:
                self._metadata = {}
        return self._metadata


def open_export(path, needs=(), error=ExportReadError):
    """Opens an export for reading; see `ExportReader` (same arguments, same errors)."""
    return ExportReader(path, needs, error)
