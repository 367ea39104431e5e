"""The training stage's errors, shared by its modules without a circular import: checkpoints
and run directories (`checkpoint`, `legacy_checkpoint`), and training runs (`run`, `assemble`)."""


class CheckpointError(ValueError):
    """A checkpoint or run directory that cannot be used."""


class TrainingError(RuntimeError):
    """Training stopped for a reason the user must act on (e.g. a NaN loss)."""
