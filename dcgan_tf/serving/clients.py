"""Consumers of an export: a local SavedModel or TF Serving's REST API, behind one interface.

Both clients validate inputs against the export's own signature definitions before sending
them, so a wrong z width or float pixels fail with one clear line. The REST client needs only
the standard library and NumPy; the local client loads with plain `tf.saved_model.load` and
never builds Keras models.
"""

import json
import os
import re
import socket
import urllib.error
import urllib.request

import numpy as np

from dcgan_tf.contract import GENERATE, METADATA_ASSET
from dcgan_tf.versions import newest_version_dir

_DTYPES = {
    "DT_FLOAT": "float32", "DT_DOUBLE": "float64", "DT_HALF": "float16", "DT_BFLOAT16": "bfloat16",
    "DT_UINT8": "uint8", "DT_INT8": "int8", "DT_INT32": "int32", "DT_INT64": "int64",
    "DT_STRING": "string", "DT_BOOL": "bool",
}
REQUEST_FORMATS = ("row", "columnar")


class ServingError(ValueError):
    """A model that cannot be reached or loaded, or an input or answer that does not fit."""


def resolve_model_path(path):
    """Returns the SavedModel directory for `path`: a version directory or, like TF Serving,
    the newest version of a model directory (`savedmodels/digits` -> `savedmodels/digits/3`).

    Raises:
        ServingError: `path` holds no SavedModel.
    """
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    newest = newest_version_dir(path)
    if newest:
        return newest
    what = "does not exist" if not os.path.exists(path) else "has no saved_model.pb"
    raise ServingError(
        f"{path} is not a SavedModel: it {what}. Pass a version directory written by "
        "`dcgan-tf export`, e.g. savedmodels/digits/1."
    )


def read_signature_defs(path):
    """Reads the signature definitions of a SavedModel without loading it.

    Returns:
        `{signature: {"inputs": {...}, "outputs": {...}, "method_name": ...}}` in the JSON
        form of TF Serving's `GET /v1/models/NAME/metadata` (proto field names).
    """
    from google.protobuf import json_format
    from tensorflow.core.protobuf import saved_model_pb2

    path = resolve_model_path(path)
    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        raw = f.read()
    try:
        saved.ParseFromString(raw)
    except Exception as e:  # protobuf's DecodeError is no ValueError.
        raise ServingError(f"{path}/saved_model.pb is not a readable SavedModel: {e}") from None
    graph = next((m for m in saved.meta_graphs if "serve" in m.meta_info_def.tags), None)
    if graph is None:
        raise ServingError(f"{path} has no MetaGraph tagged 'serve', which TF Serving loads.")
    return {
        name: json_format.MessageToDict(sig, preserving_proto_field_name=True)
        for name, sig in graph.signature_def.items()
    }


def describe(signature_defs):
    """Simplifies signature definitions to `{signature: {"inputs"|"outputs": {name: (dtype, shape)}}}`.

    Shapes are tuples with `None` for any size; `None` instead of a tuple for unknown rank.
    """

    def tensor(info):
        dtype = _DTYPES.get(info.get("dtype"), str(info.get("dtype", "?")).lower().replace("dt_", ""))
        shape_info = info.get("tensor_shape", {})
        if shape_info.get("unknown_rank"):
            return dtype, None
        dims = tuple(int(d.get("size", -1)) for d in shape_info.get("dim", []))
        return dtype, tuple(None if d < 0 else d for d in dims)

    return {
        name: {
            part: {k: tensor(v) for k, v in sorted(sig.get(part, {}).items())}
            for part in ("inputs", "outputs")
        }
        for name, sig in sorted(signature_defs.items())
        if not name.startswith("__")  # `__saved_model_init_op` restores variables; not callable.
    }


def format_signatures(signatures):
    """A table of signatures with their inputs and outputs, from `describe`'s result."""

    def spec(name, dtype_shape):
        dtype, shape = dtype_shape
        dims = "?" if shape is None else ", ".join("N" if i == 0 and d is None else
                                                  "?" if d is None else str(d)
                                                  for i, d in enumerate(shape))
        return f"{name}: {dtype}[{dims}]"

    rows = [("signature", "inputs", "outputs")]
    for name, sig in signatures.items():
        rows.append((
            name,
            ", ".join(spec(k, v) for k, v in sig["inputs"].items()) or "-",
            ", ".join(spec(k, v) for k, v in sig["outputs"].items()) or "-",
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    return "\n".join(
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]}".rstrip() for r in rows
    )


