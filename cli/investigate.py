"""The paper's model investigations (section 6) and de-duplication (section 4.1) as commands.

`interpolate`, `arithmetic` and `nearest` read an export (`--model`); `visualize` and `forget`
need inner layers and read a run directory (the positional RUN); `dedup` reads images. Each writes its
PNG(s) and one JSON into `--out`. Each command builds its settings (`dcgan_tf.investigations.configs`,
TensorFlow-free) from its flags and calls the library (`dcgan_tf.investigations.latent`, `nearest`,
`visualize`, `forget`, `dedup`), which loads only when a command runs, so `--help` stays fast.
"""

import json

import click

from dcgan_tf.investigations.configs import (
    METHODS, THRESHOLDS, ArithmeticConfig, DedupConfig, ForgetConfig, InterpolateConfig,
    NearestConfig, VisualizeConfig,
)
from dcgan_tf_cli.quiet import Command
from dcgan_tf_cli.schema import argument, options


def _concepts(value):
    concepts = {}
    for text in value:
        name, sep, indices = text.partition("=")
        if not sep or not name.strip().isidentifier():
            raise click.BadParameter(f"expected NAME=I,J,K (e.g. smiling_woman=3,17,42), got {text!r}",
                                     param_hint="--concept")
        concepts[name.strip()] = _ints_or_none(indices, "--concept")
    return concepts


def _echo_report(report, keys):
    shown = {k: report[k] for k in keys if k in report}
    if shown:
        click.echo(json.dumps(shown, indent=1))
    for path in report["files"].values():
        click.echo(f"Wrote {path}")


def _ints_or_none(text, hint):
    """Parses '3,17,42' into a list of ints; `None` stays `None`."""
    if text is None:
        return None
    try:
        return [int(v) for v in text.replace(" ", "").split(",") if v != ""]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {text!r}",
                                 param_hint=hint) from None


@click.command(cls=Command)
@options("model", "out_dir", "walks", "num_walks", "points", "steps", "method", "seed", "z_file",
         "scale", required=("model", "out_dir"))
def interpolate(model, out_dir, walks, num_walks, points, steps, method, seed, z_file, scale):
    """Walk the latent space between z (paper section 6.1): smooth = no memorisation.

    Writes interpolate_linear.png and interpolate_spherical.png (one row per walk),
    smoothness.png (consecutive-frame distance relative to random-pair distance, per step)
    and interpolate.json (mean_step_ratio, max_step_ratio, max_over_mean_step per method).

    \b
    Examples:
      dcgan-tf interpolate --model savedmodels/digits --out inv/interp
      dcgan-tf sample --model savedmodels/digits --n 64 --show-index --out-file grid.png
      dcgan-tf interpolate --model savedmodels/digits --out inv/interp \\
          --walk-indices 3,17 --walk-indices 5,9,12
    """
    from dcgan_tf.investigations.latent import interpolate as run

    walks = [_ints_or_none(w, "--walk-indices") for w in walks]
    config = InterpolateConfig(
        walks=walks or None, num_walks=num_walks, points=points, steps=steps,
        methods=METHODS if method == "both" else (method,), seed=seed, z_file=z_file, scale=scale)
    report = run(model, out_dir, config)
    click.echo(f"random-pair distance {report['random_pair_distance']:.4f}")
    for name, m in report["methods"].items():
        click.echo(f"{name}: mean step / random pair {m['mean_step_ratio']:.3f}, max "
                   f"{m['max_step_ratio']:.3f}, max / mean step {m['max_over_mean_step']:.2f}")
    _echo_report(report, ())


@click.command(cls=Command)
@options("model", "out_dir", "concepts", "expression", "turn", "turn_steps", "noise",
         "neighbours", "noise_seed", "seed", "z_file", "scale",
         required=("model", "out_dir", "concepts", "expression"))
def arithmetic(model, out_dir, concepts, expression, turn, turn_steps, noise, neighbours,
               noise_seed, seed, z_file, scale):
    """Vector arithmetic on z (paper section 6.3, Figure 7).

    Pick exemplars in a labelled grid, average each concept's z, decode the expression
    and 8 noisy neighbours. Writes arithmetic.png (a row per concept: exemplars, then the
    decoded mean; last row: the result and its neighbours), turn.png with --turn, and
    arithmetic.json.

    \b
    Examples:
      dcgan-tf sample --model savedmodels/faces --n 100 --show-index --scale 2 --out-file grid.png
      dcgan-tf arithmetic --model savedmodels/faces --out inv/arith \\
        --concept sw=3,17,42 --concept nw=5,8,61 --concept nm=11,23,90 --expr 'sw - nw + nm'
      dcgan-tf arithmetic --model savedmodels/faces --out inv/turn --concept left=1,2,3 \\
        --concept right=4,5,6 --expr 'right - left' --turn left,right
    """
    from dcgan_tf.investigations.latent import arithmetic as run

    concepts = _concepts(concepts)
    pair = None
    if turn:
        pair = tuple(p.strip() for p in turn.split(","))
        if len(pair) != 2:
            raise click.BadParameter(f"expected FROM,TO, got {turn!r}", param_hint="--turn")
    config = ArithmeticConfig(seed=seed, z_file=z_file, noise=noise, neighbours=neighbours,
                              noise_seed=noise_seed, turn=pair, turn_steps=turn_steps, scale=scale)
    report = run(model, out_dir, concepts, expression, config)
    _echo_report(report, ("expression", "result_z_norm", "result_probability"))


