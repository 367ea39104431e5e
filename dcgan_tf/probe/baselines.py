"""Baselines that give a probe's number its meaning: raw pixels, a random D, a supervised D.

- `pixels`: the same L2-SVM protocol on raw pixels.
- `random`: the same protocol on a discriminator with its initial, untrained weights, exported
  through `dcgan_tf.export.savedmodel` like any run, so it goes through the very same `features` signature.
- `supervised`: the discriminator's architecture (same widths and depth) with a softmax head,
  trained from scratch on the same labelled draws, hyper-parameters picked on the same
  validation set (the paper's 28.87% on SVHN with 1000 labels).

A trained DCGAN must beat `random` and `pixels` on real data, or its training is broken.
"""

import dataclasses
import hashlib
import itertools
import json
import os
import time

import keras
import numpy as np
from tqdm import tqdm

from dcgan_tf.config import ModelConfig, TrainConfig
from dcgan_tf.data.crop import prepare_images
from dcgan_tf.data.datasets import native_shape
from dcgan_tf.export.config import ExportConfig
from dcgan_tf.export.savedmodel import export_savedmodel
from dcgan_tf.probe.protocol import ProbeConfig, ProbeError, split_protocol, summarise
from dcgan_tf.probe.run import (
    PIXELS, _report, cache_root, load_labelled, read_metadata, resolve_savedmodel,
    run_probe,
)
from dcgan_tf.training import checkpoint
from dcgan_tf.training.models import build_discriminator
from dcgan_tf.training.models import recalibrate_batchnorm
from dcgan_tf.training.run import build_gan

BASELINES = ("random", "pixels", "supervised")


def model_config_of(model, dataset, data_dir=None):
    """`(ModelConfig, note)`: the probed SavedModel's shape, or the dataset's default shape."""
    if model is not None:
        metadata = read_metadata(model)
        if "model" in metadata:
            return ModelConfig.from_dict(metadata["model"]), None
        raise ProbeError(f"{model} has no model configuration in its metadata: re-export it.")

    size, channels = native_shape(dataset, data_dir)
    cfg = ModelConfig(image_size=size, channels=channels)
    return cfg, (f"no --model given: the default architecture for {dataset} "
                 f"({size}x{size}x{channels})")


def random_savedmodel(model_cfg, cache_dir=None, seed=0, dataset="digits", features=None):
    """Exports a DCGAN with random (initial) weights and returns its SavedModel directory.

    The untrained networks are checkpointed into a run directory and exported by
    `dcgan_tf.export.savedmodel.export_savedmodel`, exactly like a trained run. The export is cached by
    model configuration and seed.

    Args:
        model_cfg: The `ModelConfig` to build (that of the probed model).
        cache_dir: Root for the run and the export; `None` for `default_cache_dir()`.
        seed: Seeds the initial weights.
        dataset: Recorded in the run's config (and so in the export's metadata).
        features: The probed model's `features` choices (its metadata's `features`), so that
            the random network is read out the same way; `None` for the paper's.

    Returns:
        The exported version directory.
    """
    key = hashlib.sha256(
        json.dumps({"model": model_cfg.to_dict(), "seed": seed, "features": features or {}},
                   sort_keys=True).encode()
    ).hexdigest()[:16]
    root = os.path.join(cache_root(cache_dir), "random", key)
    exported = os.path.join(root, "savedmodels", "random", "1")
    if os.path.isfile(os.path.join(exported, "saved_model.pb")):
        return exported
    run_dir = os.path.join(root, "run")
    train_cfg = TrainConfig(out=run_dir, dataset=dataset, seed=seed)
    keras.utils.set_random_seed(seed)
    gan = build_gan(model_cfg, train_cfg)
    checkpoint.write_run_config(run_dir, model_cfg, train_cfg)
    checkpoint.save(gan, run_dir, step=0, epoch=0)
    return export_savedmodel(run_dir, os.path.join(root, "savedmodels"), name="random", version=1,
                             config=ExportConfig(overwrite=True, features=features))


