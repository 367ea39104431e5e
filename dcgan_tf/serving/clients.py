"""Consumers of an export behind one interface: a local SavedModel, TF Serving over REST or gRPC.

The local client loads with plain `tf.saved_model.load` and never builds Keras models;
`open_client` picks the client from a path or a server address.
"""

import json
import os

from dcgan_tf.contract import METADATA_ASSET
from dcgan_tf.serving.grpc_client import SCHEME as GRPC_SCHEME, GrpcClient
from dcgan_tf.serving.rest import REQUEST_FORMATS, RestClient  # noqa: F401  (re-exported)
from dcgan_tf.serving.signatures import (  # noqa: F401  (re-exported: the serving API)
    Client, ServingError, describe, first_line, format_signatures, read_signature_defs,
    resolve_model_path, text_of,
)


class SavedModelClient(Client):
    """Calls a SavedModel in this process, loaded with plain `tf.saved_model.load`.

    Args:
        path: A version directory, or a model directory (its newest version is used).
    """

    def __init__(self, path):
        self.path = resolve_model_path(path)
        self._signatures = describe(read_signature_defs(self.path))
        self._loaded = None
        self._metadata = None

    def signatures(self):
        return self._signatures

    def metadata(self):
        """The export's metadata dict, from `assets.extra/metadata.json` (no TensorFlow needed)
        or the `metadata` signature; `{}` when the export has neither."""
        if self._metadata is None:
            asset = os.path.join(self.path, METADATA_ASSET)
            if os.path.isfile(asset):
                try:
                    with open(asset, encoding="utf-8") as f:
                        metadata = json.load(f)
                except (OSError, ValueError) as e:
                    raise ServingError(f"{asset} is not readable JSON ({first_line(e)}); "
                                       "re-export the model.") from None
                if not isinstance(metadata, dict):
                    raise ServingError(f"{asset} holds a JSON {type(metadata).__name__}, not an "
                                       "object; re-export the model.")
                self._metadata = metadata
            elif "metadata" not in self.signatures():
                self._metadata = {}
            else:
                return super().metadata()
        return self._metadata

    def _predict(self, signature, inputs):
        import tensorflow as tf

        if self._loaded is None:
            try:
                self._loaded = tf.saved_model.load(self.path)
            except Exception as e:  # TF raises many types; report one line with the path.
                raise ServingError(f"Could not load the SavedModel {self.path}: {first_line(e)}") from e
        fn = self._loaded.signatures[signature]
        try:
            outputs = fn(**{k: tf.constant(v) for k, v in inputs.items()})
        except (tf.errors.OpError, TypeError, ValueError) as e:
            raise ServingError(f"Signature {signature!r} failed: {first_line(e)}") from e
        return {k: v.numpy() for k, v in outputs.items()}


def open_client(model=None, server=None, name=None, version=None, timeout=30.0, request_format="row"):
    """A `SavedModelClient` for `model`, or a client of TF Serving at `server` for `name`.

    Args:
        model: A SavedModel version or model directory.
        server: `grpc://host:port` (gRPC, `GrpcClient`) or `http(s)://host:port` (REST,
            `RestClient`).
        name: The served model's name; needed with `server`.
        version: The served version; `None` for the newest.
        timeout: Seconds to wait for the server. Defaults to 30.
        request_format: REST only: `"row"` or `"columnar"`. Defaults to `"row"`.

    Raises:
        ServingError: neither or both of `model` and `server`, or `server` without `name`.
    """
    if (model is None) == (server is None):
        raise ServingError("Pass either a SavedModel path (--model) or a server URL (--server).")
    if model is not None:
        return SavedModelClient(model)
    if not name:
        raise ServingError("Pass the served model's --name with --server.")
    if server.startswith(GRPC_SCHEME):
        return GrpcClient(server, name, version=version, timeout=timeout)
    return RestClient(server, name, version=version, timeout=timeout, request_format=request_format)
