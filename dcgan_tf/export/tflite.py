"""Converting a portable function to a TFLite (LiteRT) flatbuffer with builtin ops only.

TFLite's own converter (`tf.lite.TFLiteConverter`, what Keras' `Model.export(format="litert")`
calls) from a SavedModel that holds the function as `serving_default`, so the file keeps a
signature with the inputs' and outputs' names. Builtins only: an op outside them fails here,
at export, instead of in the user's interpreter (TF Select ops wrote files that neither TF's
interpreter nor LiteRT ran).
"""

import tensorflow as tf

EXPORTER = f"tf.lite.TFLiteConverter.from_saved_model (TensorFlow {tf.__version__}), builtin ops only"


def convert(saved_model_dir):
    """Returns the TFLite flatbuffer (bytes) of `saved_model_dir`'s `serving_default`.

    Raises:
        ValueError: when the graph needs an op outside TFLite's builtins.
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, ["serving_default"])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        return converter.convert()
    except Exception as e:  # The converter raises ConverterError (not a ValueError) with op names.
        raise ValueError(f"TFLite conversion needs ops outside TFLite's builtins: {e}") from e
