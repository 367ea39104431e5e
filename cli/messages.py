"""The library's notes (resume points, skipped checkpoints, cache notes) as plain lines."""

import logging

import click


class _ClickHandler(logging.Handler):
    """Writes each record as one line to the current stderr (click's, so tests see it too)."""

    def emit(self, record):
        try:
            click.echo(self.format(record), err=True)
        except Exception:  # noqa: BLE001  (logging must never break the command)
            self.handleError(record)


def show_library_messages():
    """Prints the `dcgan_tf` logger's INFO and above as lines; idempotent."""
    logger = logging.getLogger("dcgan_tf")
    if not any(isinstance(h, _ClickHandler) for h in logger.handlers):
        handler = _ClickHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
