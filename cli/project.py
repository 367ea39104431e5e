"""`dcgan-tf project`: D's features of real images for TensorBoard's Projector tab."""

import click

from dcgan_tf.data.registry import IN_MEMORY_DATASETS


@click.command()
@click.option("--model", required=True, type=click.Path(exists=True, file_okay=False),
              help="SavedModel from `dcgan-tf export` (version or model directory).")
@click.option("--dataset", type=click.Choice(IN_MEMORY_DATASETS), help="Default: the export's.")
@click.option("--data-dir", type=click.Path(), help="Where its files are (as for `train`).")
@click.option("--n", "n", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Real images (a seeded random subset of the split).")
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the subset.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="TensorBoard log directory to write (replaced if it holds an earlier projection).")
def project(model, dataset, data_dir, n, split, seed, out):
    """Write D's features of N real images for TensorBoard's Projector.

    The export's `features` (the paper's pooled discriminator features) as a checkpoint
    embedding, a sprite of the images and their labels, with TensorBoard's projector config.
    Then `tensorboard --logdir OUT` and open the Projector tab (PCA, t-SNE, UMAP; colour
    by label).

    \b
    Examples:
      dcgan-tf project --model savedmodels/digits --dataset digits --n 2000 --out logs/projector
      tensorboard --logdir logs/projector
    """
    from dcgan_tf.investigations.projector import project as run
    from dcgan_tf_cli.messages import show_library_messages

    show_library_messages()  # The note when the split holds fewer than --n images.
    report = run(model, out, dataset=dataset, data_dir=data_dir, n=n, split=split, seed=seed)
    click.echo(f"{report['images']} images of {report['dataset']} ({report['split']}), "
               f"{report['feature_dim']} features, sprite cells {report['sprite_cell']} px")
    click.echo(f"Wrote {out}: view with `{report['tensorboard']}` (Projector tab)")
