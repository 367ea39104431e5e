"""The `dcgan-tf` command group: parses flags, calls `dcgan_tf`, prints one-line errors."""

import os

import click

from dcgan_tf_cli.conditional import nn_classify
from dcgan_tf_cli.explore import explore
from dcgan_tf_cli.export import export
from dcgan_tf_cli.inspect_export import inspect
from dcgan_tf_cli.investigate import arithmetic, dedup, forget, interpolate, nearest, visualize
from dcgan_tf_cli.probe import probe
from dcgan_tf_cli.project import project
from dcgan_tf_cli.sample import sample
from dcgan_tf_cli.score import score
from dcgan_tf_cli.startup import hide_tensorflow_startup
from dcgan_tf_cli.train import train


class Group(click.Group):
    """Turns the library's errors into one-line messages instead of tracebacks.

    Set DCGAN_TF_DEBUG=1 to see the traceback.
    """

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except (ValueError, OSError, RuntimeError) as e:
            if os.environ.get("DCGAN_TF_DEBUG"):
                raise
            message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise click.ClickException(message) from e


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dcgan-tf")
@click.option("--verbose", is_flag=True,
              help="Show TensorFlow's start-up log lines (also shown with "
                   "TF_CPP_MIN_LOG_LEVEL=0).")
def cli(verbose):
    """DCGAN (Radford, Metz & Chintala 2015) in TensorFlow/Keras.

    Train, export TF Serving SavedModels, sample, probe the discriminator's features with a
    linear SVM, and run the paper's investigations (walks, arithmetic, memorisation, guided
    backprop, forgetting, dedup, conditional 1-NN).

    \b
    dcgan-tf train                       # digits, embedded, a few minutes on a CPU
    dcgan-tf train runs/svhn --dataset svhn --data-dir ~/data/svhn
    dcgan-tf export runs/digits --name digits && dcgan-tf sample --model savedmodels/digits
    """
    hide_tensorflow_startup(verbose)


cli.add_command(train)
cli.add_command(probe)
cli.add_command(export)
cli.add_command(sample)
cli.add_command(score)
cli.add_command(inspect)
cli.add_command(interpolate)
cli.add_command(arithmetic)
cli.add_command(nearest)
cli.add_command(visualize)
cli.add_command(forget)
cli.add_command(dedup)
cli.add_command(nn_classify)
cli.add_command(explore)
cli.add_command(project)


def main():
    cli(prog_name="dcgan-tf")


if __name__ == "__main__":
    main()
