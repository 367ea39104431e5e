"""Shared pieces of the paper's model investigations (section 6): z, figures and reports.

The commands built on this (`dcgan_tf.investigations.latent`, `nearest`, `visualize`, `forget`) read an
exported SavedModel where they can, so what is investigated is what is served, and a run
directory only where they need the networks' inner layers. z is always drawn the way `dcgan-tf
sample` draws it: image `i` of `dcgan-tf sample --seed S` comes from seed `S + i` through the
export's `sample` signature, so a grid index names the same z everywhere.
"""

import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from dcgan_tf.atomic import save_json
from dcgan_tf.contract import GENERATE
from dcgan_tf.images import make_grid
from dcgan_tf.images import save_png
from dcgan_tf.latent_z import z_from_seed
from dcgan_tf.serving.clients import SavedModelClient
from dcgan_tf.serving.export_reader import ExportReader

# Signatures the SavedModel-based investigations call.
NEEDED_SIGNATURES = (GENERATE, "sample")


class InvestigateError(ValueError):
    """An investigation that cannot run as asked (bad index, box, expression, model, ...)."""


def open_savedmodel(path, signatures=NEEDED_SIGNATURES):
    """Opens an export with plain TensorFlow and checks it has the signatures needed.

    Args:
        path: A SavedModel version directory, or a model directory (newest version).
        signatures: Signature names that must exist.

    Returns:
        `(client, metadata)`: a `dcgan_tf.serving.clients.SavedModelClient` and the export's
        metadata dict (`z_dim`, `z_dist`, `image_size`, `channels`, `dataset`, ...).

    Raises:
        InvestigateError: not a SavedModel, or one without a needed signature.
    """
    client = SavedModelClient(ExportReader(path, needs=signatures, error=InvestigateError))
    return client, client.metadata()


def check_indices(indices, name="index", limit=None):
    """Validates grid indices (non-negative integers, below `limit` when given)."""
    indices = [int(i) for i in indices]
    bad = [i for i in indices if i < 0 or (limit is not None and i >= limit)]
    if bad:
        where = f" in [0, {limit})" if limit is not None else " >= 0"
        raise InvestigateError(f"Expected every {name}{where}. Received: {bad}")
    return indices


def load_z_file(path, z_dim):
    """Reads z vectors saved by `dcgan-tf sample --save-z` (a `.npy` of shape (n, z_dim)).

    Raises:
        InvestigateError: missing file or a shape that does not fit the model.
    """
    if not os.path.isfile(path):
        raise InvestigateError(f"z file not found: {path}. Write one with `dcgan-tf sample --save-z`.")
    z = np.load(path, allow_pickle=False)
    if z.ndim != 2 or z.shape[1] != z_dim:
        raise InvestigateError(
            f"Expected z of shape (n, {z_dim}) in {path}. Received: shape {z.shape}"
        )
    return z.astype(np.float32)


def grid_z(client, indices, seed=0, z=None):
    """The z of cells `indices` of the grid `dcgan-tf sample --seed SEED` draws (seed SEED + i).

    Args:
        client: A `SavedModelClient` (its `sample` signature draws the z).
        indices: Grid indices.
        seed: The grid's `--seed`. Defaults to 0.
        z: z vectors from a file instead (`load_z_file`); indices are then its rows.

    Returns:
        float32 (len(indices), z_dim).
    """
    indices = check_indices(indices, limit=None if z is None else len(z))
    if z is not None:
        return z[indices]
    if not indices:
        return np.zeros((0, client.metadata()["z_dim"]), np.float32)
    return client.sample(np.asarray(indices, np.int64) + seed)["z"].astype(np.float32)


def sample_z(z_dim, z_dist, seeds):
    """z for integer seeds, equal to what an export's `sample` signature returns for them.

    For code that holds a run directory's networks rather than an export (e.g. `forget`), so
    its grid indices match `dcgan-tf sample`'s.

    Args:
        z_dim: Width of z.
        z_dist: `"uniform"` in [-1, 1] or `"normal"`.
        seeds: Integer seeds.

    Returns:
        float32 (len(seeds), z_dim).
    """
    rows = [z_from_seed(s, z_dim, z_dist).numpy() for s in np.asarray(seeds, np.int64).reshape(-1)]
    return np.stack(rows) if rows else np.zeros((0, z_dim), np.float32)


