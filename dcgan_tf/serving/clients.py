"""Consumers of an export behind one interface: a local SavedModel, TF Serving over REST or gRPC.

The local client opens the export with `dcgan_tf.serving.export_reader` (plain
`tf.saved_model.load`, never a Keras model);
`open_client` picks the client from a path or a server address.
"""

import functools

import tensorflow as tf

from dcgan_tf import hardware
from dcgan_tf.contract import GENERATE
from dcgan_tf.serving.export_reader import ExportReadError, ExportReader  # noqa: F401  (re-exported)
from dcgan_tf.serving.grpc_client import SCHEME as GRPC_SCHEME, GrpcClient
from dcgan_tf.serving.rest import REQUEST_FORMATS, RestClient  # noqa: F401  (re-exported)
from dcgan_tf.serving.signatures import (  # noqa: F401  (re-exported: the serving API)
    Client, ServingError, describe, first_line, format_signatures, read_signature_defs,
    resolve_model_path, text_of,
)


# The signatures a bf16 export computes in bf16 (D's stay float32).
_GENERATING = (GENERATE, "sample")


class SavedModelClient(Client):
    """Calls a SavedModel in this process, loaded with plain `tf.saved_model.load`.

    Args:
        path: A version directory, or a model directory (its newest version is used); or an
            `ExportReader` already opened.

    Raises:
        ExportReadError: `path` is not a readable SavedModel.
    """

    def __init__(self, path):
        self.export = path if isinstance(path, ExportReader) else ExportReader(path)
        self.path = self.export.path

    def signatures(self):
        return self.export.signatures

    def metadata(self):
        """The export's metadata dict, from `assets.extra/metadata.json` (no TensorFlow needed)
        or the `metadata` signature; `{}` when the export has neither."""
        return self.export.metadata()

    def _predict(self, signature, inputs):
        if signature in _GENERATING and self._bf16_refusal:
            raise ServingError(self._bf16_refusal)
        fn = self.export.function(signature)
        try:
            outputs = fn(**{k: tf.constant(v) for k, v in inputs.items()})
        except (tf.errors.OpError, TypeError, ValueError) as e:
            raise ServingError(f"Signature {signature!r} failed: {first_line(e)}") from e
        return {k: v.numpy() for k, v in outputs.items()}

    @functools.cached_property
    def _bf16_refusal(self):
        """The one-line refusal of a bf16 export's generator on a CPU where bf16 aborts the
        process (`hardware.bf16_refusal`), or `None` where it runs; read once."""
        if self.metadata().get("serving_precision") != "bf16":
            return None
        return hardware.bf16_refusal(
            f"The bf16 export {self.path}",
            fix="export it again with --serving-precision fp32 to use it here")


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
