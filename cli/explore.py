"""`dcgan-tf explore`: the interactive app over an export (the `explore` extra)."""

import importlib.util
import time

import click

from dcgan_tf_cli.model_source import model_source_options
from dcgan_tf.data.registry import IN_MEMORY_DATASETS


@click.command()
@click.argument("run", required=False, type=click.Path(exists=True, file_okay=False))
@model_source_options
@click.option("--dataset", type=click.Choice(IN_MEMORY_DATASETS),
              help="Training data of the discriminator panel's nearest images. Default: the export's.")
@click.option("--data-dir", type=click.Path(), help="Where its files are (as for `train`).")
@click.option("--index-size", type=click.IntRange(min=0), default=2000, show_default=True,
              help="Training images in the nearest-image index (0: all).")
@click.option("--n", "n", type=click.IntRange(1, 128), default=32, show_default=True,
              help="Samples drawn when the page opens.")
@click.option("--port", type=click.IntRange(1, 65535), default=7860, show_default=True,
              help="Served on 127.0.0.1 only.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True, help="Seconds to wait for --server.")
def explore(run, model, server, name, version, dataset, data_dir, index_size, n, port, timeout):
    """Open a local app to explore a model: samples, walks, arithmetic, D, the run.

    RUN (optional) is the training run, for its metrics curves; by default runs/<export
    name> when it holds the exported step. Served on 127.0.0.1 without share links or
    telemetry; works offline. Needs the extra: pip install -e ".[explore]".

    \b
    Examples:
      dcgan-tf explore --model savedmodels/digits
      dcgan-tf explore runs/digits --model savedmodels/digits --port 7861
      dcgan-tf explore --server grpc://localhost:8500 --name digits
    """
    if importlib.util.find_spec("gradio") is None:
        raise click.ClickException('explore needs Gradio: pip install -e ".[explore]"')
    from dcgan_tf.explore.app import build_app, launch
    from dcgan_tf.explore.session import ExploreConfig, Explorer, describe

    if model is not None and version is not None:
        raise click.UsageError("--version selects a version on --server; pass a version directory to --model.")
    start = time.perf_counter()
    explorer = Explorer(ExploreConfig(
        model=model, server=server, name=name, version=version, run_dir=run, dataset=dataset,
        data_dir=data_dir, index_size=index_size, timeout=timeout))
    demo = build_app(explorer, grid=n)
    url = launch(demo, port, block=False)
    click.echo(describe(explorer))
    click.echo(f"Serving {url} (ready in {time.perf_counter() - start:.1f} s); Ctrl+C stops.")
    try:
        demo.block_thread()
    finally:
        demo.close()
