"""Guided backpropagation of discriminator features (paper section 6.2, Figure 5).

For a chosen channel of a discriminator conv block, the real images that activate it most
(the maximum over positions) are found in a subset of the training data, and the gradient of
that maximum with respect to each image is taken with guided backpropagation (Springenberg et
al. 2014): in the backward pass every LeakyReLU lets a gradient through only where both its
input and the incoming gradient are positive. A trained discriminator's maps show parts of the
objects it learned (in the paper, beds and windows); a randomly initialised one of the same
architecture gives no such structure, so both are drawn side by side.

Needs the networks' inner layers, so it reads a run directory, not an export.
"""

import time

import keras
import numpy as np
import tensorflow as tf

from dcgan_tf.atomic import check_dir_writable
from dcgan_tf.data.crop import prepare_images
from dcgan_tf.data.datasets import load_split
from dcgan_tf.investigations.common import (
    InvestigateError, cell_x, header, rows_grid, write_report,
)
from dcgan_tf.investigations.configs import VisualizeConfig
from dcgan_tf.training import checkpoint
from dcgan_tf.training.models import build_discriminator, dtype_policy, feature_layer_names


def guided_leaky_relu(slope):
    """A LeakyReLU whose backward pass is guided: gradient only where input and gradient are > 0."""
    @tf.custom_gradient
    def fn(x):
        def grad(upstream):
            keep = tf.logical_and(x > 0, upstream > 0)
            return tf.where(keep, upstream, tf.zeros_like(upstream))

        return tf.where(x > 0, x, slope * x), grad

    return fn


def _forward(discriminator, layer_name, images, guided):
    """Runs D's layers in order up to `layer_name` (inference mode), optionally guided."""
    x = images
    for layer in discriminator.layers[1:]:
        if guided and isinstance(layer, keras.layers.LeakyReLU):
            x = guided_leaky_relu(float(layer.negative_slope))(x)
        else:
            x = layer(x, training=False)
        if layer.name == layer_name:
            return x
    raise InvestigateError(f"The discriminator has no layer {layer_name!r}.")


def channel_activations(discriminator, layer_name, images, batch_size=256):
    """Each channel's maximum over positions at `layer_name`: float32 (N, channels)."""
    parts = []
    for i in range(0, len(images), batch_size):
        out = _forward(discriminator, layer_name, tf.constant(images[i:i + batch_size]), guided=False)
        parts.append(tf.reduce_max(out, axis=(1, 2)).numpy())
    return np.concatenate(parts)