@click.command(cls=Command)
@options("model", "out_dir", "n", "seed", "dataset", "data_dir", "max_train", "n_heldout", "k",
         "show", "scale", required=("model", "out_dir"), n={"high": 10_000, "default": NearestConfig.n})
def nearest(model, out_dir, n, seed, dataset, data_dir, max_train, n_heldout, k, show, scale):
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

    config = NearestConfig(n=n, seed=seed, max_train=max_train, n_heldout=n_heldout, k=k,
                           show=show, scale=scale)
    report = run(model, out_dir, config, dataset=dataset, data_dir=data_dir)
    for space, s in report["spaces"].items():
        click.echo(f"{space}: median NN distance generated {s['generated_to_train']['median']:.4g}, "
                   f"held-out {s['heldout_to_train']['median']:.4g} (ratio {s['median_ratio']:.3f}); "
                   f"near copies {s['near_copy_fraction']:.1%}")
    _echo_report(report, ())


@click.command(cls=Command)
@argument("run_dir", "RUN")
@options("out_dir", "checkpoint", "layer", "channels_shown", "num_channels", "top", "n_images",
         "dataset", "data_dir", "seed", "scale", required=("out_dir",))
def visualize(run_dir, out_dir, checkpoint, layer, channels_shown, num_channels, top, n_images,
              dataset, data_dir, seed, scale):
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

    config = VisualizeConfig(
        checkpoint=checkpoint, layer=layer, channels=_ints_or_none(channels_shown, "--d-channels"),
        num_channels=num_channels, top=top, n_images=n_images, seed=seed, scale=scale)
    report = run(run_dir, out_dir, config, dataset=dataset, data_dir=data_dir)
    for name, net in report["networks"].items():
        click.echo(f"{name}: mean selectivity {net['mean_selectivity']:.2f}, mean map "
                   f"concentration {net['mean_map_concentration']:.3f}")
    _echo_report(report, ("layer", "channels"))


@click.command(cls=Command)
@argument("run_dir", "RUN")
@options("out_dir", "boxes_file", "maps", "checkpoint", "n", "negatives", "C", "seed", "z_file",
         "scale", required=("out_dir",), n={"high": 256, "default": ForgetConfig.n})
def forget(run_dir, out_dir, boxes_file, maps, checkpoint, n, negatives, C, seed, z_file, scale):
    """Make the generator forget an object (paper section 6.2.1, Figure 6).

    RUN is the run directory of `dcgan-tf train`.

    A logistic regression on the generator's second-highest conv layer separates positions
    inside the boxes from random positions of the same images; maps with positive weight
    are zeroed everywhere. Writes forget.png (before with boxes | after, same z) and
    forget.json. Box coordinates are pixels of the model's image (x right, y down).

    \b
    Examples:
      dcgan-tf sample --model savedmodels/bedrooms --n 64 --show-index --out-file grid.png
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
    config = ForgetConfig(checkpoint=checkpoint, seed=seed, n=n, z_file=z_file,
                          negatives_per_positive=negatives, C=C, scale=scale)
    report = run(run_dir, out_dir, boxes=boxes, maps=_ints_or_none(maps, "--maps"), config=config)
    click.echo(f"dropped {len(report['dropped_maps'])} of {report['feature_maps']} maps of {report['layer']}")
    _echo_report(report, ("boxed_change_inside", "boxed_change_outside", "d_probability_before",
                          "d_probability_after"))


@click.command(cls=Command)
@options("out_dir", "folder", "tfrecords", "npz", "remove", "threshold", "max_hamming",
         "ae_epochs", "seed", "plant", "noise_std", "scale", required=("out_dir",))
def dedup(out_dir, folder, tfrecords, npz, remove, threshold, max_hamming, ae_epochs, seed, plant,
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

    from dcgan_tf.investigations.dedup import dedup as run

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
    config = DedupConfig(remove=remove, threshold=threshold, max_hamming=max_hamming,
                         epochs=ae_epochs, seed=seed, plant=plant, noise_std=noise_std, scale=scale)
    report = run(out_dir, folder=folder, tfrecords=list(tfrecords) or None, images=images,
                 config=config)
    click.echo(f"{report['images']} images, {report['distinct_hashes']} distinct hashes, "
               f"{report['group_count']} duplicate groups, {report['duplicates']} duplicates")
    if plant:
        p = report["planted"]
        click.echo(f"planted: precision {p['precision']:.3f}, recall {p['recall']:.3f} "
                   f"({', '.join(f'{k} {v:.2f}' for k, v in p['recall_by_kind'].items())})")
    _echo_report(report, ("removed",))

