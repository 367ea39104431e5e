"""The paper's model investigations (section 6) and de-duplication (section 4.1) as commands.

`interpolate`, `arithmetic` and `nearest` read an export (`--model`); `visualize` and `forget`
need inner layers and read a run directory (the positional RUN); `dedup` reads images. Each writes its
PNG(s) and one JSON into `--out`. The library (`dcgan_tf.investigations.latent`, `nearest`, `visualize`,
`forget`, `dedup`) loads only when a command runs, so `--help` stays fast.
"""

import json

import click

from dcgan_tf_cli.deprecation import old_option, prefer, run_argument
from dcgan_tf_cli.quiet import Command
from dcgan_tf.data.registry import IN_MEMORY_DATASETS as DATASETS

_MODEL = click.Path(exists=True, file_okay=False)


def _ints(ctx, param, value):
    """Parses '3,17,42' (or a tuple of such, for multiple options) into lists of ints."""
    if value is None:
        return None

    def one(text):
        try:
            return [int(v) for v in text.replace(" ", "").split(",") if v != ""]
        except ValueError:
            raise click.BadParameter(f"expected comma-separated integers, got {text!r}") from None

    return [one(v) for v in value] if isinstance(value, tuple) else one(value)


def _concepts(ctx, param, value):
    concepts = {}
    for text in value:
        name, sep, indices = text.partition("=")
        if not sep or not name.strip().isidentifier():
            raise click.BadParameter(f"expected NAME=I,J,K (e.g. smiling_woman=3,17,42), got {text!r}")
        concepts[name.strip()] = _ints(ctx, param, indices)
    return concepts


def _echo_report(report, keys):
    shown = {k: report[k] for k in keys if k in report}
    if shown:
        click.echo(json.dumps(shown, indent=1))
    for path in report["files"].values():
        click.echo(f"Wrote {path}")


model_option = click.option("--model", required=True, type=_MODEL,
                            help="SavedModel from `dcgan-tf export` (version or model directory).")
out_option = click.option("--out", required=True, type=click.Path(file_okay=False),
                          help="Output directory for the PNG(s) and the JSON.")
seed_option = click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
                           help="Grid seed: index i is cell i of `dcgan-tf sample --seed SEED`.")
z_option = click.option("--z", "z_file", type=click.Path(exists=True, dir_okay=False),
                        help="z from `dcgan-tf sample --save-z` (.npy); indices are its rows.")
scale_option = click.option("--scale", type=click.IntRange(1, 8), default=2, show_default=True,
                            help="Upscale the PNG grids (nearest neighbour).")
run_argument_ = run_argument("the run directory of `dcgan-tf train` (inner layers are needed).")
checkpoint_option = click.option("--checkpoint", default="last", show_default=True,
                                 help="'last', 'best' or a step number.")


@click.command(cls=Command)
@model_option
@out_option
@click.option("--walk-indices", "walks", multiple=True, callback=_ints, metavar="I,J[,K...]",
              help="One walk through these grid indices; repeat for more walks (one row each).")
@click.option("--num-walks", type=click.IntRange(min=1), default=4, show_default=True,
              help="Without --walk-indices: this many walks through indices 0,1 | 2,3 | ...")
@click.option("--points", type=click.IntRange(min=2), default=2, show_default=True,
              help="Without --walk-indices: z per walk.")
@old_option("--walk", "old_walks", new="--walk-indices", multiple=True)
@old_option("--walks", "old_num_walks", new="--num-walks", type=click.IntRange(min=1))
@click.option("--steps", type=click.IntRange(min=2), default=10, show_default=True,
              help="Frames per leg, both ends included.")
@click.option("--method", type=click.Choice(["linear", "spherical", "both"]), default="both",
              show_default=True, help="lerp, slerp, or one PNG of each.")
@seed_option
@z_option
@scale_option
def interpolate(model, out, walks, num_walks, points, steps, method, seed, z_file, scale,
                old_walks, old_num_walks):
    """Walk the latent space between z (paper section 6.1): smooth = no memorisation.

    Writes interpolate_linear.png and interpolate_spherical.png (one row per walk),
    smoothness.png (consecutive-frame distance relative to random-pair distance, per step)
    and interpolate.json (mean_step_ratio, max_step_ratio, max_over_mean_step per method).

    \b
    Examples:
      dcgan-tf interpolate --model savedmodels/digits --out inv/interp
      dcgan-tf sample --model savedmodels/digits --n 64 --show-index --out grid.png
      dcgan-tf interpolate --model savedmodels/digits --out inv/interp \\
          --walk-indices 3,17 --walk-indices 5,9,12
    """
    from dcgan_tf.investigations.latent import METHODS, interpolate as run

    walks = prefer(walks, _ints(None, None, old_walks), "walks", "--walk-indices", "--walk")
    num_walks = prefer(num_walks, old_num_walks, "num_walks", "--num-walks", "--walks")

    methods = METHODS if method == "both" else (method,)
    report = run(model, out, walks=walks or None, num_walks=num_walks, points=points, steps=steps,
                 methods=methods, seed=seed, z_file=z_file, scale=scale)
    click.echo(f"random-pair distance {report['random_pair_distance']:.4f}")
    for name, m in report["methods"].items():
        click.echo(f"{name}: mean step / random pair {m['mean_step_ratio']:.3f}, max "
                   f"{m['max_step_ratio']:.3f}, max / mean step {m['max_over_mean_step']:.2f}")
    _echo_report(report, ())


