"""D's features of real images as a TensorBoard projector embedding (`dcgan-tf project`).

The paper's claim behind the probe is that the discriminator's features separate the classes;
TensorBoard's Projector tab shows it: PCA, t-SNE or UMAP of the export's `features` of N real
images, each drawn from a sprite and coloured by its label. The files are TensorBoard's own:
the embedding a TF checkpoint variable (as in TensorBoard's TF2 projector tutorial), the
config a `ProjectorConfig` written by `projector.visualize_embeddings`.
"""

import logging
import math
import os
import shutil
import time

import numpy as np
from PIL import Image
import tensorflow as tf
from tensorboard.plugins import projector

from dcgan_tf import atomic
from dcgan_tf.atomic import save_json, write_text
from dcgan_tf.contract import GENERATE
from dcgan_tf.data.crop import prepare_images
from dcgan_tf.data.datasets import load_split
from dcgan_tf.investigations.common import InvestigateError, open_savedmodel
from dcgan_tf.investigations.nearest import features_of

# The variable's key in a `tf.train.Checkpoint(embedding=...)`.
TENSOR_NAME = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
SPRITE = "sprite.png"
METADATA = "metadata.tsv"
# TensorBoard's projector refuses sprites larger than this on either side.
MAX_SPRITE_SIDE = 8192
_TMP_TAG = "projector"  # Projections being written: `.tmp-projector-<pid>-...`.

logger = logging.getLogger("dcgan_tf")


def sprite_image(pixels):
    """Tiles uint8 images (N, H, W, C) row-major into a square sprite, no padding, black cells
    after the last; images shrink (nearest) when the sprite would exceed `MAX_SPRITE_SIDE`.

    Returns:
        `(sprite uint8 (S, S, C), cell side)`.
    """

    n, size = len(pixels), pixels.shape[1]
    cols = math.ceil(math.sqrt(n))
    cell = min(size, MAX_SPRITE_SIDE // cols)
    if cell != size:
        pixels = np.stack([
            np.asarray(Image.fromarray(p[..., 0] if p.shape[-1] == 1 else p).resize((cell, cell)))
            .reshape(cell, cell, -1) for p in pixels])
    sprite = np.zeros((cols * cell, cols * cell, pixels.shape[-1]), np.uint8)
    for i, image in enumerate(pixels):
        r, c = divmod(i, cols)
        sprite[r * cell:(r + 1) * cell, c * cell:(c + 1) * cell] = image
    return sprite, cell


def project(model, out_dir, dataset=None, data_dir=None, n=2000, split="test", seed=0):
    """Writes a TensorBoard log directory with D's features of `n` real images for the projector.

    Args:
        model: An exported SavedModel with a `features` signature.
        out_dir: The log directory (replaced if it holds an earlier projection).
        dataset: The images' dataset; defaults to the export's metadata `dataset`.
        data_dir: Where its files are (as for `dcgan-tf train`).
        n: Images: a seeded random subset of the split (all of it when smaller).
            Defaults to 2000.
        split: `"test"` (held out from training) or `"train"`. Defaults to `"test"`.
        seed: Seed of the subset. Defaults to 0.

    Returns:
        Report dict (also `out_dir/project.json`): `images` (fewer than `requested` when the
        split is smaller, with a line in `notes`, also logged), `feature_dim`, `sprite_cell`,
        `files`, and `indices` (each row's index in the split, the metadata TSV's `index` column).

    Raises:
        InvestigateError: not a usable export, no dataset, or `out_dir` holds other files.
        dcgan_tf.data.formats.DataError: the dataset's files are missing.
    """


    start = time.perf_counter()
    if n < 1:
        raise InvestigateError(f"Expected `n` >= 1. Received: n={n}")
    client, meta = open_savedmodel(model, (GENERATE, "features"))
    dataset = dataset or meta.get("dataset")
    if not dataset:
        raise InvestigateError("The export records no dataset: pass --dataset (and --data-dir).")
    if os.path.isdir(out_dir) and os.listdir(out_dir) and not os.path.isfile(
            os.path.join(out_dir, "projector_config.pbtxt")):
        raise InvestigateError(
            f"{out_dir} exists and holds other files: pass a new --out for the projector log dir.")
    atomic.check_dir_writable(out_dir)
    data = load_split(dataset, split, data_dir)
    rng = np.random.default_rng(seed)
    indices = np.arange(len(data))
    notes = []
    if len(data) > n:
        indices = np.sort(rng.choice(len(data), n, replace=False))
    elif len(data) < n:
        notes.append(f"Asked for {n} images; the {split} split of {dataset} holds {len(data)}: "
                     f"projecting all {len(data)}.")
        logger.warning(notes[-1])
    pixels = prepare_images(data.images[indices], meta["image_size"], meta["channels"])
    features = features_of(client, pixels)
    sprite, cell = sprite_image(pixels)

    # Built beside the target, then renamed: a reader never sees half a projection.
    parent = os.path.dirname(os.path.abspath(out_dir))
    atomic.recover_dirs(parent, tag=_TMP_TAG)
    tmp = atomic.temp_dir(parent, _TMP_TAG)
    try:
        from dcgan_tf.images import save_png

        save_png(os.path.join(tmp, SPRITE), sprite)
        labels = data.labels[indices] if data.labels is not None else np.full(len(indices), -1)
        # The label first: the projector labels points by the first column.
        write_text(os.path.join(tmp, METADATA), "label\tindex\n" + "".join(
            f"{label}\t{i}\n" for i, label in zip(indices, labels)))
        tf.train.Checkpoint(embedding=tf.Variable(features)).save(os.path.join(tmp, "embedding.ckpt"))
        config = projector.ProjectorConfig()
        embedding = config.embeddings.add()
        embedding.tensor_name = TENSOR_NAME
        embedding.metadata_path = METADATA
        embedding.sprite.image_path = SPRITE
        embedding.sprite.single_image_dim.extend([cell, cell])
        projector.visualize_embeddings(tmp, config)
        report = {
            "model": client.path, "dataset": dataset, "split": split, "seed": seed,
            "images": int(len(indices)), "requested": int(n), "notes": notes, "feature_dim": int(features.shape[1]),
            "sprite_cell": cell, "sprite_side": int(sprite.shape[0]),
            "indices": indices.tolist(), "seconds": time.perf_counter() - start,
            "files": {name: os.path.join(out_dir, name)
                      for name in (SPRITE, METADATA, "projector_config.pbtxt", "project.json")},
            "tensorboard": f"tensorboard --logdir {out_dir}",
        }
        save_json(os.path.join(tmp, "project.json"), report)
        atomic.publish_dir(tmp, out_dir, overwrite=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report
