"""The training stage's error for checkpoints and run directories, shared by the current and
the legacy checkpoint readers (`checkpoint`, `legacy_checkpoint`) without a circular import."""


class CheckpointError(ValueError):
    """A checkpoint or run directory that cannot be used."""
