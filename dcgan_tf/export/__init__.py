"""Checkpoints to TF Serving SavedModels: signatures, the folded serving generator, models.config."""
