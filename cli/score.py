"""`dcgan-tf score`."""

import click

from dcgan_tf_cli.output import echo_summary, json_option, write_json
from dcgan_tf_cli.quiet import Command

# Kept here (not imported from dcgan_tf.scoring) so `--help` does not load TensorFlow.
FEATURE_SPACES = ("classifier", "inception")


@click.command(cls=Command)
@click.option("--model", required=True,
              help="SavedModel directory from `dcgan-tf export` (or its model directory: the newest "
                   "version). Its `sample` signature makes the images.")
@click.option("--dataset", required=True, help="Dataset the real images come from.")
@click.option("--data-dir", type=click.Path(), help="The dataset's files (the .npz file for --dataset npz).")
@click.option("--split", default="test", show_default=True, help="Split of the real images.")
@click.option("--n", type=click.IntRange(min=4), default=10_000, show_default=True,
              help="Generated images, and real images drawn from the split.")
@click.option("--feature-space", type=click.Choice(FEATURE_SPACES), default="classifier",
              show_default=True,
              help="classifier: a small CNN trained (once, cached) on the dataset's labelled "
                   "training split; inception: Inception-v3 pool features (the usual FID space).")
@click.option("--inception-weights", type=str,
              help="Inception-v3 notop weights file, for offline use. Default: Keras' 'imagenet'.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Generator seeds SEED..SEED+N-1; also seeds the real draw and KID subsets.")
@click.option("--kid-subsets", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--kid-subset-size", type=click.IntRange(min=2), default=1000, show_default=True)
@click.option("--classifier-epochs", type=click.IntRange(min=1), default=10, show_default=True,
              help="Training epochs of the classifier space, at most 400 steps (part of its cache key).")
@click.option("--cache-dir", type=str, help="Classifier cache. [default: ~/.cache/dcgan-tf]")
@click.option("--no-cache", is_flag=True, help="Train the classifier afresh; write no cache.")
@json_option()
@click.option("--quiet", is_flag=True, help="No progress output.")
def score(model, dataset, data_dir, split, n, feature_space, inception_weights, seed, kid_subsets,
          kid_subset_size, classifier_epochs, cache_dir, no_cache, json_path, quiet):
    """Score a SavedModel's samples: FID, KID +- std, precision/recall against real images.

    \b
    N images from the `sample` signature (seeds SEED..SEED+N-1) and N real images of
    --split go through one feature space; then
      FID       Frechet distance of the two feature Gaussians (Heusel et al. 2017)
      KID       unbiased MMD^2, cubic polynomial kernel, mean +- std over subsets
                (Binkowski et al. 2018)
      precision fraction of samples inside the real data's k=3 NN manifold; recall the
                converse (Kynkaanniemi et al. 2019)
    Lower FID/KID is better. Numbers from different feature spaces, weights or N are not
    comparable: the report names all three.
    \b
    Examples:
      dcgan-tf score --model savedmodels/digits --dataset digits --n 300
      dcgan-tf score --model savedmodels/cifar/1 --dataset npz \\
          --data-dir cifar10_train_dev20k.npz --n 5000 --json score.json
      dcgan-tf score --model savedmodels/svhn --dataset svhn --data-dir ~/data/svhn \\
          --feature-space inception --inception-weights inception_v3_notop.h5
    """
    from dcgan_tf.atomic import check_writable
    from dcgan_tf.metrics.features import ClassifierConfig
    from dcgan_tf.scoring.score import ScoreConfig, format_report, score_savedmodel

    check_writable(json_path)  # Before the work: a report that cannot be written is lost.

    cfg = ScoreConfig(split=split, n=n, feature_space=feature_space,
                      inception_weights=inception_weights, seed=seed, kid_subsets=kid_subsets,
                      kid_subset_size=kid_subset_size, cache_dir=cache_dir, cache=not no_cache,
                      classifier=ClassifierConfig(epochs=classifier_epochs))
    report = score_savedmodel(model, dataset, data_dir, cfg, progress=not quiet)
    echo_summary(format_report(report), json_path)
    write_json(report, json_path)