@click.command(cls=Command)
@model_option
@out_option
@click.option("--concept", "concepts", multiple=True, required=True, callback=_concepts,
              metavar="NAME=I,J,K", help="A concept: the mean z of these grid indices (3 in the paper).")
@click.option("--expr", "expression", required=True,
              help="Expression over concept names, e.g. 'smiling_woman - neutral_woman + neutral_man'.")
@click.option("--turn", metavar="FROM,TO", help="Also walk between these two concept means (turn.png).")
@click.option("--turn-steps", type=click.IntRange(min=2), default=8, show_default=True)
@click.option("--noise", type=click.FloatRange(min=0), default=0.25, show_default=True,
              help="Neighbours: z + U(-noise, noise) (paper: 0.25).")
@click.option("--neighbours", type=click.IntRange(min=0), default=8, show_default=True)
@click.option("--noise-seed", type=int, default=0, show_default=True)
@seed_option
@z_option
@scale_option
def arithmetic(model, out, concepts, expression, turn, turn_steps, noise, neighbours, noise_seed,
               seed, z_file, scale):
    """Vector arithmetic on z (paper section 6.3, Figure 7).

    Pick exemplars in a labelled grid, average each concept's z, decode the expression
    and 8 noisy neighbours. Writes arithmetic.png (a row per concept: exemplars, then the
    decoded mean; last row: the result and its neighbours), turn.png with --turn, and
    arithmetic.json.

    \b
    Examples:
      dcgan-tf sample --model savedmodels/faces --n 100 --show-index --scale 2 --out grid.png
      dcgan-tf arithmetic --model savedmodels/faces --out inv/arith \\
        --concept sw=3,17,42 --concept nw=5,8,61 --concept nm=11,23,90 --expr 'sw - nw + nm'
      dcgan-tf arithmetic --model savedmodels/faces --out inv/turn --concept left=1,2,3 \\
        --concept right=4,5,6 --expr 'right - left' --turn left,right
    """
    from dcgan_tf.investigations.latent import arithmetic as run

    pair = None
    if turn:
        pair = tuple(p.strip() for p in turn.split(","))
        if len(pair) != 2:
            raise click.BadParameter(f"expected FROM,TO, got {turn!r}", param_hint="--turn")
    report = run(model, out, concepts, expression, seed=seed, z_file=z_file, noise=noise,
                 neighbours=neighbours, noise_seed=noise_seed, turn=pair, turn_steps=turn_steps,
                 scale=scale)
    _echo_report(report, ("expression", "result_z_norm", "result_probability"))


@click.command(cls=Command)
@model_option
@out_option
@click.option("--n", "n", type=click.IntRange(1, 10_000), default=256, show_default=True,
              help="Generated samples (grid cells 0..n-1).")
@seed_option
@click.option("--dataset", type=click.Choice(DATASETS), help="Training data. Default: the export's.")
@click.option("--data-dir", type=click.Path(),
              help="Where its files are (the .npz file for --dataset npz).")
@click.option("--max-train", type=click.IntRange(min=0), default=10_000, show_default=True,
              help="Random subset of training images compared with (0: all).")
@click.option("--heldout", "n_heldout", type=click.IntRange(min=1),
              help="Held-out (test split) images. Default: --n.")
@click.option("--k", type=click.IntRange(1, 20), default=3, show_default=True,
              help="Neighbours shown per sample and space.")
