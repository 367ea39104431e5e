"""The base class of every command: TensorFlow imported before the command runs, quietly.

The quieting itself is `dcgan_tf_cli.startup`'s import hook, installed by the command group;
importing TensorFlow here, before the command's own output, keeps its start-up lines (hidden
or, with `dcgan-tf --verbose`, shown) ahead of what the command prints.
"""

import importlib

import click

from dcgan_tf_cli.startup import hide_tensorflow_startup


def import_tensorflow(verbose=False):
    """Imports TensorFlow, hiding its C++ start-up lines unless `verbose` or the user set
    TF_CPP_MIN_LOG_LEVEL (`startup.hide_tensorflow_startup`).

    Args:
        verbose: Show everything TensorFlow prints.
    """
    hide_tensorflow_startup(verbose)
    importlib.import_module("tensorflow")


class Command(click.Command):
    """A command that imports TensorFlow quietly before it runs (not for `--help`)."""

    def invoke(self, ctx):
        root = ctx.find_root()
        import_tensorflow(verbose=bool(root.params.get("verbose")))
        return super().invoke(ctx)
