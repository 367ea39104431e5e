"""`dcgan-tf nn-classify`."""

import click


@click.command("nn-classify")
@click.option("--run", "run_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="Run directory of a `dcgan-tf train --conditional` model.")
@click.option("--out", "out_dir", default="nn_classify", show_default=True, help="Output directory.")
@click.option("--n", "sizes", default="10,100,1000", show_default=True,
              help="Comma-separated samples per class.")
@click.option("--dataset", help="Real data to score on. Default: the run's dataset.")
@click.option("--data-dir", type=click.Path(file_okay=False))
@click.option("--checkpoint", default="last", show_default=True, help="last, best or a step.")
@click.option("--test-limit", type=click.IntRange(min=1), help="Score on at most this many test images.")
@click.option("--seed", type=int, default=0, show_default=True)
def nn_classify(run_dir, out_dir, sizes, dataset, data_dir, checkpoint, test_limit, seed):
    """1-NN on N generated vs N real samples per class, scored on real test data.

    \b
    dcgan-tf train --dataset fashion_mnist --conditional --out runs/cond
    dcgan-tf nn-classify --run runs/cond --n 10,100,1000 --out results/nn
    """
    try:
        parsed = tuple(int(s) for s in sizes.split(","))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {sizes!r}", param_hint="--n")
    if min(parsed) < 1:
        raise click.BadParameter("sizes must be >= 1", param_hint="--n")
    from dcgan_tf.investigations.nn_classify import NNConfig
    from dcgan_tf.investigations.nn_classify import nn_classify as run

    cfg = NNConfig(sizes=parsed, seed=seed, checkpoint=checkpoint, test_limit=test_limit)
    result = run(run_dir, out_dir, cfg, dataset=dataset, data_dir=data_dir)
    click.echo(f"{'N/class':>8} {'generated':>10} {'real':>8}   (1-NN test error, {result['dataset']})")
    for row in result["results"]:
        click.echo(f"{row['per_class']:>8} {row['generated_error']:>10.4f} {row['real_error']:>8.4f}")
    click.echo(f"Wrote {out_dir}/nn_classify.json and {out_dir}/samples_by_class.png")
