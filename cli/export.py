"""`dcgan-tf export`."""

import os

import click

from dcgan_tf_cli.output import write_json
from dcgan_tf_cli.quiet import Command
from dcgan_tf_cli.schema import argument, options


def _formats(value):
    from dcgan_tf.export.portable import parse_formats

    try:
        return parse_formats(value)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--format") from e


FEATURE_OPTIONS = ("layers", "pooling", "activation", "flip", "shift", "power")


@click.command(cls=Command)
@argument("run_dir", "RUN")
@options("formats", "base_path", "name", "version", "portable_dir", "checkpoint", "overwrite",
         "serving_root", "jit", "serving_precision", "generator", *FEATURE_OPTIONS,
         "json_path", "quiet", stated=FEATURE_OPTIONS,
         jit={"choices": ("on", "off"), "default": "off"})
def export(run_dir, formats, base_path, name, version, portable_dir, checkpoint, overwrite,
           serving_root, jit, serving_precision, generator, json_path, quiet, **chosen):
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
    from dcgan_tf.export.config import ExportConfig
    from dcgan_tf.export.savedmodel import model_name

    from dcgan_tf.atomic import check_writable

    formats = _formats(formats)
    features = {k: v for k, v in chosen.items() if v is not None}
    name = model_name(run_dir, name)
    if portable_dir and formats == ("savedmodel",):
        raise click.UsageError("--portable-dir is for the portable formats: add --format tflite, "
                               "onnx or web, or use --base-path for the SavedModel")
    check_writable(json_path)  # Before the work: a report that cannot be written is lost.
    report = {"name": name}
    if generator == "ema" and any(f != "savedmodel" for f in formats):
        raise click.UsageError("--generator ema is for the SavedModel only: the portable formats "
                               "hold the raw generator; export them without --generator ema")
    config = ExportConfig(which=checkpoint, overwrite=overwrite, generator=generator,
                          features=features, jit=jit == "on", precision=serving_precision,
                          serving_root=serving_root)
    path, written = export_formats(run_dir, formats, base_path, name, version, portable_dir,
                                   config=config)
    if path:
        if not quiet and json_path != "-":
            _describe(path, base_path, serving_precision)
        report.update(savedmodel=path, version=int(os.path.basename(path)))
    if written:
        report["portable"] = written
        for fmt, directory in written.items():
            click.echo(f"{fmt}: {directory}", err=json_path == "-")
        if "web" in written and not quiet:
            click.echo(f"Open it: python -m http.server -d {written['web']} 8000, then "
                       "http://127.0.0.1:8000/", err=json_path == "-")
    write_json(report, json_path)


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
        from dcgan_tf.hardware import bf16_runs, native_bf16

        where = "serve it on a CPU with AMX or AVX-512 BF16, or a GPU."
        if not bf16_runs():
            click.echo(f"Note: this machine cannot run a bf16 export (no AVX-512); {where}")
        elif not native_bf16():
            click.echo("Note: this machine has no native bf16, where a bf16 export serves slower "
                       f"than fp32; {where}")