@dataclasses.dataclass(frozen=True)
class SupervisedConfig:
    """The supervised baseline's hyper-parameter grid and budget.

    Args:
        lrs: Adam learning rates to try.
        dropouts: Dropout rates before the softmax head to try.
        max_epochs: Most epochs per fit; the epoch count is picked on the validation set.
        eval_every: Epochs between validation checks (early stopping, epoch selection).
        patience: Checks without improvement before stopping.
        batch_size: Mini-batch size.
        search_every_draw: Search the grid on every draw. Defaults to `False`: the grid is
            searched on the first draw and the chosen (lr, dropout, epochs) trains the others,
            which saves the search on every further draw.
    """

    lrs: tuple = (1e-3, 2e-4)
    dropouts: tuple = (0.0, 0.5)
    max_epochs: int = 40
    eval_every: int = 4
    patience: int = 2
    batch_size: int = 64
    search_every_draw: bool = False

    def __post_init__(self):
        if not self.lrs or not self.dropouts or min(self.lrs) <= 0:
            raise ProbeError(
                "Expected non-empty `lrs` (> 0) and `dropouts` for the supervised grid."
            )
        if any(not 0 <= d < 1 for d in self.dropouts):
            raise ProbeError(f"Expected dropouts in [0, 1). Received: dropouts={self.dropouts}")
        for name in ("max_epochs", "eval_every", "patience", "batch_size"):
            if getattr(self, name) < 1:
                raise ProbeError(f"Expected `{name}` >= 1. Received: {name}={getattr(self, name)}")

    def to_dict(self):
        return dataclasses.asdict(self)


def build_supervised_baseline(model_cfg, num_classes, dropout=0.0):
    """The discriminator's architecture with its logit replaced by a softmax head (logits out).

    Same conv widths, depth, batch norm and LeakyReLU as `build_discriminator`; the flattened
    last conv block feeds dropout and a `Dense(num_classes)`.
    """
    body = build_discriminator(model_cfg)
    x = body.get_layer("flatten").output
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    logits = keras.layers.Dense(num_classes, dtype="float32", name="classes")(x)
    return keras.Model(body.input, logits, name="supervised_discriminator")


def _error(model, x, y, train_x=None):
    if train_x is not None:
        # Moving batch-norm statistics lag after the few steps of a small labelled set: use
        # the statistics of the labelled set under the current weights (no gradient step).

        recalibrate_batchnorm(model, (train_x[i:i + 250] for i in range(0, len(train_x), 250)))
    logits = model.predict(x, batch_size=500, verbose=0)
    return float(np.mean(np.argmax(logits, axis=1) != y))