def generate(client, z, batch_size=256):
    """uint8 pixels (N, H, W, C) of `z` from the export's `serving_default`, in batches."""
    z = np.asarray(z, np.float32)
    parts = [client.generate(z[i:i + batch_size])["pixels"] for i in range(0, len(z), batch_size)]
    return np.concatenate(parts)


def rows_grid(rows, pad=2, gap_after=(), row_gaps=None):
    """Tiles rows of images (each uint8 (k, H, W, C)) into one image; short rows end blank.

    Args:
        rows: List of image arrays of the same H, W, C.
        pad: Pixels between cells.
        gap_after: Column indices after which one blank cell separates groups.
        row_gaps: Per row, its own `gap_after` (overrides it).

    Returns:
        uint8 (rows * (H + pad) + pad, cols * (W + pad) + pad, C).
    """
    shape = next(r.shape[1:] for r in rows if len(r))
    blank = np.zeros((1, *shape), np.uint8)
    spaced = []
    for r, row in enumerate(rows):
        gaps = row_gaps[r] if row_gaps is not None else gap_after
        cells = []
        for j, image in enumerate(row):
            cells.append(image[None])
            if j in gaps and j < len(row) - 1:
                cells.append(blank)
        spaced.append(np.concatenate(cells) if cells else np.zeros((0, *shape), np.uint8))
    ncols = max(len(r) for r in spaced)
    padded = [np.concatenate([r, np.repeat(blank, ncols - len(r), axis=0)]) for r in spaced]
    return make_grid(np.concatenate(padded), ncols=ncols, pad=pad)


def side_by_side(*images, gap=8, fill=0):
    """Joins images (H_i, W_i, C) left to right, top-aligned, `gap` columns of `fill` apart."""
    channels = max(im.shape[-1] for im in images)
    images = [np.repeat(im, 3, axis=-1) if im.shape[-1] != channels else im for im in images]
    height = max(im.shape[0] for im in images)
    parts = []
    for i, im in enumerate(images):
        if i:
            parts.append(np.full((height, gap, channels), fill, np.uint8))
        parts.append(np.pad(im, ((0, height - im.shape[0]), (0, 0), (0, 0)), constant_values=fill))
    return np.concatenate(parts, axis=1)


def header(image, labels, height=12):
    """Adds a strip above `image` with text labels at given x positions: `[(x, text)]`."""
    image = np.asarray(image)
    strip = np.zeros((height, *image.shape[1:]), np.uint8)
    canvas = Image.fromarray(np.concatenate([strip, image])[..., 0] if image.shape[-1] == 1
                             else np.concatenate([strip, image]))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    white = 255 if canvas.mode == "L" else (255, 255, 255)
    for x, text in labels:
        draw.text((x + 2, 0), text, fill=white, font=font)
    out = np.asarray(canvas)
    return out[..., None] if out.ndim == 2 else out


def cell_x(column, size, pad=2):
    """Left pixel of grid column `column` in a `make_grid`/`rows_grid` image."""
    return pad + column * (size + pad)


def write_report(out_dir, name, report, figures):
    """Writes each figure as `OUT/<file>` and the report as `OUT/<name>.json`.

    Args:
        out_dir: Output directory (created).
        name: Base name of the JSON file.
        report: JSON-serialisable dict; `files` (name -> path) is added.
        figures: Dict of PNG file name -> `(uint8 image, scale)`.

    Returns:
        The report as written: plain JSON types, with `files`.
    """
    os.makedirs(out_dir, exist_ok=True)
    files = {}
    for filename, (image, scale) in figures.items():
        files[filename] = save_png(os.path.join(out_dir, filename), image, scale=scale)
    report = _jsonable({**report, "files": {**files, f"{name}.json": os.path.join(out_dir, f"{name}.json")}})
    save_json(report["files"][f"{name}.json"], report)
    return report


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        return round(float(value), 6) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
