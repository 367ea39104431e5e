"""`dcgan-tf score`."""

import click

from dcgan_tf_cli.output import echo_summary, write_json
from dcgan_tf_cli.probe import export_dataset
from dcgan_tf_cli.quiet import Command
from dcgan_tf_cli.schema import options


@click.command(cls=Command)
@options("model", "dataset", "data_dir", "split", "n", "feature_space", "inception_weights",
         "seed", "kid_subsets", "kid_subset_size", "classifier_epochs", "cache_dir", "no_cache",
         "json_path", "quiet", required=("model",), n={"low": 10, "high": None, "default": 10_000})
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
    --dataset defaults to the export's. Lower FID/KID is better. Numbers from different
    feature spaces, weights or N are not comparable: the report names all three.
    \b
    Examples:
      dcgan-tf score --model savedmodels/digits --n 300
      dcgan-tf score --model savedmodels/cifar/1 --dataset npz \\
          --data-dir cifar10_train_dev20k.npz --n 5000 --json score.json
      dcgan-tf score --model savedmodels/svhn --dataset svhn --data-dir ~/data/svhn \\
          --feature-space inception --inception-weights inception_v3_notop.h5
    """
    from dcgan_tf.atomic import check_writable
    from dcgan_tf.metrics.features import ClassifierConfig
    from dcgan_tf.scoring.score import ScoreConfig, format_report, score_savedmodel

    check_writable(json_path)  # Before the work: a report that cannot be written is lost.
    dataset = dataset or export_dataset(model)

    cfg = ScoreConfig(split=split, n=n, feature_space=feature_space,
                      inception_weights=inception_weights, seed=seed, kid_subsets=kid_subsets,
                      kid_subset_size=kid_subset_size, cache_dir=cache_dir, cache=not no_cache,
                      classifier=ClassifierConfig(epochs=classifier_epochs))
    report = score_savedmodel(model, dataset, data_dir, cfg, progress=not quiet)
    echo_summary(format_report(report), json_path)
    write_json(report, json_path)
