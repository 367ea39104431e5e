"""`dcgan-tf probe`."""

import math

import click

from dcgan_tf_cli.messages import show_library_messages
from dcgan_tf_cli.output import echo_summary, json_option, write_json
from dcgan_tf_cli.quiet import Command
from dcgan_tf.config import DEFAULT_C_GRID, DEFAULT_CACHE_MAX_GB as DEFAULT_MAX_GB, PROBE_SOLVERS
from dcgan_tf.data.registry import IN_MEMORY_DATASETS as PROBE_DATASETS

# Kept here (not imported from dcgan_tf.probe.run/baselines) so `--help` does not load TensorFlow.
BASELINES = ("none", "random", "pixels", "supervised")
CLASSIFIERS = ("svm",)


def _labels(value):
    if str(value).lower() == "all":
        return None
    try:
        return int(value)
    except ValueError:
        raise click.ClickException(
            f"Expected --labels to be a number or 'all'. Received: --labels {value}"
        ) from None


def _c_grid(ctx, param, value):
    try:
        grid = tuple(float(c) for c in value.replace(",", " ").split())
    except ValueError:
        grid = ()
    if not grid or not all(math.isfinite(c) and c > 0 for c in grid):
        raise click.BadParameter(
            f"expected finite positive numbers, e.g. '1e-4,1e-3,1e-2'. Received: {value!r}"
        )
    return grid


@click.command(cls=Command)
@click.option("--classifier", type=click.Choice(CLASSIFIERS), default="svm", show_default=True,
              help="Read-out on the pooled discriminator features; svm: LinearSVC's linear "
                   "L2-SVM (squared hinge, L2 penalty), the paper's and the only one so far.")
@click.option("--svm", is_flag=True,
              help="The same as --classifier svm (the paper's probe; how it is usually called).")
@click.option("--model", type=str,
              help="SavedModel directory from `dcgan-tf export` (or its model directory: the "
                   "newest version). Baselines copy its architecture.")
@click.option("--dataset", required=True, metavar="|".join(PROBE_DATASETS),
              help="Labelled dataset (checked by the library, so a typo is one clear line).")
@click.option("--data-dir", type=click.Path(),
              help="Directory holding the dataset's files (the .npz file for --dataset npz).")
@click.option("--labels", default="1000", show_default=True,
              help="Class-balanced labelled examples per draw, or 'all' (CIFAR-10 protocol).")
@click.option("--validation", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Validation examples from the training split (at most 20% of it).")
@click.option("--repeats", type=click.IntRange(min=1), default=10, show_default=True,
              help="Draws of the labelled subset; mean and std are over them.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--c-grid", default=",".join(f"{c:g}" for c in DEFAULT_C_GRID), show_default=True,
              callback=_c_grid,
              help="SVM C values searched on the validation set.")
@click.option("--solver", type=click.Choice(PROBE_SOLVERS), default="auto", show_default=True,
              help="LinearSVC's objective solved by Newton's method, gram: in the eigenbasis "
                   "of the N x N Gram matrix, primal: of the F x F feature covariance (both "
                   "warm-started along C), newton: in the dual, an N x N system per step; "
                   "liblinear: LinearSVC itself; auto: primal when labels outnumber "
                   "features, else gram.")
@click.option("--baseline", type=click.Choice(BASELINES), default="none", show_default=True,
              help="Probe a baseline instead: random (untrained) D, raw pixels, or the D "
                   "architecture trained supervised on the labels.")
@click.option("--search-every-draw", is_flag=True,
              help="--baseline supervised: search (lr, dropout, epochs) on every draw, not only "
                   "the first (4-5x slower).")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Images per call of the features signature.")
@click.option("--cache-dir", type=str,
              help="Feature cache (and random-baseline exports). [default: ~/.cache/dcgan-tf]")
@click.option("--no-cache", is_flag=True, help="Recompute features; write no cache.")
@click.option("--cache-max-gb", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_MAX_GB,
              show_default=True,
              help="Keep the feature cache under this size: least recently used features go first.")
@json_option()
@click.option("--quiet", is_flag=True, help="No progress bars.")
def probe(classifier, svm, model, dataset, data_dir, labels, validation, repeats, seed, c_grid, solver,
          baseline, search_every_draw, batch_size, cache_dir, no_cache, cache_max_gb, json_path,
          quiet):
    """Score the discriminator's features with a linear L2-SVM (paper, section 5).

    \b
    Protocol (the paper's SVHN protocol, for every dataset):
      1. a validation set of --validation examples from the training split;
      2. --labels class-balanced examples drawn at random from the rest (--repeats draws);
      3. features standardised on the labelled draw; LinearSVC's L2-SVM (squared hinge,
         L2 penalty), solved exactly (--solver); C chosen on the validation set;
      4. the chosen SVM scored on the full test split: mean +- std of the test error.
    --labels all labels the whole training split (CIFAR-10 protocol).
    \b
    Examples:
      dcgan-tf probe --svm --model savedmodels/fm/1 --dataset fashion_mnist --json fm.json
      dcgan-tf probe --model savedmodels/fm/1 --dataset fashion_mnist --baseline random
      dcgan-tf probe --dataset fashion_mnist --baseline pixels
      dcgan-tf probe --model savedmodels/digits --dataset digits --labels 200 --validation 300
    """
    from dcgan_tf.atomic import check_writable
    from dcgan_tf.probe import run as P
    from dcgan_tf.probe.baselines import SupervisedConfig, run_baseline
    from dcgan_tf.probe.protocol import ProbeConfig

    if svm and classifier != "svm":
        raise click.UsageError(f"--svm means --classifier svm; drop one of --svm and "
                               f"--classifier {classifier}.")
    check_writable(json_path)  # Before the work: a report that cannot be written is lost.
    show_library_messages()

    if dataset not in PROBE_DATASETS:
        raise click.ClickException(
            f"Unknown dataset {dataset!r} for the probe. Expected one of: "
            f"{', '.join(PROBE_DATASETS)}."
        )
    cfg = ProbeConfig(
        labels=_labels(labels), validation=validation, repeats=repeats, seed=seed,
        c_grid=c_grid, solver=solver, batch_size=batch_size, cache_dir=cache_dir,
        cache=not no_cache, cache_max_gb=cache_max_gb,
    )
    if baseline == "none":
        if model is None:
            raise click.ClickException("--model is required (or pick a --baseline).")
        report = P.run_probe(model, dataset, data_dir, cfg, progress=not quiet)
    else:
        sup = SupervisedConfig(search_every_draw=search_every_draw)
        report = run_baseline(baseline, model, dataset, data_dir, cfg, sup, progress=not quiet)
    echo_summary(P.format_table(report), json_path)
    write_json(report, json_path)
