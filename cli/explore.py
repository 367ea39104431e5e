"""`dcgan-tf explore`: the interactive app over an export (the `explore` extra)."""

import importlib.util
import time

import click

from dcgan_tf_cli.model_source import MODEL_SOURCE, check_model_source
from dcgan_tf_cli.schema import argument, options


@click.command()
@argument("run", "[RUN]", required=False)
@options(*MODEL_SOURCE, "dataset", "data_dir", "index_size", "n", "port",
         n={"low": 1, "high": 128, "default": 32})
def explore(run, model, server, name, version, timeout, dataset, data_dir, index_size, n, port):
    """Open a local app to explore a model: samples, walks, arithmetic, D, the run.

    --n samples are drawn when the page opens; --dataset (default: the export's) gives the
    discriminator panel's nearest images. RUN (optional) is the training run, for its
    metrics curves; by default runs/<export name> when it holds the exported step. Served on 127.0.0.1 without share links or
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

    check_model_source(model, version)
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
