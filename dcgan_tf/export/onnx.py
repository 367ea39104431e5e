"""Converting a portable function to ONNX with tf2onnx, and checking the result loads.

tf2onnx is the ONNX exporter of TensorFlow graphs (Keras' `Model.export(format="onnx")` calls
it on the TensorFlow backend). It logs "Unsupported ops" and still writes a file that
onnxruntime rejects, so each file is checked with `onnx.checker` here and rejected
on any op outside the ONNX domain.
"""

import onnx
import tf2onnx

OPSET = 17  # Supported by onnxruntime >= 1.13 and onnxruntime-web.
EXPORTER = f"tf2onnx {tf2onnx.__version__} (tf2onnx.convert.from_function), opset {OPSET}"


def convert(function):
    """Returns the serialised ONNX model of a `tf.function` with an input signature.

    Args:
        function: A `tf.function` whose input signature names its inputs and which returns a
            dict of named outputs.

    Returns:
        The model's bytes.

    Raises:
        ValueError: when tf2onnx leaves an op unconverted or the model fails `onnx.checker`.
    """
    model, _ = tf2onnx.convert.from_function(
        function, input_signature=function.input_signature, opset=OPSET
    )
    foreign = sorted({n.op_type for n in model.graph.node if n.domain not in ("", "ai.onnx")})
    if foreign:
        raise ValueError(f"ONNX conversion left ops outside the ONNX domain: {', '.join(foreign)}")
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as e:
        raise ValueError(f"The converted ONNX model is invalid: {e}") from e
    return model.SerializeToString()
