"""`dcgan-tf inspect` (not `cli/inspect.py`: that would shadow the standard library's `inspect`
when a script in cli/ is run directly)."""

import click

from dcgan_tf_cli.output import write_json
from dcgan_tf_cli.quiet import Command
from dcgan_tf_cli.schema import argument, options


@click.command(cls=Command)
@argument("path", "PATH")
@options("json_path", "quiet")
def inspect(path, json_path, quiet):
    """Show an export's signatures and metadata (like `saved_model_cli show`).

    PATH is a version directory, or a model directory (its newest version is shown).
    Nothing is loaded or built: the signatures come from saved_model.pb. With --json and
    --quiet only the JSON is written.

    \b
    Examples:
      dcgan-tf inspect savedmodels/digits
      dcgan-tf inspect savedmodels/digits/1 --json -
      dcgan-tf inspect savedmodels/digits --json digits.json
    """
    from dcgan_tf.serving.clients import SavedModelClient, format_signatures

    client = SavedModelClient(path)
    signatures = client.signatures()
    meta = client.metadata() if "metadata" in signatures else {}
    if json_path:
        shown = {name: {part: {k: {"dtype": d, "shape": list(s) if s is not None else None}
                               for k, (d, s) in sig[part].items()}
                        for part in ("inputs", "outputs")}
                 for name, sig in signatures.items()}
        write_json({"path": client.path, "signatures": shown, "metadata": meta}, json_path)
        if json_path == "-" or quiet:
            return
    click.echo(f"SavedModel: {client.path}")
    click.echo(format_signatures(signatures))
    if meta:
        click.echo("\nMetadata:")
        for key in ("contract", "name", "version", "dataset", "step", "epoch", "checkpoint",
                    "image_size", "channels", "z_dim", "z_dist", "feature_dim", "exported_at",
                    "dcgan_tf_version", "tensorflow_version"):
            if key in meta:
                click.echo(f"  {key:<18} {meta[key]}")
        for key in ("generator", "labelled_subset"):
            if key in meta:
                shown = (", ".join(f"{k}={v}" for k, v in meta[key].items())
                         if isinstance(meta[key], dict) else meta[key])
                click.echo(f"  {key:<18} {shown}")
        if meta.get("metrics"):
            shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in sorted(meta["metrics"].items()))
            click.echo(f"  {'metrics':<18} {shown}")
