"""`dcgan-tf nn-classify`."""

import click

from dcgan_tf_cli.quiet import Command
from dcgan_tf_cli.schema import argument, options


@click.command("nn-classify", cls=Command)
@argument("run_dir", "RUN")
@options("out_dir", "sizes", "dataset", "data_dir", "checkpoint", "test_limit", "seed",
         required=("out_dir",))
def nn_classify(run_dir, out_dir, sizes, dataset, data_dir, checkpoint, test_limit, seed):
    """1-NN on N generated vs N real samples per class, scored on real test data.

    RUN is the run directory of a conditional model.

    \b
    dcgan-tf train runs/cond --dataset fashion_mnist --conditional
    dcgan-tf nn-classify runs/cond --sizes 10,100,1000 --out results/nn
    """
    parsed = tuple(int(s) for s in sizes.replace(" ", "").split(",") if s)
    from dcgan_tf.investigations.nn_classify import NNConfig
    from dcgan_tf.investigations.nn_classify import nn_classify as run

    cfg = NNConfig(sizes=parsed, seed=seed, checkpoint=checkpoint, test_limit=test_limit)
    result = run(run_dir, out_dir, cfg, dataset=dataset, data_dir=data_dir)
    click.echo(f"{'N/class':>8} {'generated':>10} {'real':>8}   (1-NN test error, {result['dataset']})")
    for row in result["results"]:
        click.echo(f"{row['per_class']:>8} {row['generated_error']:>10.4f} {row['real_error']:>8.4f}")
    click.echo(f"Wrote {out_dir}/nn_classify.json and {out_dir}/samples_by_class.png")
