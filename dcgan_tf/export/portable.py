"""Exporting a run's checkpoint as TFLite, ONNX and a static web page, beside its SavedModel.

The artifacts go to `BASE/NAME-portable/VERSION/{tflite,onnx,web}/`: a sibling of the TF
Serving model directory `BASE/NAME/`, which keeps only integer SavedModel versions (TF Serving
and `models.config` list only directories holding `saved_model.pb`, so the sibling is never
served). VERSION is the SavedModel version exported with it, when there is one. The whole
version directory is written into a hidden temporary directory beside it and renamed into
place (`atomic.publish_dir`), so a kill at any moment leaves no half version; the next export
deletes what a killed one left. Each format directory holds `contract.json`: inputs, outputs,
shapes, dtypes, ranges, the z distribution and the run and checkpoint it came from.
"""

import dataclasses
import os
import shutil

from dcgan_tf import __version__, atomic, paths
from dcgan_tf.config import FeatureConfig
from dcgan_tf.export import portable_graph, tflite, web
from dcgan_tf.training import checkpoint
from dcgan_tf.training.models import feature_dim
from dcgan_tf.versions import list_versions

PORTABLE_FORMATS = ("tflite", "onnx", "web")
FORMATS = ("savedmodel", *PORTABLE_FORMATS)
SUFFIX = "-portable"
_EXTENSIONS = {"tflite": "tflite", "onnx": "onnx"}
# The generator's batch per format: TFLite's takes one z per call (see `portable_graph`).
GENERATOR_BATCH = {"tflite": 1, "onnx": None, "web": None}


def parse_formats(text):
    """`"tflite,onnx"` -> `("tflite", "onnx")`, in `FORMATS` order, duplicates dropped.

    Raises:
        ValueError: on an empty list or an unknown format.
    """
    names = [n.strip() for n in str(text).split(",") if n.strip()]
    unknown = [n for n in names if n not in FORMATS]
    if not names or unknown:
        raise ValueError(f"Expected `format` to be a comma list of {', '.join(FORMATS)}. "
                         f"Received: format={text!r}")
    return tuple(f for f in FORMATS if f in names)


def portable_dir(base_path, name, version):
    """`BASE/NAME-portable/VERSION`: where a SavedModel version's portable formats go."""
    return os.path.join(base_path, f"{name}{SUFFIX}", str(version))


def next_version(base_path, name):
    """One after the newest version of either `BASE/NAME` or `BASE/NAME-portable`."""
    existing = list_versions(os.path.join(base_path, name)) + list_versions(
        os.path.join(base_path, f"{name}{SUFFIX}"))
    return max(existing, default=0) + 1


def contract(model_cfg, train_cfg, feature_cfg, meta, run_dir, fmt, exporter, files):
    """The `contract.json` of one format directory.

    Args:
        model_cfg: The run's `ModelConfig`.
        train_cfg: The `TrainConfig` that trained the checkpoint.
        feature_cfg: The read-out's `FeatureConfig`.
        meta: The checkpoint's metadata from `checkpoint.load_networks`.
        run_dir: The run directory.
        fmt: `"tflite"`, `"onnx"` or `"web"`.
        exporter: Which converter wrote the models.
        files: `{model name: file name}` of the models in the directory.
    """

    width = feature_dim(model_cfg, feature_cfg)
    models = portable_graph.io_contract(model_cfg, width, GENERATOR_BATCH[fmt])
    z = ({"distribution": "uniform", "low": -1.0, "high": 1.0} if model_cfg.z_dist == "uniform"
         else {"distribution": "normal", "mean": 0.0, "std": 1.0})
    return {
        "format": fmt,
        "exporter": exporter,
        "models": {name: {"file": files[name], **models[name]} for name in files},
        "z_dim": model_cfg.z_dim,
        "z_dist": model_cfg.z_dist,
        "z": {**z, "seeded": "dcgan_tf.export.portable_z / portable_z.js (mulberry32), "
                             "not the SavedModel's Philox `sample`"},
        "z_check": "none in the graph: a NaN or inf z gives NaN images. Check z first with "
                   "dcgan_tf.export.portable_runtime.check_z (Python) or checkZ (portable_z.js).",
        "image_size": model_cfg.image_size,
        "channels": model_cfg.channels,
        "feature_dim": width,
        "features": feature_cfg.to_dict(),
        "dataset": train_cfg.dataset,
        "run": os.path.abspath(run_dir),
        "checkpoint": os.path.basename(meta["path"]),
        "step": int(meta["step"]),
        "epoch": int(meta["epoch"]),
        "dcgan_tf_version": __version__,
    }


def _convert(module, fmt, workdir, cache):
    """`{model name: bytes}` of `fmt`'s models; ONNX bytes are shared by `onnx` and `web`."""
    if fmt == "tflite":

        out = {}
        for name, function in portable_graph.functions(module, GENERATOR_BATCH["tflite"]).items():
            saved = portable_graph.save_function(module, function, os.path.join(workdir, name))
            out[name] = tflite.convert(saved)
        return out, tflite.EXPORTER
    from dcgan_tf.export import onnx as onnx_export

    names = list(portable_graph.functions(module)) if fmt == "onnx" else [portable_graph.GENERATOR]
    for name in names:
        if name not in cache:
            cache[name] = onnx_export.convert(portable_graph.functions(module)[name])
    exporter = onnx_export.EXPORTER
    if fmt == "web":

        exporter += f"; runtime onnxruntime-web {web.runtime_version()} (wasm)"
    return {name: cache[name] for name in names}, exporter


