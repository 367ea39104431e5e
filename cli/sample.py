"""`dcgan-tf sample`."""

import math

import click

from dcgan_tf_cli.quiet import Command
import numpy as np

from dcgan_tf_cli.deprecation import old_option, prefer
from dcgan_tf_cli.model_source import model_source_options
from dcgan_tf.config import REQUEST_FORMATS

_PAD = 2
_LABELLED_CELL = 48  # Smallest cell side, in pixels, that fits a readable index label.


def _label_cells(grid, n, cell, ncols, scale):
    """Upscales a grid and writes each cell's index in its top-left corner."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    side = cell * scale
    try:
        font = ImageFont.load_default(size=max(9, side // 4))
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font.
        font = ImageFont.load_default()
    draw = ImageDraw.Draw(image)
    white, black = (255 if image.mode == "L" else (255, 255, 255)), (0 if image.mode == "L" else (0, 0, 0))
    for i in range(n):
        row, col = divmod(i, ncols)
        x, y = (_PAD + col * (cell + _PAD)) * scale, (_PAD + row * (cell + _PAD)) * scale
        left, top, right, bottom = draw.textbbox((x + 1, y), str(i), font=font)
        draw.rectangle((x, y, right + 1, bottom + 1), fill=black)
        draw.text((x + 1, y), str(i), fill=white, font=font)
    array = np.asarray(image)
    return array[..., None] if array.ndim == 2 else array


@click.command(cls=Command)
@model_source_options
@click.option("--n", "n", type=click.IntRange(1, 4096), default=64, show_default=True, help="Images.")
@click.option("--seed", type=click.IntRange(0, 2**62), default=0, show_default=True,
              help="Image i comes from seed SEED+i, so `--seed SEED+i --n 1` redraws it alone.")
@click.option("--out", type=click.Path(dir_okay=False), default="grid.png", show_default=True)
@click.option("--show-index", is_flag=True, help="Label each cell with its index (row-major).")
@click.option("--save-z", type=click.Path(dir_okay=False),
              help="Save the z used, float32 (n, z_dim), as .npy.")
@click.option("--scale", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Upscale the grid (nearest neighbour).")
@click.option("--request-format", type=click.Choice(REQUEST_FORMATS), default="row",
              show_default=True,
              help="REST request layout with an http:// --server: row (instances) or columnar "
                   "(inputs).")
@old_option("--format", "old_request_format", new="--request-format",
            type=click.Choice(REQUEST_FORMATS))
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              help="Seconds to wait for --server.")
def sample(model, server, name, version, n, seed, out, show_index, save_z, scale, request_format,
           old_request_format, timeout):
    """Write a grid of generated images from an export or from TF Serving.

    Uses the export's `sample` signature (one image per seed); with --model the SavedModel
    is loaded with plain TensorFlow, no model code.

    \b
    Examples:
      dcgan-tf sample --model savedmodels/digits/1 --out grid.png
      dcgan-tf sample --model savedmodels/digits --n 100 --seed 7 --show-index --save-z z.npy
      dcgan-tf sample --server http://localhost:8501 --name digits --request-format columnar
      dcgan-tf sample --server grpc://localhost:8500 --name digits --out grid.png
    """
    from dcgan_tf.images import make_grid, save_png
    from dcgan_tf.serving.clients import open_client

    request_format = prefer(request_format, old_request_format, "request_format",
                            "--request-format", "--format")
    if model is not None and version is not None:
        raise click.UsageError(
            "--version selects a version on --server; pass a version directory to --model."
        )
    from dcgan_tf.atomic import check_writable

    for path in (out, save_z):
        check_writable(path)  # Before the work: images that cannot be written are lost.
    client = open_client(model=model, server=server, name=name, version=version, timeout=timeout,
                         request_format=request_format)
    result = client.sample(np.arange(seed, seed + n, dtype=np.int64))
    pixels = result["pixels"]
    ncols = math.ceil(math.sqrt(n))
    grid = make_grid(pixels, ncols=ncols, pad=_PAD)
    if show_index:
        cell = pixels.shape[1]
        grid = _label_cells(grid, n, cell, ncols, max(scale, math.ceil(_LABELLED_CELL / cell)))
        scale = 1
    save_png(out, grid, scale=scale)
    click.echo(f"Wrote {out}: {n} images, seeds {seed}..{seed + n - 1}")
    if save_z:
        np.save(save_z, result["z"].astype(np.float32))
        click.echo(f"Wrote {save_z}: z {result['z'].shape}")