def guided_backprop(discriminator, layer_name, channel, images):
    """Guided-backprop maps of one channel's maximum activation w.r.t. the input images.

    Args:
        discriminator: A Keras DCGAN discriminator (a chain of layers).
        layer_name: One of `models.feature_layer_names(cfg)`, e.g. `"conv2_lrelu"`.
        channel: Channel index in that layer.
        images: float32 (N, H, W, C) in [-1, 1].

    Returns:
        float32 (N, H, W, C) gradients.
    """
    x = tf.constant(images, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = _forward(discriminator, layer_name, x, guided=True)
        # Images are independent in inference mode, so one sum gives every image's gradient.
        objective = tf.reduce_sum(tf.reduce_max(out[..., channel], axis=(1, 2)))
    return tape.gradient(objective, x).numpy()


def map_to_pixels(grads):
    """Signed gradient maps to uint8 for display: 128 = 0, scaled per image by its max |g|."""
    flat = np.abs(grads).reshape(len(grads), -1).max(axis=1)
    scaled = grads / np.maximum(flat, 1e-12)[:, None, None, None]
    return np.clip(np.round(127.5 + 127.5 * scaled), 0, 255).astype(np.uint8)


def _concentration(grads, top=0.05):
    """Share of a map's |gradient| mass in its top 5% pixels (1 = a few pixels, 0.05 = flat)."""
    mags = np.abs(grads).reshape(len(grads), -1)
    mags = np.sort(mags, axis=1)[:, ::-1]
    cut = max(1, int(top * mags.shape[1]))
    return float(np.mean(mags[:, :cut].sum(1) / np.maximum(mags.sum(1), 1e-12)))


def _network_panel(discriminator, layer, channels, images, pixels, top):
    acts = channel_activations(discriminator, layer, images)
    rows, stats = [], []
    for c in channels:
        order = np.argsort(-acts[:, c])[:top]
        grads = guided_backprop(discriminator, layer, c, images[order])
        column = acts[:, c]
        rows.append(np.concatenate([pixels[order], map_to_pixels(grads)]))
        stats.append({
            "channel": int(c), "top_images": order, "top_activations": column[order],
            "mean_activation": float(column.mean()),
            # How far the top images stand out: (mean of top - mean) / std.
            "selectivity": float((column[order].mean() - column.mean()) / max(column.std(), 1e-12)),
            "map_concentration": _concentration(grads),
        })
    return acts, rows, stats


def _search_images(dataset, data_dir, n_images, seed, cfg):
    """uint8 pixels of a seeded random subset of `n_images` training images, at the model's size."""
    data = load_split(dataset, "train", data_dir).images
    rng = np.random.default_rng(seed)
    if len(data) > n_images:
        data = data[np.sort(rng.choice(len(data), n_images, replace=False))]
    return prepare_images(data, cfg.image_size, cfg.channels)


def _most_active_channels(net, layer, images, top, num_channels):
    """The `num_channels` channels of `layer` with the highest mean top-`top` activation, sorted."""
    acts = channel_activations(net, layer, images)
    strength = -np.sort(-acts, axis=0)[:top].mean(axis=0)
    return np.sort(np.argsort(-strength)[:num_channels]).tolist()


def visualize(run_dir, out_dir, config=VisualizeConfig(), dataset=None, data_dir=None):
    """Top activating real images and guided-backprop maps, trained vs random discriminator.

    Args:
        run_dir: A `dcgan-tf train` output directory.
        out_dir: Where `visualize.png` and `visualize.json` go.
        config: A `VisualizeConfig`: the checkpoint, layer and channels, the images searched,
            the seed and scale.
        dataset: Defaults to the run's dataset.
        data_dir: Defaults to the run's data directory.

    Returns:
        The report dict of `visualize.json`: per network (`trained`, `random`) and channel,
        the top image indices and activations, `selectivity` and `map_concentration`, and
        their means over channels.

    Raises:
        InvestigateError: unknown layer or channel, or a conditional model.
        dcgan_tf.training.checkpoint.CheckpointError: not a run directory.
    """
    check_dir_writable(out_dir)  # Before the work: figures that cannot be written are lost.
    start = time.perf_counter()
    cfg, train_cfg, _, trained, meta = checkpoint.load_networks(run_dir, config.checkpoint)
    if cfg.num_classes:
        raise InvestigateError("Expected an unconditional model; this run is class-conditional.")
    names = feature_layer_names(cfg)
    layer = config.layer or names[-1]
    channels, top, seed = config.channels, config.top, config.seed
    if layer not in names:
        raise InvestigateError(f"Expected `layer` in {names}. Received: layer={layer!r}")
    width = trained.get_layer(layer).output.shape[-1]

    dataset = dataset or train_cfg.dataset
    data_dir = data_dir or train_cfg.data_dir
    pixels = _search_images(dataset, data_dir, config.n_images, seed, cfg)
    images = pixels.astype(np.float32) / 127.5 - 1.0

    if channels is None:
        channels = _most_active_channels(trained, layer, images, top, config.num_channels)
    bad = [c for c in channels if not 0 <= c < width]
    if bad:
        raise InvestigateError(f"Expected channels in [0, {width}) for {layer}. Received: {bad}")

    keras.utils.set_random_seed(seed)
    with dtype_policy("float32"):
        random = build_discriminator(cfg)
    panels, report_nets = {}, {}
    for name, net in (("trained", trained), ("random", random)):
        _, rows, stats = _network_panel(net, layer, channels, images, pixels, top)
        panels[name] = rows
        report_nets[name] = {
            "channels": stats,
            "mean_selectivity": float(np.mean([s["selectivity"] for s in stats])),
            "mean_map_concentration": float(np.mean([s["map_concentration"] for s in stats])),
        }
    rows = [np.concatenate([t, r]) for t, r in zip(panels["trained"], panels["random"])]
    report = {
        "run": run_dir, "checkpoint": meta["path"], "step": meta["step"], "dataset": dataset,
        "layer": layer, "channels": channels, "top": top, "images_searched": len(images),
        "seed": seed, "networks": report_nets,
        "layout": f"one row per channel; trained discriminator: {top} top activating images, "
                  f"then their guided-backprop maps; then the same for a random discriminator",
        "map_encoding": "grey 128 = zero gradient; brighter = positive; scaled per map",
        "seconds": time.perf_counter() - start,
    }
    grid = rows_grid(rows, gap_after=(top - 1, 2 * top - 1, 3 * top - 1))
    size = cfg.image_size
    grid = header(grid, [
        (cell_x(0, size), "trained D: top images"), (cell_x(top + 1, size), "guided backprop"),
        (cell_x(2 * top + 2, size), "random D: top images"), (cell_x(3 * top + 3, size), "guided backprop"),
    ])
    return write_report(out_dir, "visualize", report, {"visualize.png": (grid, config.scale)})
