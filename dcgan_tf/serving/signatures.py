"""What every client of an export shares: finding the SavedModel, reading its signatures
without loading it, checking inputs against them, and the `Client` interface.

Clients validate inputs against the export's own signature definitions before sending them,
so a wrong z width or float pixels fail with one clear line whatever the transport.
"""

import base64
import json
import os
import re

from google.protobuf import json_format
import numpy as np
from tensorflow.core.protobuf import saved_model_pb2

from dcgan_tf.contract import GENERATE
from dcgan_tf.versions import newest_version_dir

_DTYPES = {
    "DT_FLOAT": "float32", "DT_DOUBLE": "float64", "DT_HALF": "float16", "DT_BFLOAT16": "bfloat16",
    "DT_UINT8": "uint8", "DT_INT8": "int8", "DT_INT32": "int32", "DT_INT64": "int64",
    "DT_STRING": "string", "DT_BOOL": "bool",
}

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


def check_input(signature, name, value, spec):
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

    Subclasses provide `signatures()` (as from `describe`) and `_predict`.
    """

    def signatures(self):
        raise NotImplementedError

    def metadata(self):
        """The export's metadata dict, through the `metadata` signature (asked once)."""
        if getattr(self, "_metadata", None) is None:
            raw = self.predict("metadata", {"request": np.zeros([1], np.int32)})["metadata"]
            self._metadata = json.loads(text_of(raw[0]))
        return self._metadata

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
        arrays = {k: check_input(signature, k, v, specs[k]) for k, v in inputs.items()}
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

    def classify(self, images):
        """Class probabilities (N, K) float32 and the predicted class (N,) int64 of uint8
        images, from a semi-supervised export's `classify` signature:
        `{"probabilities", "classes"}`."""
        return self.predict("classify", {"images": images})


def text_of(value):
    """A string output as text, whether it came as bytes, `{"b64": ...}` JSON or text."""
    if isinstance(value, dict) and "b64" in value:
        return base64.b64decode(value["b64"]).decode("utf-8")
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def informative_line(text):
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


def first_line(error):
    return informative_line(str(getattr(error, "message", None) or error)) or type(error).__name__
