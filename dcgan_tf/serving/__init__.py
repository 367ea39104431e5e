"""Clients of an export: a local SavedModel, TF Serving over REST or gRPC."""
