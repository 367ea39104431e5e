"""The options that name the model a command reads: a SavedModel, or a model on TF Serving."""

from dcgan_tf_cli.schema import options

# `--model`, `--server`, `--name` and `--version` (as `sample` and `explore` take them).
MODEL_SOURCE = ("model", "server", "name", "version", "timeout")


def model_source_options(command):
    """Adds the `MODEL_SOURCE` options (each from `dcgan_tf.options`)."""
    return options(*MODEL_SOURCE)(command)


def check_model_source(model, version):
    """Refuses `--version` with `--model` (a version directory says it).

    Raises:
        click.UsageError: both given.
    """
    import click

    if model is not None and version is not None:
        raise click.UsageError(
            "--version selects a version on --server; pass a version directory to --model.")
