"""The options that name the model a command reads: a SavedModel, or a model on TF Serving."""

import click


def model_source_options(command):
    """Adds `--model`, `--server`, `--name` and `--version` (as `sample` and `explore` take them)."""
    options = [
        click.option("--model", type=click.Path(exists=True, file_okay=False),
                     help="SavedModel version directory, or a model directory (newest version)."),
        click.option("--server", help="TF Serving instead of --model: REST (http://localhost:8501) "
                                      "or gRPC (grpc://localhost:8500)."),
        click.option("--name", help="Model name on --server."),
        click.option("--version", "version", type=click.IntRange(min=0),
                     help="Version on --server. Default: newest."),
    ]
    for option in reversed(options):
        command = option(command)
    return command
