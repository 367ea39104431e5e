"""Exporting a run as a TF Serving SavedModel version, written atomically.

The exported object is a `tf.Module` with a `tf.function` per signature, each with an explicit
input signature so names and dtypes survive (`tf.saved_model.save` on a Keras 3 model loses
them, keras #19458). It tracks the networks' raw `tf.Variable`s, once each, and not the Keras
models: a Keras 3 variable saves as a second variable beside the one the functions read, which
doubles `variables/` (what `ExportArchive.track` does, keras #23553) and, tracked alone, leaves
the functions' variables uninitialised in session-based loaders such as TF Serving and
`saved_model_cli run` (keras #20095). All signatures run batch norm in inference mode.
"""

import dataclasses
import datetime
import json
import logging
import os
import re
import shutil

import keras
import tensorflow as tf

from dcgan_tf import atomic, locks, paths
from dcgan_tf import __version__
from dcgan_tf.atomic import disk_full, is_disk_full
from dcgan_tf.config import SERVING_PRECISIONS, FeatureConfig
from dcgan_tf.contract import (
    CONTRACT_VERSION, GENERATE, METADATA_ASSET, OPTIONAL_SIGNATURES, SIGNATURES, signature_contract,
)
from dcgan_tf.data.crop import crop_tensor
from dcgan_tf.export import keras_files, model_card, serving_config
from dcgan_tf.export.config import ExportConfig
from dcgan_tf.export.folded_generator import FoldedGenerator
from dcgan_tf.latent_z import z_from_seed
from dcgan_tf.training import checkpoint
from dcgan_tf.training.models import (
    build_feature_model, extract_features, feature_dim, feature_views, semi_classifier,
)
from dcgan_tf.versions import list_versions  # noqa: F401  (re-exported)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # Whole string (`fullmatch`): no newline.
# Names that are files of the base path, not models.
_RESERVED = (serving_config.FILENAME,)
_TMP_TAG = "export"  # Temporary versions: `.tmp-export-<pid>-...` (`atomic.temp_dir`).
MAX_VERSION = 2**63 - 1  # TF Serving's versions are int64.
# File systems allow 255 bytes per name; the portable sibling adds its suffix.
MAX_NAME = 200
_PORTABLE_SUFFIX = "-portable"

logger = logging.getLogger("dcgan_tf")


class ExportError(ValueError):
    """An export that cannot be written as asked (bad name, existing version, ...)."""


def _to_pixels(images):
    # Same mapping as `dcgan_tf.images.to_uint8`: round((x + 1) * 127.5), clipped.
    return tf.saturate_cast(tf.round((images + 1.0) * 127.5), tf.uint8)


def _model_input(images, cfg):
    """Brings uint8 images (N, h, w, c), c in {1, 3}, to the model's input in [-1, 1].

    Mirrors the training pipeline (`dcgan_tf.data.datasets`): centre-crop to a square, RGB to grey by
    luminance, bilinear resize (antialiased when shrinking), round to uint8, grey to RGB by
    repetition, then x / 127.5 - 1.
    """
    # Rank 4, checked without reading dims that a rank-3 feed lacks (TF Serving does not check
    # a feed against the signature's shape), and without the static rank the graph optimiser
    # would fold: the first 4 dims of the shape padded with zeros cover every element only at
    # rank 4 (for a non-empty batch).
    first_four = tf.pad(tf.shape(images, out_type=tf.int64), [[0, 4]])[:4]
    rank_check = tf.debugging.assert_equal(
        tf.reduce_prod(first_four), tf.size(images, out_type=tf.int64),
        message="Expected `images` of rank 4: [N, height, width, channels]",
    )
    with tf.control_dependencies([rank_check]):
        shape = tf.shape(images)
        height, width, channels = shape[1], shape[2], shape[3]
    checks = [
        tf.debugging.assert_equal(
            tf.logical_or(tf.equal(channels, 1), tf.equal(channels, 3)), True,
            message="Expected `images` with 1 (grey) or 3 (RGB) channels",
        ),
        tf.debugging.assert_positive(
            tf.minimum(height, width), message="Expected `images` of non-zero height and width"
        ),
    ]
    with tf.control_dependencies(checks):
        x, side = crop_tensor(images)
        x = tf.cast(x, tf.float32)
    if cfg.channels == 1:
        x = tf.cond(
            tf.equal(channels, 3),
            lambda: tf.image.rgb_to_grayscale(tf.ensure_shape(x, [None, None, None, 3])),
            lambda: x[..., :1],
        )
    size = cfg.image_size

    def resize(antialias):
        resized = tf.image.resize(x, (size, size), method="bilinear", antialias=antialias)
        return tf.round(resized)

    x = tf.case(
        [(tf.equal(side, size), lambda: x), (side > size, lambda: resize(True))],
        default=lambda: resize(False),
    )
    x = tf.clip_by_value(x, 0.0, 255.0)
    if cfg.channels == 3:
        x = tf.cond(tf.equal(channels, 1), lambda: tf.tile(x[..., :1], [1, 1, 1, 3]), lambda: x)
    x = tf.ensure_shape(x, [None, size, size, cfg.channels])
    return x / 127.5 - 1.0


