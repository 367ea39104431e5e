"""`dcgan-tf nn-classify`."""

import click

from dcgan_tf_cli.deprecation import old_option, prefer, run_argument
from dcgan_tf_cli.quiet import Command


@click.command("nn-classify", cls=Command)
@run_argument("the run directory of a `dcgan-tf train --conditional` model.")
@click.option("--out", "out_dir", default="nn_classify", show_default=True, help="Output directory.")
@click.option("--sizes", default="10,100,1000", show_default=True, metavar="N1,N2,...",
              help="Samples per class to classify with, one result per size (comma-separated).")
@old_option("--n", "old_sizes", new="--sizes")
@click.option("--dataset", help="Real data to score on. Default: the run's dataset.")
@click.option("--data-dir", type=click.Path(),
              help="Directory or file (.npz) of the real data. Default: the run's.")
@click.option("--checkpoint", default="last", show_default=True, help="last, best or a step.")
@click.option("--test-limit", type=click.IntRange(min=1), help="Score on at most this many test images.")
@click.option("--seed", type=int, default=0, show_default=True)
def nn_classify(run_dir, out_dir, sizes, old_sizes, dataset, data_dir, checkpoint, test_limit, seed):
    """1-NN on N generated vs N real samples per class, scored on real test data.

    RUN is the run directory of a conditional model.

    \b
    dcgan-tf train --dataset fashion_mnist --conditional --out runs/cond
    dcgan-tf nn-classify runs/cond --sizes 10,100,1000 --out results/nn
    """
    sizes = prefer(sizes, old_sizes, "sizes", "--sizes", "--n")
    try:
        parsed = tuple(int(s) for s in sizes.split(","))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {sizes!r}",
                                 param_hint="--sizes") from None
    if min(parsed) < 1:
        raise click.BadParameter("sizes must be >= 1", param_hint="--sizes")
    from dcgan_tf.investigations.nn_classify import NNConfig
    from dcgan_tf.investigations.nn_classify import nn_classify as run

    cfg = NNConfig(sizes=parsed, seed=seed, checkpoint=checkpoint, test_limit=test_limit)
    result = run(run_dir, out_dir, cfg, dataset=dataset, data_dir=data_dir)
    click.echo(f"{'N/class':>8} {'generated':>10} {'real':>8}   (1-NN test error, {result['dataset']})")
    for row in result["results"]:
        click.echo(f"{row['per_class']:>8} {row['generated_error']:>10.4f} {row['real_error']:>8.4f}")
    click.echo(f"Wrote {out_dir}/nn_classify.json and {out_dir}/samples_by_class.png")
