"""`dcgan-tf project`: D's features of real images for TensorBoard's Projector tab."""

import click

from dcgan_tf_cli.schema import options


@click.command()
@options("model", "dataset", "data_dir", "n", "split", "seed", "out_dir",
         required=("model", "out_dir"), n={"low": 1, "high": 10**6, "default": 2000})
def project(model, dataset, data_dir, n, split, seed, out_dir):
    """Write D's features of N real images for TensorBoard's Projector.

    The export's `features` (the paper's pooled discriminator features) as a checkpoint
    embedding, a sprite of the images and their labels, with TensorBoard's projector config.
    --n real images (a seeded random subset of --split; --dataset defaults to the export's)
    go to OUT, a TensorBoard log directory (replaced if it holds an earlier projection).
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
    report = run(model, out_dir, dataset=dataset, data_dir=data_dir, n=n, split=split, seed=seed)
    click.echo(f"{report['images']} images of {report['dataset']} ({report['split']}), "
               f"{report['feature_dim']} features, sprite cells {report['sprite_cell']} px")
    click.echo(f"Wrote {out_dir}: view with `{report['tensorboard']}` (Projector tab)")