def _checked_z(z, z_dim):
    """`z` after in-graph checks of its width and values, whose messages TF Serving returns.

    A session-based server does not check a fed tensor against the signature's shape, so a
    wrong width would otherwise surface as MatMul's error, and a NaN as black images.
    """
    # Size against rows x z_dim, not the static width, which the graph optimiser would fold.
    rows = tf.shape(z, out_type=tf.int64)[0]
    checks = [
        tf.debugging.assert_equal(
            tf.size(z, out_type=tf.int64), rows * z_dim,
            message=f"Expected `z` of shape [N, {z_dim}] (z_dim={z_dim})",
        ),
        tf.debugging.assert_all_finite(z, "Expected `z` of finite values (no NaN or inf)"),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(z)


def _spec(signature, name, shape):
    """The input's `TensorSpec`, dtype from the contract; its name becomes the input's name."""
    return tf.TensorSpec(shape, tf.as_dtype(signature_contract(signature)["inputs"][name]),
                         name=name)


def _raw(variable):
    # A Keras 3 variable wraps the `tf.Variable` that traced functions capture.
    raw = getattr(variable, "value", variable)
    if not isinstance(raw, tf.Variable):
        raise ExportError(f"Expected a TensorFlow-backed variable. Received: {type(raw).__name__}")
    return raw


def build_servable(generator, discriminator, cfg, metadata, jit=False, features=None,
                   precision="fp32"):
    """Builds the `tf.Module` that is saved: each variable once, one `tf.function` per signature.

    The generator is served as `FoldedGenerator` (batch norm folded into the weights, small
    transposed convolutions as matmuls): the same function as the Keras generator in
    inference mode, several times faster at small batches.

    Args:
        generator: The Keras generator, z (z_dim,) -> image in [-1, 1].
        discriminator: The Keras discriminator, image -> one logit.
        cfg: The run's `ModelConfig`.
        metadata: JSON-serialisable dict returned by the `metadata` signature.
        jit: Compile the generating signatures with XLA (faster on this CPU at 32x32; TF
            Serving then needs `--xla_cpu_compilation_enabled=true`). Defaults to `False`.
        features: `FeatureConfig` of the `features` signature (layers, pooling, pre- or
            post-activation, mirror averaging). Defaults to the paper's.
        precision: The generating signatures' compute dtype, `"fp32"` or `"bf16"` (see
            `FoldedGenerator`); their inputs and outputs are float32 either way, and D's
            signatures stay float32. Defaults to `"fp32"`.

    Returns:
        `(servable, signatures)`: a `tf.Module` holding the lists `generator_variables` and
        `discriminator_variables` and one `tf.function` per signature; and the dict of
        `dcgan_tf.contract.SIGNATURES` names to those functions, for `tf.saved_model.save`,
        with `classify` too when D is a semi-supervised classifier (`cfg.labels`).
    """
    servable = tf.Module(name="dcgan")
    servable.generator = FoldedGenerator(generator, precision)
    servable.discriminator_variables = [_raw(v) for v in discriminator.variables]
    features_cfg = features or FeatureConfig()
    # A functional view over D's layers: it shares their variables, and stays untracked.
    feature_model = build_feature_model(discriminator, cfg, features_cfg)
    width = feature_dim(cfg, features_cfg)
    metadata_json = json.dumps(metadata, sort_keys=True)

    @tf.function(jit_compile=jit)
    def generate_images(z):
        images = servable.generator(z)
        return {"images": images, "pixels": _to_pixels(images)}

    @tf.function(input_signature=[_spec(GENERATE, "z", [None, cfg.z_dim])])
    def generate(z):
        return generate_images(_checked_z(z, cfg.z_dim))

    @tf.function(input_signature=[_spec("sample", "seed", [None])])
    def sample(seed):
        z = tf.map_fn(lambda s: z_from_seed(s, cfg.z_dim, cfg.z_dist), seed, fn_output_signature=tf.TensorSpec([cfg.z_dim], tf.float32))
        return {"z": z, **generate_images(z)}

    def unless_empty(images, compute, empty):
        # An empty batch gives empty outputs, as the generating signatures do (D's
        # convolutions fail on N = 0).
        return tf.cond(tf.shape(images)[0] > 0, lambda: compute(images), lambda: empty)

    @tf.function(input_signature=[_spec("discriminate", "images", [None, None, None, None])])
    def discriminate(images):
        def logits_of(x):
            logits = tf.cast(discriminator(_model_input(x, cfg), training=False), tf.float32)
            return tf.reshape(logits, [-1])

        logits = unless_empty(images, logits_of, tf.zeros([0], tf.float32))
        return {"logits": logits, "probability": tf.sigmoid(logits)}

    @tf.function(input_signature=[_spec("features", "images", [None, None, None, None])])
    def features(images):
        def features_of(x):
            pooled = extract_features(feature_model, _model_input(x, cfg), features_cfg)
            return tf.cast(pooled, tf.float32)

        pooled = unless_empty(images, features_of, tf.zeros([0, width], tf.float32))
        return {"features": tf.ensure_shape(pooled, [None, width])}

    @tf.function(input_signature=[_spec("metadata", "request", [None])])
    def metadata_fn(request):
        return {"metadata": tf.fill(tf.shape(request), tf.constant(metadata_json))}

    servable.generate = generate
    servable.sample = sample
    servable.discriminate = discriminate
    servable.features = features
    servable.metadata = metadata_fn
    signatures = {
        GENERATE: generate, "sample": sample, "discriminate": discriminate,
        "features": features, "metadata": metadata_fn,
    }
    if cfg.semi_supervised:
        classifier = semi_classifier(discriminator)

        classes = cfg.label_classes

        @tf.function(input_signature=[_spec("classify", "images", [None, None, None, None])])
        def classify(images):
            # The class probabilities averaged over the views the features read (the image,
            # its shifts and mirrors per `features_cfg`), in one call of D.
            def probabilities_of(x):
                views = feature_views(_model_input(x, cfg), features_cfg)
                logits = tf.cast(classifier(tf.concat(views, axis=0), training=False), tf.float32)
                logits = tf.reshape(logits, [len(views), -1, classes])
                return tf.reduce_mean(tf.nn.softmax(logits), axis=0)

            probabilities = unless_empty(images, probabilities_of, tf.zeros([0, classes]))
            return {"probabilities": probabilities,
                    "classes": tf.argmax(probabilities, axis=-1, output_type=tf.int64)}

        servable.classify = classify
        signatures["classify"] = classify
    return servable, signatures


def weights_bytes(generator, discriminator):
    """Bytes of the two networks' variables: what `variables/` should be close to."""
    return int(sum(v.numpy().nbytes for v in [*generator.variables, *discriminator.variables]))


def directory_bytes(path):
    """Total size of the files under `path`."""
    return sum(
        os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files
    )


def _check_name(name):
    if isinstance(name, str) and len(name) > MAX_NAME:
        raise ExportError(
            f"Expected `name` of at most {MAX_NAME} characters (a directory name, beside its "
            f"'{_PORTABLE_SUFFIX}' sibling). Received: a name of {len(name)} characters")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ExportError(
            "Expected `name` to be letters, digits, '_', '.' or '-', not starting with '.' or "
            f"'-'. Received: name={name!r}"
        )
    if name in _RESERVED:
        raise ExportError(
            f"Expected `name` to be a model name, not {name!r}: that is a file of the base path."
        )
    return name


def _check_base_path(base_path, name):
    """Refuses a base path inside a run (its checkpoint pruning would delete exports), links
    resolved, or one where `name` is a file."""
    try:
        paths.check_outside_runs(base_path, "--base-path")
    except ValueError as e:
        raise ExportError(str(e)) from None
    target = os.path.join(base_path, name)
    if os.path.exists(target) and not os.path.isdir(target):
        raise ExportError(f"{target} is a file, not a model directory: pick another --name.")


def _default_name(run_dir):
    base = os.path.basename(os.path.normpath(os.path.abspath(run_dir)))
    return re.sub(r"[^A-Za-z0-9_.-]", "_", base).lstrip(".-") or "dcgan"


def model_name(run_dir, name=None):
    """The checked model name: `name`, or the run directory's own name when it is `None`.

    Raises:
        ExportError: a name TF Serving's layout cannot hold.
    """
    return _check_name(name if name is not None else _default_name(run_dir))


def _remove_stale(model_dir):
    """Finishes or undoes overwrites whose process was killed, and deletes the temporary
    directories of exports whose process is gone (call under the model's lock)."""
    def note(path):
        logger.warning("Restored version %s of %s, whose --overwrite was killed before the "
                       "new version was in place.", os.path.basename(path), model_dir)

    atomic.recover_dirs(model_dir, on_restore=note)


def _check_version(version):
    if version is None:
        return None
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= MAX_VERSION:
        raise ExportError(
            f"Expected `version` to be an integer in [1, {MAX_VERSION}] (TF Serving's int64). "
            f"Received: version={version!r}"
        )
    return version


def _choose_version(model_dir, version, overwrite):
    existing = list_versions(model_dir)
    if version is None:
        # After the newest, never into a gap: TF Serving serves the highest version.
        following = (existing[-1] + 1) if existing else 1
        if following > MAX_VERSION:
            raise ExportError(
                f"{model_dir} already holds version {existing[-1]}, TF Serving's largest (int64): "
                "pass --version with a free number, or export under another --name."
            )
        return following
    _check_version(version)
    if version in existing and not overwrite:
        following = existing[-1] + 1
        raise ExportError(
            f"{os.path.join(model_dir, str(version))} already exists. Pass --overwrite to "
            f"replace it, or leave out --version to write the next one ({following})."
        )
    return version


def _publish(tmp, final, overwrite):
    """Moves the finished export into place (`atomic.publish_dir`): TF Serving may see a
    replaced version vanish for an instant, never half-written."""
    try:
        atomic.publish_dir(tmp, final, overwrite=overwrite)
    except FileExistsError as e:
        raise ExportError(str(e)) from None
    except OSError as e:
        if is_disk_full(e):
            raise
        raise ExportError(f"Could not move the export into {final}: {e}") from e


def build_metadata(model_cfg, train_cfg, meta, name, version, weights, features=None,
                   generator="raw"):
    """The export's self-description: enough for a consumer to need no side files.

    `features` (a `FeatureConfig`, the paper's by default) is what the `features` signature
    computes; `feature_dim` is its width. A semi-supervised run's export also records its
    `labelled_subset` (labels, seed, validation size, classes), and one serving the averaged
    generator says `"generator": "ema"`.
    """
    features = features or FeatureConfig()

    optional, extra = {}, {}
    if model_cfg.semi_supervised:
        optional = {"classify": OPTIONAL_SIGNATURES["classify"]}
        # What the classifier was trained on: the probe's draw 0 for these settings.
        extra["labelled_subset"] = {"labels": model_cfg.labels, "seed": model_cfg.label_seed,
                                    "validation": model_cfg.label_validation,
                                    "classes": model_cfg.label_classes}
    if generator != "raw":
        extra["generator"] = generator
    train = {k: v for k, v in train_cfg.to_dict().items() if k not in ("out", "data_dir")}
    return {
        "contract": CONTRACT_VERSION,
        "name": name,
        "version": version,
        "dcgan_tf_version": __version__,
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "image_size": model_cfg.image_size,
        "channels": model_cfg.channels,
        "z_dim": model_cfg.z_dim,
        "z_dist": model_cfg.z_dist,
        "dataset": train_cfg.dataset,
        "step": int(meta["step"]),
        "epoch": int(meta["epoch"]),
        "checkpoint": os.path.basename(meta["path"]),
        "metrics": meta.get("metrics", {}),
        "feature_dim": feature_dim(model_cfg, features),
        "features": features.to_dict(),
        "recipe": train_cfg.recipe,
        "segments": meta.get("segments", []),
        "weights_bytes": weights,
        "model": model_cfg.to_dict(),
        "train": train,
        "signatures": {k: {"inputs": v["inputs"], "outputs": v["outputs"]}
                       for k, v in {**SIGNATURES, **optional}.items()},
        **extra,
    }


def export_savedmodel(run_dir, base_path="savedmodels", name=None, version=None,
                      config=ExportConfig(), before_publish=None):
    """Exports a run's checkpoint as `BASE/NAME/VERSION/` and lists it in `BASE/models.config`.

    The SavedModel is written into a hidden temporary directory beside the versions (TF
    Serving ignores names that are not integers) and renamed into place once complete.

    Args:
        run_dir: A `dcgan-tf train` output directory.
        base_path: TF Serving's model base path. Defaults to `"savedmodels"`.
        name: Model name (directory under `base_path`). Defaults to the run directory's name.
        version: Version number; `None` writes the one after the newest.
        config: An `ExportConfig`: the checkpoint, `overwrite`, the generator, the
            `features` read-out, XLA, the serving precision and `serving_root`. Defaults
            to `ExportConfig()`.
        before_publish: Called with the chosen version once the SavedModel is written and
            before it is published, under the model's lock (the portable formats of the same
            version are written there); if it raises, nothing is published. Defaults to `None`.

    Returns:
        The path of the new version directory.

    Raises:
        ExportError: bad name or version, an existing version without `overwrite`, or an
            unreadable `models.config`.
        ValueError: on a `features` choice that is invalid or names a missing block.
        checkpoint.CheckpointError: not a run directory, or no such checkpoint.
    """
    name = model_name(run_dir, name)
    if config.precision not in SERVING_PRECISIONS:
        raise ExportError(
            f"Unknown precision {config.precision!r}: expected one of "
            f"{', '.join(SERVING_PRECISIONS)}"
        )
    model_dir = os.path.join(base_path, name)
    _check_version(version)
    _check_base_path(base_path, name)
    # Before the slow part: a destination that cannot take the version fails now.
    atomic.check_dir_writable(model_dir, _export_bytes(run_dir))
    listed = serving_config.read(base_path)  # Fail before the slow part on a broken file.
    repair(base_path, listed)
    model_cfg, _ = checkpoint.read_run_config(run_dir)
    if model_cfg.num_classes:
        raise ExportError(
            f"{run_dir} holds a class-conditional model (num_classes={model_cfg.num_classes}); "
            f"SavedModel contract {CONTRACT_VERSION} covers unconditional models only."
        )
    feature_cfg = dataclasses.replace(checkpoint.read_feature_config(run_dir),
                                      **(config.features or {}))
    feature_cfg.block_indices(model_cfg.num_blocks)  # Fail on a missing block before the slow part.
    if config.generator not in checkpoint.GENERATORS:
        raise ExportError(f"Expected `generator` in {checkpoint.GENERATORS}. Received: "
                          f"generator={config.generator!r}")
    # One exporter per model: the version is chosen and published under the lock, so two
    # exports never pick the same number and none replaces a version unasked.
    try:
        with locks.hold(model_dir, "dcgan-tf export"):
            final = _export_locked(run_dir, model_dir, name, version, config, feature_cfg,
                                   before_publish)
        with locks.hold(base_path, "dcgan-tf export (models.config)", wait=True):
            listed = serving_config.read(base_path)  # Again: another export may have added one.
            serving_config.write(base_path, listed, serving_root=config.serving_root)
    except Exception as e:
        if not is_disk_full(e):
            raise
        # One line instead of TensorFlow's; no half version was published (`_export_locked`).
        raise disk_full(model_dir, _export_bytes(run_dir)) from None
    return final


def _export_bytes(run_dir):
    """About the bytes an export of `run_dir` needs: its networks' share of a checkpoint."""
    found = checkpoint.list_checkpoints(run_dir)
    if not found:
        return None
    # Weights without the optimizers' two Adam slots each: a third of the checkpoint, plus the graph.
    state = sum(e.stat().st_size for e in os.scandir(found[-1][1]) if e.is_file())
    return state // 3 + 2_000_000


def repair(base_path, config=None):
    """Brings a base path back to a consistent state after kills: overwrites finished or
    undone (`atomic.recover_dirs`), and `models.config` listing every published model.

    Every export calls it first, so a kill right after publishing a version never leaves it
    out of `models.config` beyond the next export. Models another export is writing (their
    lock is held) are left to it.

    Args:
        base_path: TF Serving's model base path.
        config: `models.config` as read (`serving_config.read`); read now when `None`.

    Returns:
        The names of the models `models.config` lacked (now added).
    """
    if not os.path.isdir(base_path):
        return []
    config = serving_config.read(base_path) if config is None else config
    missing = []
    for name in sorted(os.listdir(base_path)):
        model_dir = os.path.join(base_path, name)
        if name.startswith(".") or not os.path.isdir(model_dir):
            continue
        journals = any(e.startswith(atomic.JOURNAL_PREFIX) for e in os.listdir(model_dir))
        if not journals and (name in config or not list_versions(model_dir, loadable=True)):
            continue
        try:
            with locks.hold(model_dir, "dcgan-tf export (repair)"):
                _remove_stale(model_dir)
                if name not in config and list_versions(model_dir, loadable=True):
                    missing.append(name)
        except locks.LockError:
            continue  # A live export: it lists its model itself.
    if missing:
        with locks.hold(base_path, "dcgan-tf export (models.config)", wait=True):
            serving_config.write(base_path)
        logger.warning("Added %s to %s: a killed export had published without listing it.",
                       ", ".join(missing), serving_config.config_path(base_path))
    return missing


def _export_locked(run_dir, model_dir, name, version, config, feature_cfg, before_publish=None):
    """Chooses the version, writes the SavedModel and publishes it; the caller holds the lock."""
    if os.path.isdir(model_dir):
        _remove_stale(model_dir)
    version = _choose_version(model_dir, version, config.overwrite)
    final = os.path.join(model_dir, str(version))

    model_cfg, train_cfg, generator, discriminator, meta = checkpoint.load_networks(
        run_dir, config.which, config.generator
    )
    metadata = build_metadata(
        model_cfg, train_cfg, meta, name, version, weights_bytes(generator, discriminator),
        feature_cfg, config.generator,
    )
    metadata["jit"] = bool(config.jit)
    metadata["serving_precision"] = config.precision
    servable, signatures = build_servable(
        generator, discriminator, model_cfg, metadata, config.jit, feature_cfg, config.precision
    )
    tmp = atomic.temp_dir(model_dir, _TMP_TAG)
    try:
        tf.saved_model.save(servable, tmp, signatures=signatures)
        asset = os.path.join(tmp, METADATA_ASSET)
        os.makedirs(os.path.dirname(asset), exist_ok=True)
        with open(asset, "w", encoding="utf-8") as f:
            json.dump(metadata, f, indent=2, sort_keys=True)
            f.write("\n")
        keras_files.write(tmp, generator, discriminator, model_cfg)
        model_card.write(tmp, metadata, run_dir, model_dir)
        if before_publish is not None:
            before_publish(version)
        _publish(tmp, final, config.overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