def _check_input(signature, name, value, spec):
    """Returns `value` as an array of the signature's dtype, or raises a clear `ServingError`."""
    dtype, shape = spec
    array = np.asarray(value)
    where = f"signature {signature!r}"
    if dtype == "uint8":
        if array.dtype != np.uint8:
            hint = (" Convert images in [-1, 1] with dcgan_tf.images.to_uint8 first."
                    if array.dtype.kind == "f" else "")
            raise ServingError(
                f"Expected `{name}` to be uint8 pixels for {where}. "
                f"Received: {array.dtype} {array.shape}.{hint}"
            )
    elif dtype.startswith("float"):
        if array.dtype.kind not in "fiu" or array.dtype == np.bool_:
            raise ServingError(f"Expected `{name}` to be {dtype} for {where}. Received: {array.dtype}")
        array = array.astype(dtype)
    elif dtype.startswith("int"):
        if array.dtype.kind not in "iu":
            raise ServingError(f"Expected `{name}` to be integers for {where}. Received: {array.dtype}")
        array = array.astype(dtype)
    if shape is not None:
        fits = array.ndim == len(shape) and all(
            d is None or d == s for d, s in zip(shape, array.shape)
        )
        if not fits:
            wanted = ", ".join("N" if i == 0 and d is None else "any" if d is None else str(d)
                               for i, d in enumerate(shape))
            raise ServingError(
                f"Expected `{name}` of shape ({wanted}) for {where}. Received: shape {array.shape}"
            )
    return array


class Client:
    """Calls an export's signatures with validated NumPy inputs; returns NumPy outputs.

    Subclasses provide `signatures()` (as from `describe`), `_predict` and `metadata()`.
    """

    def signatures(self):
        raise NotImplementedError

    def metadata(self):
        raise NotImplementedError

    def _predict(self, signature, inputs):
        raise NotImplementedError

    def predict(self, signature, inputs):
        """Runs `signature` on `inputs` (`{name: array}`) and returns `{output: array}`.

        Raises:
            ServingError: unknown signature, missing or ill-typed inputs, or a failed call.
        """
        known = self.signatures()
        if signature not in known:
            raise ServingError(
                f"The model has no signature {signature!r}. It has: {', '.join(sorted(known))}"
            )
        specs = known[signature]["inputs"]
        if set(inputs) != set(specs):
            raise ServingError(
                f"Expected inputs {sorted(specs)} for signature {signature!r}. "
                f"Received: {sorted(inputs)}"
            )
        arrays = {k: _check_input(signature, k, v, specs[k]) for k, v in inputs.items()}
        return self._predict(signature, arrays)

    def generate(self, z):
        """Images for latent vectors `z` (N, z_dim): `{"images": float32, "pixels": uint8}`."""
        return self.predict(GENERATE, {"z": z})

    def sample(self, seeds):
        """One image per integer seed: `{"z", "images", "pixels"}`; a seed always gives the same z."""
        return self.predict("sample", {"seed": np.asarray(seeds, dtype=np.int64).reshape(-1)})

    def discriminate(self, images):
        """Real/fake scores of uint8 images (N, h, w, c): `{"logits", "probability"}` (N,)."""
        return self.predict("discriminate", {"images": images})

    def features(self, images):
        """The paper's pooled discriminator features of uint8 images: float32 (N, F)."""
        return self.predict("features", {"images": images})["features"]


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
        """The export's metadata dict, from `assets.extra/metadata.json` or the signature."""
        if self._metadata is None:
            asset = os.path.join(self.path, METADATA_ASSET)
            if os.path.isfile(asset):
                with open(asset, encoding="utf-8") as f:
                    self._metadata = json.load(f)
            else:
                raw = self.predict("metadata", {"request": np.zeros([1], np.int32)})["metadata"]
                self._metadata = json.loads(_text(raw[0]))
        return self._metadata

    def _predict(self, signature, inputs):
        import tensorflow as tf

        if self._loaded is None:
            try:
                self._loaded = tf.saved_model.load(self.path)
            except Exception as e:  # TF raises many types; report one line with the path.
                raise ServingError(f"Could not load the SavedModel {self.path}: {_first_line(e)}") from e
        fn = self._loaded.signatures[signature]
        try:
            outputs = fn(**{k: tf.constant(v) for k, v in inputs.items()})
        except (tf.errors.OpError, TypeError, ValueError) as e:
            raise ServingError(f"Signature {signature!r} failed: {_first_line(e)}") from e
        return {k: v.numpy() for k, v in outputs.items()}


