"""Checkpoints to TF Serving SavedModels (signatures, the folded serving generator, models.config)
and to portable formats (TFLite, ONNX, a web page: `portable`)."""
