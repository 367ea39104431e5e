"""Running portable exports in their runtimes, with the z check their graphs leave out.

The TF Serving SavedModel rejects z of the wrong width or with NaN/inf in-graph; TFLite and ONNX
graphs carry no asserts, so a NaN z would come back as NaN images. `check_z` is the small
wrapper docs/portable.md gives: call it (or `web_assets/portable_z.js`'s `checkZ`) before
running the file. `LiteRTModel` and `OnnxModel` call it for you.
"""

import json
import os

import numpy as np

try:  # LiteRT, TFLite's standalone interpreter (PyPI `ai-edge-litert`).
    from ai_edge_litert.interpreter import Interpreter as _Interpreter
    INTERPRETER = "ai_edge_litert"
except ImportError:  # pragma: no cover - the `portable` extra installs it.
    import tensorflow as tf

    _Interpreter = tf.lite.Interpreter
    INTERPRETER = "tf.lite"


def check_z(z, z_dim):
    """Returns `z` as float32 (N, z_dim) after checking its shape and that it is finite.

    Raises:
        ValueError: on another shape or a NaN or infinite value.
    """
    z = np.asarray(z, np.float32)
    if z.ndim != 2 or z.shape[1] != z_dim or z.shape[0] == 0:
        raise ValueError(f"Expected `z` of shape [N, {z_dim}] (z_dim={z_dim}). Received: shape={z.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError("Expected `z` of finite values (no NaN or inf). Received: z with "
                         f"{int(np.sum(~np.isfinite(z)))} non-finite values")
    return z


def read_contract(directory):
    """The `contract.json` beside a portable export's files."""
    path = os.path.join(directory, "contract.json")
    if not os.path.isfile(path):
        raise OSError(f"Expected a portable export directory holding contract.json. Received: {directory}")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _check_images(images, contract):
    images = np.asarray(images)
    shape = contract["models"]["features"]["inputs"]["images"]["shape"][1:]
    if images.dtype != np.uint8 or list(images.shape[1:]) != shape:
        raise ValueError(f"Expected uint8 `images` of shape [N, {', '.join(map(str, shape))}] "
                         f"(resize elsewhere). Received: {images.dtype} {images.shape}")
    return images


class LiteRTModel:
    """A `dcgan-tf export --format tflite` directory run in the LiteRT interpreter.

    Args:
        directory: The `tflite/` directory (with `contract.json`).
        threads: Interpreter threads. Defaults to `None` (the interpreter's choice).
    """

    def __init__(self, directory, threads=None):
        self.contract = read_contract(directory)
        self._runners = {}
        for name, model in self.contract["models"].items():
            interpreter = _Interpreter(model_path=os.path.join(directory, model["file"]),
                                       num_threads=threads)
            self._runners[name] = interpreter.get_signature_runner("serving_default")

    def generate(self, z):
        """`{"images", "pixels"}` for z (N, z_dim), after `check_z`; one call per row when
        the file takes one z per call (the exported generator does)."""
        z = check_z(z, self.contract["z_dim"])
        run = self._runners["generator"]
        if self.contract["models"]["generator"]["inputs"]["z"]["shape"][0] != 1:
            return run(z=z)
        rows = [run(z=row[None]) for row in z]
        return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}

    def features(self, images):
        """`{"features"}` for uint8 images at the model's size."""
        return self._runners["features"](images=_check_images(images, self.contract))


class OnnxModel:
    """A `dcgan-tf export --format onnx` directory run in onnxruntime (CPU).

    Args:
        directory: The `onnx/` directory (with `contract.json`).
        threads: Intra-op threads. Defaults to `None` (onnxruntime's choice).
    """

    def __init__(self, directory, threads=None):
        import onnxruntime

        self.contract = read_contract(directory)
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self._sessions = {
            name: onnxruntime.InferenceSession(os.path.join(directory, model["file"]), options,
                                               providers=["CPUExecutionProvider"])
            for name, model in self.contract["models"].items()
        }

    def _run(self, name, feed):
        session = self._sessions[name]
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(names, feed)))

    def generate(self, z):
        """`{"images", "pixels"}` for z (N, z_dim), after `check_z`."""
        return self._run("generator", {"z": check_z(z, self.contract["z_dim"])})

    def features(self, images):
        """`{"features"}` for uint8 images at the model's size."""
        return self._run("features", {"images": _check_images(images, self.contract)})
