"""`dcgan-tf sample`."""

import math

import click

import numpy as np

from dcgan_tf_cli.model_source import check_model_source
from dcgan_tf_cli.quiet import Command
from dcgan_tf_cli.schema import options
from dcgan_tf.options import check_seed_span

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
@options("model", "server", "name", "version", "timeout", "n", "seed", "out_file", "show_index",
         "save_z", "scale", "request_format", n={"low": 1, "high": 4096, "default": 64})
def sample(model, server, name, version, timeout, n, seed, out_file, show_index, save_z, scale,
           request_format):
    """Write a grid of generated images from an export or from TF Serving.

    Uses the export's `sample` signature (one image per seed): image i comes from seed
    SEED+i, so `--seed SEED+i --n 1` redraws it alone. With --model the SavedModel is loaded
    with plain TensorFlow, no model code.

    \b
    Examples:
      dcgan-tf sample --model savedmodels/digits/1 --out-file grid.png
      dcgan-tf sample --model savedmodels/digits --n 100 --seed 7 --show-index --save-z z.npy
      dcgan-tf sample --server http://localhost:8501 --name digits --request-format columnar
      dcgan-tf sample --server grpc://localhost:8500 --name digits --out-file grid.png
    """
    from dcgan_tf.images import make_grid, save_png
    from dcgan_tf.serving.clients import open_client

    from dcgan_tf.atomic import check_writable

    check_model_source(model, version)
    try:
        check_seed_span(seed, n)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    for path in (out_file, save_z):
        check_writable(path)  # Before the work: an image that cannot be written is lost.
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
    save_png(out_file, grid, scale=scale)
    click.echo(f"Wrote {out_file}: {n} images, seeds {seed}..{seed + n - 1}")
    if save_z:
        np.save(save_z, result["z"].astype(np.float32))
        click.echo(f"Wrote {save_z}: z {result['z'].shape}")
