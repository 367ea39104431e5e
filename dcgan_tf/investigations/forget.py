"""Forgetting to draw an object (paper section 6.2.1, Figure 6).

On a few generated samples a person draws boxes around an object (windows, in the paper).
A logistic regression on the activations of the generator's second-highest conv layer
predicts whether a position lies inside a box (positives) or at a random position elsewhere
in the same images (negatives). The feature maps with a positive weight are then dropped,
zeroed at every spatial position, and the same z are decoded again: the object should fade or
be replaced by something else while the rest of the scene stays. `maps` drops given maps
instead, without boxes.

Needs the generator's inner layers, so it reads a run directory, not an export.
"""

import time

import keras
import numpy as np
from PIL import Image, ImageDraw
from sklearn.linear_model import LogisticRegression

from dcgan_tf.atomic import check_dir_writable
from dcgan_tf.images import make_grid, to_uint8
from dcgan_tf.investigations.common import (
    InvestigateError, header, load_z_file, sample_z, side_by_side, write_report,
)
from dcgan_tf.investigations.configs import ForgetConfig
from dcgan_tf.training import checkpoint


def split_layer_name(cfg):
    """The generator's second-highest conv layer: the last transposed-conv block before the
    output layer, after its batch norm and ReLU (`deconv{num_blocks - 1}_relu`)."""
    return f"deconv{cfg.num_blocks - 1}_relu"


def split_generator(generator, layer_name):
    """Splits G at `layer_name` into `lower(z) -> activations` and `upper(activations) -> image`.

    Returns:
        `(lower, upper)` callables sharing G's weights; both run in inference mode.
    """
    lower = keras.Model(generator.input, generator.get_layer(layer_name).output)
    names = [layer.name for layer in generator.layers]
    later = generator.layers[names.index(layer_name) + 1:]

    def upper(x):
        for layer in later:
            x = layer(x, training=False)
        return x

    return (lambda z: lower(z, training=False)), upper


def _check_boxes(boxes, size):
    clean = {}
    for key, rects in boxes.items():
        try:
            index = int(key)
        except (TypeError, ValueError):
            raise InvestigateError(
                f"Expected sample indices as keys of the boxes. Received: {key!r}"
            ) from None
        if index < 0:
            raise InvestigateError(f"Expected sample indices >= 0. Received: {index}")
        checked = []
        for rect in rects:
            if len(rect) != 4:
                raise InvestigateError(
                    f"Expected boxes [x0, y0, x1, y1]. Received: {rect!r} for sample {index}"
                )
            x0, y0, x1, y1 = (float(v) for v in rect)
            if not (0 <= x0 < x1 <= size and 0 <= y0 < y1 <= size):
                raise InvestigateError(
                    f"Expected 0 <= x0 < x1 <= {size} and 0 <= y0 < y1 <= {size} (pixels of the "
                    f"{size}x{size} sample). Received: {list(rect)} for sample {index}"
                )
            checked.append((x0, y0, x1, y1))
        if checked:
            clean[index] = checked
    if not clean:
        raise InvestigateError("Expected at least one box, e.g. {\"3\": [[4, 4, 20, 16]]}.")
    return clean


def box_mask(rects, size, grid):
    """Which cells of a `grid` x `grid` activation map have their centre inside any box."""
    centres = (np.arange(grid) + 0.5) * size / grid
    mask = np.zeros((grid, grid), bool)
    for x0, y0, x1, y1 in rects:
        rows = (centres >= y0) & (centres < y1)
        cols = (centres >= x0) & (centres < x1)
        mask |= rows[:, None] & cols[None, :]
    return mask


def fit_object_maps(activations, masks, negatives_per_positive=1.0, seed=0, C=1.0):
    """Fits the paper's logistic regression: inside-box positions vs random outside positions.

    Args:
        activations: float32 (N, g, g, C) of the boxed samples.
        masks: bool (N, g, g), the positions inside boxes.
        negatives_per_positive: Negatives drawn per positive. Defaults to 1.
        seed: Seeds the draw of negatives.
        C: Inverse L2 regularisation of the regression. Defaults to 1.

    Returns:
        `(weights (C,), info)`: the regression's weight per feature map, and counts and
        training accuracy.
    """
    rng = np.random.default_rng(seed)
    positives = activations[masks]
    outside = activations[~masks]
    if not len(positives) or not len(outside):
        raise InvestigateError("Expected boxes that cover some positions and leave some uncovered.")
    count = min(len(outside), max(1, int(round(negatives_per_positive * len(positives)))))
    negatives = outside[rng.choice(len(outside), count, replace=False)]
    x = np.concatenate([positives, negatives])
    y = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
    reg = LogisticRegression(C=C, max_iter=2000).fit(x, y)
    return reg.coef_[0], {"positives": len(positives), "negatives": len(negatives),
                          "train_accuracy": float(reg.score(x, y))}


