"""`dcgan-tf probe`."""

import click

from dcgan_tf_cli.messages import show_library_messages
from dcgan_tf_cli.output import echo_summary, write_json
from dcgan_tf_cli.quiet import Command
from dcgan_tf_cli.schema import options
from dcgan_tf.data.registry import IN_MEMORY_DATASETS as PROBE_DATASETS

# The probe's labelled examples per draw when --labels is not given.
DEFAULT_LABELS = 1000


@click.command(cls=Command)
@options("model", "dataset", "data_dir", "labels", "validation", "repeats", "label_seed",
         "classifier", "c_grid", "solver", "baseline", "search_every_draw", "feature_batch_size",
         "cache_dir", "no_cache", "cache_max_gb", "json_path", "quiet")
def probe(model, dataset, data_dir, labels, validation, repeats, label_seed, classifier, c_grid,
          solver, baseline, search_every_draw, feature_batch_size, cache_dir, no_cache,
          cache_max_gb, json_path, quiet):
    """Score the discriminator's features with a linear L2-SVM (paper, section 5).

    \b
    Protocol (the paper's SVHN protocol, for every dataset):
      1. a validation set of --validation examples from the training split;
      2. --labels class-balanced examples drawn at random from the rest (--repeats draws);
      3. features standardised on the labelled draw; LinearSVC's L2-SVM (squared hinge,
         L2 penalty), solved exactly (--solver); C chosen on the validation set;
      4. the chosen SVM scored on the full test split: mean +- std of the test error.
    --labels all labels the whole training split (CIFAR-10 protocol). --dataset defaults to
    the export's.
    \b
    Examples:
      dcgan-tf probe --model savedmodels/fm/1 --json fm.json
      dcgan-tf probe --model savedmodels/fm/1 --dataset fashion_mnist --baseline random
      dcgan-tf probe --dataset fashion_mnist --baseline pixels
      dcgan-tf probe --model savedmodels/digits --dataset digits --labels 200 --validation 300
    """
    from dcgan_tf.atomic import check_writable
    from dcgan_tf.probe import run as P
    from dcgan_tf.probe.baselines import SupervisedConfig, run_baseline
    from dcgan_tf.probe.protocol import ProbeConfig

    check_writable(json_path)  # Before the work: a report that cannot be written is lost.
    show_library_messages()

    dataset = dataset or export_dataset(model)
    if dataset not in PROBE_DATASETS:
        raise click.ClickException(
            f"Unknown dataset {dataset!r} for the probe. Expected one of: "
            f"{', '.join(PROBE_DATASETS)}."
        )
    cfg = ProbeConfig(
        labels=None if labels == "all" else DEFAULT_LABELS if labels is None else labels,
        validation=validation, repeats=repeats, seed=label_seed, c_grid=_c_grid(c_grid), solver=solver,
        batch_size=feature_batch_size, cache_dir=cache_dir,
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


def _c_grid(text):
    return tuple(float(c) for c in text.replace(",", " ").split())


def export_dataset(model):
    """The dataset an export was trained on (its metadata), for a command given no --dataset.

    Raises:
        click.UsageError: no --model to take it from.
    """
    if model is None:
        raise click.UsageError("--dataset is needed without --model (the export names its own).")
    from dcgan_tf.probe.run import read_metadata

    dataset = read_metadata(model).get("dataset")
    if not dataset:
        raise click.UsageError(f"{model} does not record its dataset: pass --dataset.")
    return dataset