@click.option("--show", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Samples shown in nearest.png.")
@scale_option
def nearest(model, out, n, seed, dataset, data_dir, max_train, n_heldout, k, show, scale):
    """Memorisation check: nearest training images of generated samples.

    In pixel space and in the discriminator's feature space (the export's `features`);
    generated->train nearest-neighbour distances are compared with test->train ones.
    Writes nearest.png (sample | pixel NNs | feature NNs), nearest_distances.png and
    nearest.json (median_ratio: generated / held-out median NN distance, per space).

    \b
    Examples:
      dcgan-tf nearest --model savedmodels/fashion --out inv/nearest
      dcgan-tf nearest --model savedmodels/svhn --data-dir ~/data/svhn --max-train 0 --out inv/nn
    """
    from dcgan_tf.investigations.nearest import nearest as run

    report = run(model, out, n=n, seed=seed, dataset=dataset, data_dir=data_dir,
                 max_train=max_train, n_heldout=n_heldout, k=k, show=show, scale=scale)
    for space, s in report["spaces"].items():
        click.echo(f"{space}: median NN distance generated {s['generated_to_train']['median']:.4g}, "
                   f"held-out {s['heldout_to_train']['median']:.4g} (ratio {s['median_ratio']:.3f}); "
                   f"near copies {s['near_copy_fraction']:.1%}")
    _echo_report(report, ())


@click.command(cls=Command)
@run_argument_
@out_option
@checkpoint_option
@click.option("--layer", help="Discriminator block, e.g. conv2_lrelu. Default: the last.")
@click.option("--d-channels", "channels", callback=_ints, metavar="C1,C2,...",
              help="Discriminator channels to show. Default: the most active ones of the trained D.")
@click.option("--num-d-channels", "num_channels", type=click.IntRange(1, 64), default=6,
              show_default=True, help="Without --d-channels: this many discriminator channels.")
@old_option("--channels", "old_channels", new="--d-channels")
@old_option("--num-channels", "old_num_channels", new="--num-d-channels",
            type=click.IntRange(1, 64))
@click.option("--top", type=click.IntRange(1, 16), default=4, show_default=True,
              help="Top activating images (and maps) per channel.")
@click.option("--images", "n_images", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Training images searched.")
@click.option("--dataset", type=click.Choice(DATASETS), help="Default: the run's.")
@click.option("--data-dir", type=click.Path(),
              help="Directory or file (.npz) of the data. Default: the run's.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seeds the image subset and the random discriminator.")
@scale_option
def visualize(run_dir, out, checkpoint, layer, channels, num_channels, top, n_images, dataset,
              data_dir, seed, scale, old_channels, old_num_channels):
    """Guided backpropagation of discriminator features, trained vs random D (Figure 5).

    RUN is the run directory of `dcgan-tf train`.

    Writes visualize.png (a row per channel: top activating real images and their
    guided-backprop maps for the trained D, then the same for a random D) and
    visualize.json (activations, selectivity, map concentration).

    \b
    Examples:
      dcgan-tf visualize runs/fashion_mnist --out inv/vis
      dcgan-tf visualize runs/svhn --layer conv1_lrelu --d-channels 0,7,19 --out inv/vis
    """
    from dcgan_tf.investigations.visualize import visualize as run

    channels = prefer(channels, _ints(None, None, old_channels), "channels", "--d-channels",
                      "--channels")
    num_channels = prefer(num_channels, old_num_channels, "num_channels", "--num-d-channels",
                          "--num-channels")

    report = run(run_dir, out, which=checkpoint, layer=layer, channels=channels,
                 num_channels=num_channels, top=top, n_images=n_images, dataset=dataset,
                 data_dir=data_dir, seed=seed, scale=scale)
    for name, net in report["networks"].items():
        click.echo(f"{name}: mean selectivity {net['mean_selectivity']:.2f}, mean map "
                   f"concentration {net['mean_map_concentration']:.3f}")
    _echo_report(report, ("layer", "channels"))


@click.command(cls=Command)
@run_argument_
@out_option
@click.option("--boxes", "boxes_file", type=click.Path(exists=True, dir_okay=False),
              help='JSON {"sample_index": [[x0, y0, x1, y1], ...]} in pixels of the model image.')
@click.option("--maps", callback=_ints, metavar="M1,M2,...", help="Drop these feature maps instead.")
@checkpoint_option
@click.option("--n", "n", type=click.IntRange(1, 256), default=16, show_default=True,
              help="Samples shown before/after (grid cells 0..n-1).")
@click.option("--negatives", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="Negative positions per positive.")
@click.option("--C", "C", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Inverse L2 regularisation of the logistic regression.")
@seed_option
@z_option
@scale_option
def forget(run_dir, out, boxes_file, maps, checkpoint, n, negatives, C, seed, z_file, scale):
    """Make the generator forget an object (paper section 6.2.1, Figure 6).

    RUN is the run directory of `dcgan-tf train`.

    A logistic regression on the generator's second-highest conv layer separates positions
    inside the boxes from random positions of the same images; maps with positive weight
    are zeroed everywhere. Writes forget.png (before with boxes | after, same z) and
    forget.json. Box coordinates are pixels of the model's image (x right, y down).

    \b
    Examples:
      dcgan-tf sample --model savedmodels/bedrooms --n 64 --show-index --out grid.png
      echo '{"3": [[10, 4, 30, 20]], "17": [[0, 0, 16, 24]]}' > windows.json
      dcgan-tf forget runs/bedrooms --boxes windows.json --out inv/forget
      dcgan-tf forget runs/bedrooms --maps 3,17,40 --out inv/forget-maps
    """
    from dcgan_tf.investigations.forget import forget as run

    boxes = None
    if boxes_file:
        with open(boxes_file, encoding="utf-8") as f:
            try:
                boxes = json.load(f)
            except json.JSONDecodeError as e:
                raise click.BadParameter(f"{boxes_file} is not JSON: {e}", param_hint="--boxes") from None
        if not isinstance(boxes, dict):
            raise click.BadParameter('expected {"index": [[x0, y0, x1, y1], ...]}', param_hint="--boxes")
    report = run(run_dir, out, boxes=boxes, maps=maps, which=checkpoint, seed=seed, n=n,
                 z_file=z_file, negatives_per_positive=negatives, C=C, scale=scale)
    click.echo(f"dropped {len(report['dropped_maps'])} of {report['feature_maps']} maps of {report['layer']}")
    _echo_report(report, ("boxed_change_inside", "boxed_change_outside", "d_probability_before",
                          "d_probability_after"))


@click.command(cls=Command)
@out_option
@click.option("--folder", type=click.Path(exists=True, file_okay=False),
              help="A folder of images (any size; searched recursively).")
@click.option("--tfrecord", "tfrecords", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="TFRecord file of tf.train.Examples with an encoded 'image' or "
                   "'image/encoded'; repeatable.")
@click.option("--npz", type=click.Path(exists=True, dir_okay=False),
              help="A .npz with uint8 images (N, H, W, C) under 'x' (or its only array).")
@click.option("--remove", is_flag=True,
              help="Folder: move duplicates into OUT/removed/. TFRecord: write OUT/dedup.tfrecord.")
@click.option("--threshold", default="zero", show_default=True,
              help="Code binarisation: zero (ReLU on), median (per unit) or a number.")
@click.option("--max-hamming", type=click.IntRange(0, 64), default=4, show_default=True,
              help="Hashes within this many bits are duplicates (0: identical, the paper's).")
@click.option("--epochs", type=click.IntRange(min=1), default=40, show_default=True,
              help="Autoencoder training epochs.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--plant", type=click.IntRange(min=0), default=0, show_default=True,
              help="Self-check: plant this many exact, noisy and 1-pixel-shifted copies each; "
                   "report precision and recall.")
@click.option("--noise-std", type=click.FloatRange(min=0), default=4.0, show_default=True,
              help="Noise of planted noisy copies, in levels of 255.")
@scale_option
def dedup(out, folder, tfrecords, npz, remove, threshold, max_hamming, epochs, seed, plant,
          noise_std, scale):
    """Find near-duplicate images by semantic hashing (paper section 4.1).

    Trains the 3072-128-3072 denoising dropout ReLU autoencoder on 32x32 centre crops,
    binarises its code and buckets the hashes. Writes dedup.png (a row per group, the
    kept image first) and dedup.json (groups, counts; precision/recall with --plant).

    \b
    Examples:
      dcgan-tf dedup --folder photos/ --out inv/dedup
      dcgan-tf dedup --folder photos/ --out inv/dedup --remove
      dcgan-tf dedup --tfrecord train-00000.tfrecord --tfrecord train-00001.tfrecord --out inv/d
      dcgan-tf dedup --npz svhn_first1083.npz --plant 20 --out inv/dedup-check
    """
    import numpy as np

    from dcgan_tf.investigations.dedup import THRESHOLDS, dedup as run

    if threshold not in THRESHOLDS:
        try:
            float(threshold)
        except ValueError:
            raise click.BadParameter(f"expected zero, median or a number, got {threshold!r}",
                                     param_hint="--threshold") from None
    if sum(x is not None and x != () for x in (folder, tfrecords, npz)) != 1:
        raise click.UsageError("Pass exactly one of --folder, --tfrecord or --npz.")
    images = None
    if npz:
        with np.load(npz, allow_pickle=False) as data:
            key = "x" if "x" in data.files else (data.files[0] if len(data.files) == 1 else None)
            if key is None:
                raise click.BadParameter(f"expected an array 'x' in {npz}; it has {data.files}",
                                         param_hint="--npz")
            images = data[key]
    report = run(out, folder=folder, tfrecords=list(tfrecords) or None, images=images,
                 remove=remove, threshold=threshold, max_hamming=max_hamming, epochs=epochs,
                 seed=seed, plant=plant, noise_std=noise_std, scale=scale)
    click.echo(f"{report['images']} images, {report['distinct_hashes']} distinct hashes, "
               f"{report['group_count']} duplicate groups, {report['duplicates']} duplicates")
    if plant:
        p = report["planted"]
        click.echo(f"planted: precision {p['precision']:.3f}, recall {p['recall']:.3f} "
                   f"({', '.join(f'{k} {v:.2f}' for k, v in p['recall_by_kind'].items())})")
    _echo_report(report, ("removed",))