def forget(run_dir, out_dir, boxes=None, maps=None, config=ForgetConfig()):
    """Drops the generator feature maps that draw the boxed object; before/after from the same z.

    Args:
        run_dir: A `dcgan-tf train` output directory.
        out_dir: Where `forget.png` and `forget.json` go.
        boxes: Dict sample index -> list of boxes `[x0, y0, x1, y1]` in pixels of the model's
            image (`0..image_size`, x to the right, y down). Sample `i` is cell `i` of
            `dcgan-tf sample --seed SEED` (or row `i` of `config.z_file`).
        maps: Drop these feature-map indices instead of fitting on boxes.
        config: A `ForgetConfig`: the checkpoint, the samples shown, the grid, the logistic
            regression's settings and scale.

    Returns:
        The report dict of `forget.json`: the layer, the dropped maps, the regression's counts
        and accuracy, the mean absolute pixel change inside and outside the boxes, and the
        discriminator's mean probability before and after.

    Raises:
        InvestigateError: neither or both of `boxes` and `maps`, bad boxes, indices or maps.
    """
    check_dir_writable(out_dir)  # Before the work: figures that cannot be written are lost.
    start = time.perf_counter()
    if (boxes is None) == (maps is None):
        raise InvestigateError("Pass either boxes (--boxes FILE.json) or maps to drop (--maps).")
    cfg, _, generator, discriminator, meta = checkpoint.load_networks(run_dir, config.checkpoint)
    if cfg.num_classes:
        raise InvestigateError("Expected an unconditional model; this run is class-conditional.")
    layer = split_layer_name(cfg)
    lower, upper = split_generator(generator, layer)
    width = generator.get_layer(layer).output.shape[-1]
    grid = generator.get_layer(layer).output.shape[1]
    boxes = _check_boxes(boxes, cfg.image_size) if boxes is not None else {}

    n, seed, z_file, C = config.n, config.seed, config.z_file, config.C
    shown = list(range(n))
    wanted = sorted(set(shown) | set(boxes))
    z = _grid_z(wanted, cfg, seed, z_file)
    row = {index: i for i, index in enumerate(wanted)}
    acts = lower(z).numpy()

    report = {"run": run_dir, "checkpoint": meta["path"], "step": meta["step"], "layer": layer,
              "feature_maps": width, "grid": grid, "seed": seed, "z_file": z_file,
              "samples_shown": n}
    if boxes:
        masks = np.stack([box_mask(boxes[i], cfg.image_size, grid) for i in boxes])
        weights, info = fit_object_maps(acts[[row[i] for i in boxes]], masks,
                                        config.negatives_per_positive, seed, C)
        dropped = np.flatnonzero(weights > 0).tolist()
        report.update({"boxes": {str(i): [list(r) for r in boxes[i]] for i in boxes},
                       "regression": {**info, "C": C, "weights": weights}})
    else:
        dropped = _check_maps(maps, width, layer)
    mask = np.ones(width, np.float32)
    mask[dropped] = 0.0
    before = np.asarray(upper(acts))
    after = np.asarray(upper(acts * mask))


    before_px, after_px = to_uint8(before), to_uint8(after)
    report.update(_changes(before, after, boxes, row, cfg.image_size))
    report.update({
        "dropped_maps": dropped, "dropped_fraction": len(dropped) / width,
        "d_probability_before": _probability(discriminator, before),
        "d_probability_after": _probability(discriminator, after),
        "layout": "left: samples 0..n-1 before (boxes outlined in red); right: the same z with "
                  "the dropped maps zeroed",
    })
    show = [row[i] for i in shown]
    ncols = int(np.ceil(np.sqrt(max(n, 1))))
    left = _draw_boxes(make_grid(before_px[show], ncols=ncols), boxes, shown, ncols, cfg.image_size)
    right = make_grid(after_px[show], ncols=ncols)
    report["seconds"] = time.perf_counter() - start
    figure = side_by_side(left, right)
    figure = header(figure, [(0, "before"), (left.shape[1] + 8, f"after: {len(dropped)} maps dropped")])
    return write_report(out_dir, "forget", report, {"forget.png": (figure, config.scale)})


def _grid_z(indices, cfg, seed, z_file):
    """z of grid cells `indices`: rows of `z_file`, or seeds SEED + i as `dcgan-tf sample` draws them."""
    if not z_file:
        return sample_z(cfg.z_dim, cfg.z_dist, np.asarray(indices, np.int64) + seed)
    z_all = load_z_file(z_file, cfg.z_dim)
    if indices and indices[-1] >= len(z_all):
        raise InvestigateError(f"Expected sample indices below {len(z_all)} (rows of {z_file}). "
                               f"Received: {indices[-1]}")
    return z_all[indices]


def _check_maps(maps, width, layer):
    dropped = sorted({int(m) for m in maps})
    bad = [m for m in dropped if not 0 <= m < width]
    if bad:
        raise InvestigateError(f"Expected maps in [0, {width}) for {layer}. Received: {bad}")
    return dropped


def _changes(before, after, boxes, row, size):
    diff = np.abs(after - before).mean(axis=-1) * 127.5  # in uint8 pixel units
    out = {"mean_abs_change": float(diff.mean())}
    if boxes:
        inside, outside = [], []
        for index, rects in boxes.items():
            m = box_mask(rects, size, size)
            inside.append(diff[row[index]][m])
            outside.append(diff[row[index]][~m])
        out["boxed_change_inside"] = float(np.concatenate(inside).mean())
        rest = np.concatenate(outside)
        out["boxed_change_outside"] = float(rest.mean()) if len(rest) else None
    return out


def _probability(discriminator, images):
    logits = np.asarray(discriminator(images, training=False)).reshape(-1)
    return float(np.mean(1.0 / (1.0 + np.exp(-logits))))


def _draw_boxes(grid, boxes, shown, ncols, size, pad=2):
    """Outlines the boxes of shown samples in red on a grid image (made RGB)."""
    if not boxes:
        return grid

    image = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).convert("RGB")
    draw = ImageDraw.Draw(image)
    for k, index in enumerate(shown):
        r, c = divmod(k, ncols)
        oy, ox = pad + r * (size + pad), pad + c * (size + pad)
        for x0, y0, x1, y1 in boxes.get(index, ()):
            draw.rectangle((ox + x0, oy + y0, ox + x1 - 1, oy + y1 - 1), outline=(255, 0, 0))
    return np.asarray(image)
