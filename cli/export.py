"""`dcgan-tf export`."""

import os

import click

from dcgan_tf_cli.deprecation import notice
from dcgan_tf_cli.quiet import Command
from dcgan_tf.config import (FEATURE_ACTIVATIONS, FEATURE_POOLINGS, JIT_MODES,
                             SERVING_PRECISIONS)

_BARE_JIT = "bare"


def _checkpoint(ctx, param, value):
    if value in ("last", "best") or value.isdigit():
        return value
    raise click.BadParameter(f"expected 'last', 'best' or a step number, got {value!r}")


def _formats(ctx, param, value):
    from dcgan_tf.export.portable import parse_formats

    try:
        return parse_formats(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from e


def _jit(ctx, param, value):
    """`--jit auto|on|off` as in `train`; a bare `--jit` (the old flag) still means on."""
    if value == _BARE_JIT:
        if not ctx.resilient_parsing:
            notice("a bare --jit", "--jit on")
        return "on"
    if value not in JIT_MODES:
        raise click.BadParameter(f"expected one of {', '.join(JIT_MODES)}, got {value!r} (a bare "
                                 "--jit, the old flag, must come after RUN).")
    return value


@click.command(cls=Command)
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--format", "formats", default="savedmodel", show_default=True, callback=_formats,
              help="Comma list of savedmodel, tflite, onnx, web. The portable ones go to "
                   "BASE/NAME-portable/VERSION/FORMAT/ (see docs/portable.md).")
@click.option("--out", type=click.Path(file_okay=False),
              help="Directory for the portable formats. Default: BASE/NAME-portable/VERSION, "
                   "VERSION being the SavedModel version written with them.")
@click.option("--name", help="Model name under --base-path. Default: the run directory's name.")
@click.option("--base-path", default="savedmodels", show_default=True, type=click.Path(file_okay=False),
              help="TF Serving's model base path; models.config there lists every model.")
@click.option("--version", "version", type=click.IntRange(min=1),
              help="Version number. Default: one more than the newest.")
@click.option("--checkpoint", default="last", show_default=True, callback=_checkpoint,
              help="'last', 'best' (lowest logged KID where the run scored with --score-every, "
                   "else best diversity score) or a step number.")
@click.option("--overwrite", is_flag=True, help="Replace --version if it exists.")
@click.option("--serving-root",
              help="Where the server sees --base-path, for models.config's base_path entries "
                   "(absolute). Default: keep the file's, or /models (the Docker image's).")
@click.option("--jit", is_flag=False, flag_value=_BARE_JIT, default="auto", show_default=True,
              metavar="[" + "|".join(JIT_MODES) + "]", callback=_jit,
              help="XLA-compile the generating signatures (as train's --jit): about 2x faster at "
                   "batch 1 for 32x32 models on CPU, but TF Serving then needs "
                   "--xla_cpu_compilation_enabled=true; auto: off, since the export cannot know "
                   "its server's flags.")
@click.option("--precision", type=click.Choice(SERVING_PRECISIONS), default="fp32",
              show_default=True,
              help="The generating signatures' compute dtype (inputs and outputs stay float32). "
                   "bf16 measured 1.7-1.9x faster at batch 1 on a CPU with AMX, within a pixel "
                   "level or two of fp32; slower on CPUs without native bf16.")
@click.option("--generator", type=click.Choice(["raw", "ema"]), default="raw", show_default=True,
              help="The trained generator, or its weight average (a run trained with --g-ema), "
                   "with batch norm re-estimated for the averaged weights.")
@click.option("--feature-layers",
              help="D blocks in the features signature: 'all' (paper) or indices, e.g. '1,2'. "
                   "Default: the run's recipe.")
@click.option("--feature-pooling", type=click.Choice(FEATURE_POOLINGS),
              help="4x4 max-pooling grid (paper) or a 1x1+2x2+4x4 pyramid. Default: the run's recipe.")
@click.option("--feature-activation", type=click.Choice(FEATURE_ACTIVATIONS),
              help="Block outputs after the LeakyReLU (paper) or before it. Default: the run's recipe.")
@click.option("--feature-flip/--no-feature-flip", default=None,
              help="Average each image's features with its mirror image's. Default: the run's recipe.")
@click.option("--feature-shift", type=click.IntRange(min=0),
              help="Also average the features of the image shifted by N pixels each way "
                   "(0: off). Default: the run's recipe.")