class RestClient(Client):
    """Calls a model served by TF Serving through its REST predict API.

    Args:
        url: The server's REST address, e.g. `http://localhost:8501`.
        name: The model's name in the server's config.
        version: A version number, or `None` for the newest the server has loaded.
        timeout: Seconds to wait for a connection and for each answer. Defaults to 30.
        request_format: `"row"` (`instances`) or `"columnar"` (`inputs`). Defaults to `"row"`.
    """

    def __init__(self, url, name, version=None, timeout=30.0, request_format="row"):
        if not url.startswith(("http://", "https://")):
            raise ServingError(f"Expected an http:// or https:// URL for the server. Received: {url!r}")
        if request_format not in REQUEST_FORMATS:
            raise ServingError(
                f"Expected `request_format` in {REQUEST_FORMATS}. Received: {request_format!r}"
            )
        self.url = url.rstrip("/")
        self.name = name
        self.version = version
        self.timeout = timeout
        self.request_format = request_format
        self._signatures = None
        self._metadata = None

    @property
    def model_url(self):
        """`URL/v1/models/NAME[/versions/V]`, the root of this model's REST endpoints."""
        url = f"{self.url}/v1/models/{self.name}"
        return f"{url}/versions/{self.version}" if self.version is not None else url

    def status(self):
        """The server's `model_version_status` answer for this model."""
        return self._call("GET", self.model_url)

    def signatures(self):
        if self._signatures is None:
            answer = self._call("GET", f"{self.model_url}/metadata")
            try:
                defs = answer["metadata"]["signature_def"]["signature_def"]
            except (KeyError, TypeError):
                raise ServingError(
                    f"{self.model_url}/metadata did not return signature definitions."
                ) from None
            self._signatures = describe(defs)
        return self._signatures

    def metadata(self):
        """The export's metadata dict, through the `metadata` signature."""
        if self._metadata is None:
            raw = self.predict("metadata", {"request": np.zeros([1], np.int32)})["metadata"]
            self._metadata = json.loads(_text(raw[0]))
        return self._metadata

    def request_body(self, signature, inputs):
        """The predict request TF Serving's REST API documents, for validated `inputs`."""
        if self.request_format == "columnar":
            return {"signature_name": signature, "inputs": {k: v.tolist() for k, v in inputs.items()}}
        sizes = {len(v) for v in inputs.values()}
        if len(sizes) != 1 or 0 in sizes:
            raise ServingError(
                "The row format needs every input to have the same, non-zero batch size. "
                f"Received sizes: { {k: len(v) for k, v in inputs.items()} }"
            )
        n = sizes.pop()
        return {
            "signature_name": signature,
            "instances": [{k: v[i].tolist() for k, v in inputs.items()} for i in range(n)],
        }

    def _predict(self, signature, inputs):
        answer = self._call("POST", f"{self.model_url}:predict", self.request_body(signature, inputs))
        outputs = self.signatures()[signature]["outputs"]
        key = "outputs" if self.request_format == "columnar" else "predictions"
        if key not in answer:
            raise ServingError(f"TF Serving's answer has no {key!r}: {str(answer)[:200]}")
        values = answer[key]
        if self.request_format == "row":
            if values and isinstance(values[0], dict):
                values = {k: [row[k] for row in values] for k in values[0]}
        if not isinstance(values, dict):
            values = {next(iter(outputs)): values}  # One output: TF Serving leaves out its name.
        return {k: _to_array(v, outputs[k][0] if k in outputs else None) for k, v in values.items()}

    def _timed_out(self):
        return f"TF Serving at {self.url} did not answer within {self.timeout}s."

    def _call(self, method, url, body=None):
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:
            raise ServingError(f"TF Serving answered HTTP {e.code} for {url}: {_error_text(e)}") from None
        except urllib.error.URLError as e:
            if isinstance(e.reason, (socket.timeout, TimeoutError)):
                raise ServingError(self._timed_out()) from None
            raise ServingError(
                f"Cannot reach TF Serving at {self.url} ({e.reason}). Is tensorflow_model_server "
                "running with --rest_api_port, and is the URL right?"
            ) from None
        except (socket.timeout, TimeoutError):
            raise ServingError(self._timed_out()) from None
        except OSError as e:
            raise ServingError(f"Connection to TF Serving at {self.url} failed: {e}") from None
        try:
            return json.loads(raw)
        except ValueError:
            raise ServingError(f"TF Serving at {url} answered with non-JSON: {raw[:200]!r}") from None


def _to_array(values, dtype):
    if dtype == "string":
        return np.array([_text(v) for v in np.ravel(np.array(values, dtype=object))], dtype=object)
    return np.asarray(values, dtype=dtype) if dtype else np.asarray(values)


def _text(value):
    if isinstance(value, dict) and "b64" in value:
        import base64

        return base64.b64decode(value["b64"]).decode("utf-8")
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _error_text(error):
    raw = error.read() if hasattr(error, "read") else b""
    try:
        return _informative_line(str(json.loads(raw)["error"])) or "(empty error)"
    except (ValueError, KeyError, TypeError):
        return raw[:200].decode("utf-8", "replace").strip() or str(error.reason)


def _informative_line(text):
    """The line of a TensorFlow error that says what is wrong (an assertion's own message)."""
    for line in text.strip().splitlines():
        if not line.strip() or line[0].isspace() or line.startswith(
            ("Graph execution error", "Detected at node", "<stack traces")
        ):
            continue
        line = re.sub(r"\s*\[Op:[^\]]*\]$", "", line)
        match = re.match(r"assertion failed: \[([^\]]*)\]", line)
        return match.group(1) if match else line
    return ""


def _first_line(error):
    return _informative_line(str(getattr(error, "message", None) or error)) or type(error).__name__


def open_client(model=None, server=None, name=None, version=None, timeout=30.0, request_format="row"):
    """A `SavedModelClient` for `model`, or a `RestClient` for `server` and `name`.

    Raises:
        ServingError: neither or both of `model` and `server`, or `server` without `name`.
    """
    if (model is None) == (server is None):
        raise ServingError("Pass either a SavedModel path (--model) or a server URL (--server).")
    if model is not None:
        return SavedModelClient(model)
    if not name:
        raise ServingError("Pass the served model's --name with --server.")
    return RestClient(server, name, version=version, timeout=timeout, request_format=request_format)