_TMP_TAG = "portable"  # Temporary versions: `.tmp-portable-<pid>-...` (`atomic.temp_dir`).
_WEB_RUNTIME_BYTES = 15_000_000  # The unpacked onnxruntime-web wasm build (`web.py`).


def needed_bytes(run_dir, formats):
    """About the bytes `formats` need on disk: the networks' weights per format (a third of
    the newest checkpoint, the rest being Adam's slots), plus the web page's runtime."""
    found = checkpoint.list_checkpoints(run_dir)
    if not found:
        return None
    state = sum(e.stat().st_size for e in os.scandir(found[-1][1]) if e.is_file())
    return len(formats) * (state // 3 + 1_000_000) + (_WEB_RUNTIME_BYTES if "web" in formats else 0)


def check_destination(run_dir, out_dir, formats, overwrite=False):
    """Checks, before any work, that `out_dir` can take `formats`: outside runs (links
    resolved), a new directory or a portable version, no format replaced unasked, writable,
    with room for the files.

    Raises:
        ValueError: `out_dir` is inside a run, holds other files, or holds a format already
            (without `overwrite`).
        OSError: `out_dir` cannot be written or the disk lacks the space.
    """
    paths.check_outside_runs(out_dir, "the portable folder")
    if os.path.exists(out_dir):
        if not os.path.isdir(out_dir):
            raise ValueError(f"Expected the portable folder to be a directory. Received: {out_dir} (a file)")
        strange = [e for e in sorted(os.listdir(out_dir))
                   if not e.startswith(".") and e not in PORTABLE_FORMATS]
        if strange:
            raise ValueError(f"Expected the portable folder to be new or a portable export's: "
                             f"{out_dir} holds {strange[0]!r}. Pick an empty or new directory.")
        existing = [os.path.join(out_dir, f) for f in formats
                    if os.path.exists(os.path.join(out_dir, f))]
        if existing and not overwrite:
            raise ValueError(f"{existing[0]} already exists. Pass --overwrite to replace it.")
    atomic.check_dir_writable(out_dir, needed_bytes(run_dir, formats))
    return out_dir


def export_portable(run_dir, out_dir, formats=PORTABLE_FORMATS, which="last", features=None,
                    overwrite=False):
    """Writes `out_dir/<format>/` for each portable format from one checkpoint of a run.

    Args:
        run_dir: A `dcgan-tf train` output directory.
        out_dir: The directory to fill, e.g. `portable_dir(base, name, version)`.
        formats: Some of `PORTABLE_FORMATS`. Defaults to all.
        which: Checkpoint: `"last"`, `"best"` or a step number. Defaults to `"last"`.
        features: Dict of `FeatureConfig` fields overriding the run's recorded read-out, as
            `ExportConfig.features`.
        overwrite: Replace format directories that exist. Defaults to `False`.

    Returns:
        `{format: directory}` of what was written.

    Raises:
        ValueError: on an unknown format, an existing directory without `overwrite`, a
            conditional model, or a graph a converter cannot take whole.
        checkpoint.CheckpointError: not a run directory, or no such checkpoint.
    """
    unknown = [f for f in formats if f not in PORTABLE_FORMATS]
    if unknown or not formats:
        raise ValueError(f"Expected `formats` among {', '.join(PORTABLE_FORMATS)}. "
                         f"Received: formats={formats!r}")
    parent = os.path.dirname(os.path.abspath(out_dir))
    atomic.recover_dirs(parent, tag=_TMP_TAG)  # What a killed portable export left beside its versions.
    check_destination(run_dir, out_dir, formats, overwrite)
    model_cfg, _ = checkpoint.read_run_config(run_dir)
    if model_cfg.num_classes:
        raise ValueError(f"Expected an unconditional run (num_classes=0). Received: {run_dir} "
                         f"with num_classes={model_cfg.num_classes}")
    feature_cfg = dataclasses.replace(
        checkpoint.read_feature_config(run_dir) or FeatureConfig(), **(features or {}))
    feature_cfg.block_indices(model_cfg.num_blocks)
    model_cfg, train_cfg, generator, discriminator, meta = checkpoint.load_networks(run_dir, which)
    module = portable_graph.build_portable(generator, discriminator, model_cfg, feature_cfg)
    cache = {}
    tmp = atomic.temp_dir(parent, _TMP_TAG)
    try:
        workdir = os.path.join(tmp, ".work")
        for fmt in formats:
            models, exporter = _convert(module, fmt, os.path.join(workdir, fmt), cache)
            target = os.path.join(tmp, fmt)
            os.makedirs(target)
            if fmt == "web":
                web.write_page(target, models[portable_graph.GENERATOR])
                files = {portable_graph.GENERATOR: "generator.onnx"}
            else:
                files = {name: f"{name}.{_EXTENSIONS[fmt]}" for name in models}
                for name, data in models.items():
                    with open(os.path.join(target, files[name]), "wb") as f:
                        f.write(data)
            atomic.save_json(os.path.join(target, "contract.json"), contract(
                model_cfg, train_cfg, feature_cfg, meta, run_dir, fmt, exporter, files))
        shutil.rmtree(workdir, ignore_errors=True)
        # Formats of an existing version that this export does not replace stay in it.
        if os.path.isdir(out_dir):
            for fmt in sorted(os.listdir(out_dir)):
                if fmt in PORTABLE_FORMATS and fmt not in formats:
                    shutil.copytree(os.path.join(out_dir, fmt), os.path.join(tmp, fmt),
                                    symlinks=True)
        atomic.publish_dir(tmp, out_dir, overwrite=os.path.exists(out_dir))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    written = {fmt: os.path.join(out_dir, fmt) for fmt in formats}
    return written