@click.option("--feature-power/--no-feature-power", default=None,
              help="Signed square root of each feature (power normalisation). Default: the run's recipe.")
def export(run_dir, formats, out, name, base_path, version, checkpoint, overwrite, serving_root, jit,
           precision, generator, feature_layers, feature_pooling, feature_activation, feature_flip,
           feature_shift, feature_power):
    """Export a run as a TF Serving SavedModel version: BASE/NAME/VERSION/.

    \b
    Signatures (names and dtypes are the contract; `dcgan-tf inspect` shows them):
      serving_default  z float32 [N, z_dim] -> images float32 [-1, 1], pixels uint8
      sample           seed int64 [N] -> z, images, pixels (one image per seed)
      discriminate     images uint8 [N, h, w, 1|3] -> logits [N], probability [N]
      features         images uint8 [N, h, w, 1|3] -> features float32 [N, F]
      metadata         request int32 [N] -> metadata string [N] (JSON)
      classify         images uint8 [N, h, w, 1|3] -> probabilities float32 [N, K],
                       classes int64 [N] (only runs trained with --labels)
    The version is written to a hidden directory and renamed into place, so a server
    watching the base path never loads a half-written one.
    \b
    Portable formats (--format tflite,onnx,web) hold the generator and the features
    read-out for runtimes without TensorFlow: LiteRT, onnxruntime, a browser page.
    \b
    Examples:
      dcgan-tf export runs/digits --name digits
      dcgan-tf export runs/digits --format savedmodel,tflite,onnx,web
      dcgan-tf export runs/digits --name digits-xla --jit on
      dcgan-tf export runs/svhn --checkpoint best --serving-root "$PWD/savedmodels"
      dcgan-tf export runs/cifar10 --generator ema --name cifar10-ema
    """
    from dcgan_tf.export.bundle import export_formats
    from dcgan_tf.export.savedmodel import model_name

    chosen = {"layers": feature_layers, "pooling": feature_pooling,
              "activation": feature_activation, "flip": feature_flip, "shift": feature_shift,
              "power": feature_power}
    features = {k: v for k, v in chosen.items() if v is not None}
    name = model_name(run_dir, name)
    if out and formats == ("savedmodel",):
        raise click.UsageError("--out is for the portable formats: add --format tflite, onnx or "
                               "web, or use --base-path for the SavedModel")
    if generator == "ema" and any(f != "savedmodel" for f in formats):
        raise click.UsageError("--generator ema is for the SavedModel only: the portable formats "
                               "hold the raw generator; export them without --generator ema")
    path, written = export_formats(
        run_dir, formats, base_path=base_path, name=name, version=version, out=out,
        which=checkpoint, overwrite=overwrite, features=features, serving_root=serving_root,
        jit=jit == "on", precision=precision, generator=generator)
    if path:
        _describe(path, base_path, precision)
    if written:
        for fmt, directory in written.items():
            click.echo(f"{fmt}: {directory}")
        if "web" in written:
            click.echo(f"Open it: python -m http.server -d {written['web']} 8000, then "
                       "http://127.0.0.1:8000/")


def _describe(path, base_path, precision):
    """Prints what the SavedModel export holds, read back through the client."""
    from dcgan_tf.serving.clients import SavedModelClient, format_signatures

    client = SavedModelClient(path)
    meta = client.metadata()
    click.echo(path)
    click.echo(f"step {meta['step']} of {meta['dataset']} ({meta['checkpoint']}), "
               f"{meta['image_size']}x{meta['image_size']}x{meta['channels']}, "
               f"z_dim {meta['z_dim']} ({meta['z_dist']}), contract {meta['contract']}")
    click.echo(f"features: {meta['feature_dim']} wide, {meta['features']}")
    if meta.get("labelled_subset"):
        subset = meta["labelled_subset"]
        click.echo(f"classify: {subset['classes']} classes, trained on {subset['labels']} labels "
                   f"(the probe's draw 0 for --seed {subset['seed']})")
    click.echo(format_signatures(client.signatures()))
    click.echo(f"Serving config: {base_path}/models.config")
    if precision == "bf16":
        from dcgan_tf.hardware import native_bf16

        if not native_bf16():
            click.echo("Note: this machine has no native bf16, where a bf16 export serves slower "
                       "than fp32; serve it on a CPU with AMX or AVX-512 BF16, or a GPU.")