def _fit(model_cfg, num_classes, hparams, data, sup, seed, select=True):
    """Trains one classifier with `hparams` (`{"lr", "dropout", "epochs"}`, a report's
    `hparams`); with `select`, keeps the epoch with the lowest validation error."""
    x, y, val_x, val_y = data
    epochs = hparams["epochs"]
    keras.utils.set_random_seed(seed)
    model = build_supervised_baseline(model_cfg, num_classes, hparams["dropout"])
    model.compile(
        optimizer=keras.optimizers.Adam(hparams["lr"]),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    if not select:
        model.fit(x, y, batch_size=sup.batch_size, epochs=epochs, verbose=0, shuffle=True)
        return model, _error(model, val_x, val_y, x), epochs
    best, done, stale = (np.inf, None, 0), 0, 0
    while done < epochs and stale < sup.patience:
        step = min(sup.eval_every, epochs - done)
        model.fit(x, y, batch_size=sup.batch_size, initial_epoch=done, epochs=done + step,
                  verbose=0, shuffle=True)
        done += step
        error = _error(model, val_x, val_y, x)
        if error < best[0]:
            best, stale = (error, model.get_weights(), done), 0
        else:
            stale += 1
    model.set_weights(best[1])
    return model, best[0], best[2]


def supervised_baseline(dataset, data_dir=None, model_cfg=None, cfg=ProbeConfig(),
                        sup=SupervisedConfig(), progress=False, notes=()):
    """Trains the discriminator's architecture from scratch on each labelled draw.

    Uses the same validation set and labelled draws as the SVM probe (`split_protocol`), the
    same [-1, 1] images at the model's size as training, and picks (lr, dropout, epochs) by
    validation error; the chosen network is scored on the full test split.

    Args:
        dataset: One of `dcgan_tf.probe.run.PROBE_DATASETS`.
        data_dir: The dataset's files.
        model_cfg: The architecture; `None` for the dataset's default shape.
        cfg: A `ProbeConfig` (sizes, repeats, seed).
        sup: The grid and training budget.
        progress: Show a progress bar over the draws.
        notes: Notes to carry into the report.

    Returns:
        A report with the same keys as `dcgan_tf.probe.run.run_probe`; each draw has `hparams`.
    """
    start = time.perf_counter()
    notes = list(notes)
    if model_cfg is None:
        model_cfg, note = model_config_of(None, dataset, data_dir)
        notes.append(note)
    train, test = load_labelled(dataset, data_dir)
    draws, split_notes = split_protocol(train.labels, train.num_classes, cfg)
    notes += split_notes
    if draws[0].refit_on_all:
        raise ProbeError(
            "The supervised baseline needs a labelled subset: use --labels N, not all."
        )

    def pixels(images):
        prepared = prepare_images(images, model_cfg.image_size, model_cfg.channels)
        return prepared.astype(np.float32) / 127.5 - 1.0  # as in training: [-1, 1]

    val_idx = draws[0].validation
    val_x, val_y = pixels(train.images[val_idx]), train.labels[val_idx]
    test_x, test_y = pixels(test.images), test.labels
    loaded = time.perf_counter()

    grid = list(itertools.product(sup.lrs, sup.dropouts))
    chosen, results = None, []
    for k, draw in enumerate(tqdm(draws, desc="supervised draws", unit="draw",
                                  disable=not progress)):
        t0 = time.perf_counter()
        data = (pixels(train.images[draw.labelled]), train.labels[draw.labelled], val_x, val_y)
        seed = cfg.seed + k
        if sup.search_every_draw or chosen is None:
            search, best = [], None
            for lr, dropout in grid:
                trial = {"lr": lr, "dropout": dropout, "epochs": sup.max_epochs}
                model, error, epochs = _fit(model_cfg, train.num_classes, trial, data, sup, seed)
                search.append({"lr": lr, "dropout": dropout, "epochs": epochs, "val_error": error})
                if best is None or error < best[1]:
                    best = (model, error, {"lr": lr, "dropout": dropout, "epochs": epochs})
            model, val_error, chosen = best
        else:
            search = []
            model, val_error, _ = _fit(model_cfg, train.num_classes, chosen, data, sup, seed,
                                       select=False)
        test_error = _error(model, test_x, test_y)
        results.append({
            "draw": k, "hparams": dict(chosen), "val_error": val_error, "test_error": test_error,
            "accuracy": 1.0 - test_error, "search": search,
            "seconds": round(time.perf_counter() - t0, 3),
        })
    result = summarise(results)
    result.update({
        "draws": results,
        "sizes": {"train": len(train), "test": len(test), "validation": int(len(val_idx)),
                  "labelled": int(len(draws[0].labelled))},
        "notes": notes,
    })
    head_dim = 16 * model_cfg.ndf * 2 ** (model_cfg.num_blocks - 1)
    classifier = (f"the discriminator's architecture ({model_cfg.num_blocks} stride-2 conv blocks "
                  f"from width {model_cfg.ndf}) with dropout and a softmax head, Adam, trained "
                  f"from scratch; (lr, dropout, epochs) from {sup.to_dict()} by validation error")
    about = {"method": "supervised", "model": None, "dataset": dataset, "data_dir": data_dir,
             "num_classes": int(train.num_classes), "feature_dim": head_dim, "metadata": {}}
    return _report(
        about, result, cfg,
        {"load_data_s": loaded - start, "train_s": time.perf_counter() - loaded,
         "total_s": time.perf_counter() - start},
        classifier=classifier,
        extra={"supervised": sup.to_dict(), "architecture": model_cfg.to_dict()},
    )


def run_baseline(name, model, dataset, data_dir=None, cfg=ProbeConfig(), sup=SupervisedConfig(),
                 progress=False):
    """Runs baseline `name` (`"random"`, `"pixels"` or `"supervised"`) like `run_probe`.

    Args:
        name: One of `BASELINES`.
        model: The probed SavedModel, whose architecture `random` and `supervised` copy; `None`
            for the dataset's default architecture.
        dataset, data_dir, cfg, progress: As for `dcgan_tf.probe.run.run_probe`.
        sup: The supervised baseline's grid.

    Returns:
        The report dict; `baseline_of` names `model` and `model_metadata` holds its metadata.
    """
    if name not in BASELINES:
        raise ProbeError(f"Unknown baseline {name!r}. Expected one of: {', '.join(BASELINES)}.")
    model = resolve_savedmodel(model) if model is not None else None
    if name == "pixels":
        report = run_probe(PIXELS, dataset, data_dir, cfg, progress)
    else:
        model_cfg, note = model_config_of(model, dataset, data_dir)
        notes = [note] if note else []
        if name == "supervised":
            report = supervised_baseline(dataset, data_dir, model_cfg, cfg, sup, progress, notes)
        else:
            t0 = time.perf_counter()
            features = read_metadata(model).get("features") if model is not None else None
            path = random_savedmodel(model_cfg, cfg.cache_dir, cfg.seed, dataset, features)
            export_s = time.perf_counter() - t0
            report = run_probe(path, dataset, data_dir, cfg, progress, method="random")
            report["notes"] = notes + report["notes"]
            report["timings"]["export_s"] = round(export_s, 3)
    report["baseline_of"] = model
    report["model_metadata"] = read_metadata(model) if model is not None else {}
    return report
