"""`dcgan-tf train`."""

import dataclasses
import json
import sys

import click

from dcgan_tf_cli.output import echo_summary, write_json
from dcgan_tf_cli.quiet import Command
from dcgan_tf_cli.schema import argument, given, options
from dcgan_tf.config import FeatureConfig, ModelConfig, TrainConfig

# Every option of the three configurations that `train` takes, plus --conditional.
CONFIG_OPTIONS = tuple(
    f.name for cls in (TrainConfig, ModelConfig, FeatureConfig) for f in dataclasses.fields(cls)
    if f.name not in ("out", "label_validation", "label_classes", "bn_momentum", "sample_grid",
                      "layers", "pooling", "activation", "flip", "shift", "power")
) + ("conditional",)


@click.command(cls=Command)
@argument("out", "[RUN]", exists=False, required=False)
@options(*CONFIG_OPTIONS, "dry_run", "json_path", "quiet", stated=CONFIG_OPTIONS)
def train(out, dry_run, json_path, quiet, **flags):
    """Train a DCGAN in RUN; re-running the same command resumes from the last checkpoint.

    RUN is the run directory (default: runs/<dataset>).

    \b
    Writes into the run directory:
      checkpoints/ckpt-<step>/   at the end, and on --monitor-every's schedule (atomic)
      samples/epoch-NNNN.png     a grid from a fixed z, on the same schedule
      metrics.jsonl              one line per epoch; logs/ for TensorBoard
    A resume keeps the run's model options (labels, heads, the generator's average) and
    refuses a launch that contradicts them; naming another recipe changes only training.
    \b
    Examples:
      dcgan-tf train
      dcgan-tf train --recipe paper                      # the paper's section 4, exactly
      dcgan-tf train runs/svhn --dataset svhn --data-dir ~/data/svhn --max-steps 5000
      dcgan-tf train runs/photos --dataset folder --data-dir photos/ --image-size 64 --ngf 128
      dcgan-tf train runs/cond --dataset fashion_mnist --conditional
      dcgan-tf train --recipe ssgan --diffaugment translation,cutout
      dcgan-tf train --dataset cifar10 --data-dir ~/data/cifar10 --labels 1000 --g-ema 0.999
    """
    from dcgan_tf.training.run_config import RunConfig

    ctx = click.get_current_context()
    values = given(ctx, CONFIG_OPTIONS)
    recipe = values.pop("recipe", None)
    try:
        run = RunConfig.from_recipe(recipe, out=out, **values)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    if dry_run:
        click.echo(json.dumps(run.to_dict(), indent=2))
        return
    from dcgan_tf.atomic import check_writable

    check_writable(json_path)  # Before the work: a report that cannot be written is lost.
    from dcgan_tf.training.run import train as run_training

    _show_library_messages()
    # A live progress bar on a terminal, one line per epoch in logs.
    verbose = 0 if quiet else (1 if sys.stdout.isatty() else 2)
    summary = run_training(run, verbose=verbose)
    if summary["start_step"] == summary["step"]:
        text = (f"Nothing to do: {run.train.out} is already at step {summary['step']} "
                "(raise --epochs or --max-steps to train on).")
    else:
        limit = " (stopped at --max-minutes)" if summary.get("timed_out") else ""
        text = (f"Trained steps {summary['start_step']}..{summary['step']} in "
                f"{summary['seconds']:.1f}s{limit}. Checkpoint: {summary['checkpoint']}\n"
                f"Samples: {run.train.out}/samples/latest.png  "
                f"Metrics: {run.train.out}/metrics.jsonl")
    echo_summary(text, json_path)
    write_json(summary, json_path)


def _show_library_messages():
    """Prints the library's notes (resume point, skipped checkpoints, lock takeovers) as lines."""
    from dcgan_tf_cli.messages import show_library_messages

    show_library_messages()
