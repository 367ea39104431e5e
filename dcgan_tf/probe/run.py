"""The paper's representation-learning evaluation (section 5): a linear L2-SVM on D's features.

Features come from an exported SavedModel's `features` signature (the discriminator's conv
layers, each max-pooled to 4x4 and concatenated), so what is probed is exactly what is served.
They are computed in batches and cached on disk, keyed by the SavedModel's bytes and the images'
bytes, so repeats, C searches and later runs reuse them. The protocol itself (splits,
class-balanced draws, standardisation, the SVM and its C search) lives in `dcgan_tf.probe.protocol`.
"""

import hashlib
import os
import re
import time

import numpy as np
import sklearn
import tensorflow as tf
from tqdm import tqdm

from dcgan_tf import __version__
from dcgan_tf.atomic import save_json
from dcgan_tf.data.crop import as_image_batch
from dcgan_tf.data.datasets import load_split
from dcgan_tf.data.registry import IN_MEMORY_DATASETS
from dcgan_tf.paths import cache_root
from dcgan_tf.probe import cache as feature_cache
from dcgan_tf.probe.protocol import (  # noqa: F401  (re-exported: the probe's public API)
    MAX_VALIDATION_FRACTION, ProbeConfig, ProbeError, evaluate_features, split_protocol,
)
from dcgan_tf.serving.export_reader import ExportReader

# The labelled datasets `dcgan_tf.data.datasets.load_split` reads into memory.
PROBE_DATASETS = IN_MEMORY_DATASETS
PIXELS = "pixels"
FEATURES_SIGNATURE = "features"
CLASSIFY_SIGNATURE = "classify"


def resolve_savedmodel(path):
    """Returns the SavedModel directory `path` names: itself, or its newest version directory.

    Args:
        path: A SavedModel directory (`saved_model.pb` inside), or a TF Serving model
            directory (`NAME/` with integer versions).

    Raises:
        ProbeError: `path` is neither, e.g. a run directory that was never exported.
    """
    return ExportReader(path, error=ProbeError).path


def read_metadata(model_path):
    """The export's metadata dict (training config, step, ...), or `{}` if it has none.

    Reads the `assets.extra/metadata.json` file when present (no TensorFlow needed), else
    calls the SavedModel's `metadata` signature.
    """
    return ExportReader(model_path, error=ProbeError).metadata()


def model_fingerprint(model_path):
    """SHA-256 of the SavedModel's graph and variables: same bytes, same features."""
    digest = hashlib.sha256()
    variables = os.path.join(model_path, "variables")
    names = ["saved_model.pb"] + sorted(
        os.path.join("variables", n) for n in os.listdir(variables)
    ) if os.path.isdir(variables) else ["saved_model.pb"]
    for name in names:
        digest.update(name.encode())
        with open(os.path.join(model_path, name), "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def data_fingerprint(images):
    """Hash of an image array's shape, dtype and bytes."""
    images = np.ascontiguousarray(images)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{images.dtype}{images.shape}".encode())
    digest.update(memoryview(images).cast("B"))
    return digest.hexdigest()


def _cache_entry(cache_dir, model_path, images, tag):
    """`(path, key)` of the cache entry for these images through this model."""
    tag = re.sub(r"[^A-Za-z0-9_.-]", "_", tag) or "data"
    key = f"{model_fingerprint(model_path)}-{data_fingerprint(images)}"
    short = f"{key[:20]}-{key.split('-')[1][:20]}"
    return os.path.join(cache_dir, "features", f"{tag}-{short}.npz"), key


def extract_features(model_path, images, batch_size=256, cache_dir=None, tag="", progress=False,
                     cache_max_gb=feature_cache.DEFAULT_MAX_GB):
    """Runs images through the SavedModel's `features` signature, in batches, with a cache.

    Args:
        model_path: A SavedModel directory (or a model directory with versions).
        images: uint8 (N, h, w, c), c in {1, 3}, any size: the signature resizes.
        batch_size: Images per call. Defaults to 256.
        cache_dir: Cache root (features go to `cache_dir/features/`); `None` disables it.
        tag: Readable prefix of the cache file name, e.g. `"fashion_mnist-train"`.
        progress: Show a progress bar.
        cache_max_gb: After a write, the least recently used cached features are deleted
            until the cache holds at most this many GB (`dcgan_tf.probe.cache`).

    Returns:
        float32 (N, F).

    Raises:
        ProbeError: Not a SavedModel, or one without a `features` signature.
    """
    features, _, path = _extract(model_path, images, batch_size, cache_dir, tag, progress)
    if path:
        feature_cache.prune(os.path.dirname(path), cache_max_gb * 1e9, keep=[path])
    return features


def _extract(model_path, images, batch_size, cache_dir, tag, progress):
    """`(features, cached, cache path)`: `extract_features`, whether they came from the cache,
    and where they are cached (`None` without a cache)."""
    model_path = resolve_savedmodel(model_path)
    try:
        images = as_image_batch(images)
    except ValueError as e:
        raise ProbeError(str(e)) from None
    path, key = _cache_entry(cache_dir, model_path, images, tag) if cache_dir else (None, None)
    if path:
        cached = feature_cache.read(path, key, len(images))
        if cached is not None:
            return cached, True, path
    features = _run_signature(model_path, images, batch_size, progress)
    if path:
        feature_cache.write(path, key, features)
    return features, False, path


def _run_signature(model_path, images, batch_size, progress):
    fn = ExportReader(model_path, needs=(FEATURES_SIGNATURE,), error=ProbeError).function(
        FEATURES_SIGNATURE)
    parts = []
    with tqdm(total=len(images), desc="features", unit="img", disable=not progress) as bar:
        for i in range(0, len(images), batch_size):
            batch = tf.constant(images[i:i + batch_size])
            parts.append(fn(images=batch)[FEATURES_SIGNATURE].numpy().astype(np.float32))
            bar.update(len(batch))
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def classify_accuracy(model_path, images, labels, batch_size=256):
    """Test accuracy of a semi-supervised export's own classifier (its `classify` signature).

    Args:
        model_path: A SavedModel directory with a `classify` signature.
        images: uint8 (N, h, w, c).
        labels: int (N,) true classes.
        batch_size: Images per call.

    Returns:
        `{"accuracy", "test_error", "n"}`.
    """
    fn = ExportReader(model_path, needs=(CLASSIFY_SIGNATURE,), error=ProbeError).function(
        CLASSIFY_SIGNATURE)
    predicted = np.concatenate([
        fn(images=tf.constant(images[i:i + batch_size]))["classes"].numpy()
        for i in range(0, len(images), batch_size)
    ]) if len(images) else np.zeros(0, np.int64)
    accuracy = float(np.mean(predicted == np.asarray(labels))) if len(images) else 0.0
    return {"accuracy": accuracy, "test_error": 1.0 - accuracy, "n": int(len(images))}


def _classifier_report(model_path, metadata, test, cfg):
    """The export's own classifier beside the SVM: its test accuracy, what it was trained on,
    and whether that is this probe's draw 0 (same labels, seed and validation size)."""
    if CLASSIFY_SIGNATURE not in ExportReader(model_path, error=ProbeError).signatures:
        return None
    subset = metadata.get("labelled_subset") or {}
    report = classify_accuracy(model_path, test.images, test.labels, cfg.batch_size)
    report["labelled_subset"] = subset
    report["same_draw"] = (subset.get("labels") == cfg.labels and subset.get("seed") == cfg.seed
                           and subset.get("validation") == cfg.validation)
    return report


def pixel_features(images):
    """Raw pixels at the dataset's own size, flattened and scaled to [0, 1] (a baseline)."""
    images = np.asarray(images)
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def load_labelled(dataset, data_dir=None):
    """`(train, test)` `Split`s of a labelled in-memory dataset.

    Raises:
        ProbeError: A dataset the probe cannot use (unknown, streamed, or unlabelled).
        dcgan_tf.data.datasets.DataError: Missing or corrupt files.
    """
    if dataset not in PROBE_DATASETS:
        raise ProbeError(
            f"Unknown dataset {dataset!r} for the probe. Expected one of: "
            f"{', '.join(PROBE_DATASETS)}."
        )

    train, test = load_split(dataset, "train", data_dir), load_split(dataset, "test", data_dir)
    for name, split in (("train", train), ("test", test)):
        if split.labels is None or not split.num_classes:
            raise ProbeError(
                f"The {name} split of {dataset} ({data_dir}) is unlabelled: the probe needs "
                + ("a `y` key (and `y_test` with `x_test`) in the .npz file." if dataset == "npz"
                   else "class folders, DIR/train/<class>/ and DIR/test/<class>/.")
            )
    if test.num_classes != train.num_classes:
        raise ProbeError(
            f"{dataset} has {train.num_classes} training classes but {test.num_classes} test "
            "classes: give both splits the same class folders."
        )
    return train, test


def run_probe(model, dataset, data_dir=None, cfg=ProbeConfig(), progress=False, method=None):
    """Probes a SavedModel's features (or raw pixels) with the linear L2-SVM protocol.

    Args:
        model: A SavedModel directory, or `"pixels"` for the raw-pixel baseline.
        dataset: One of `PROBE_DATASETS`.
        data_dir: The dataset's files (see `dcgan_tf.data.datasets.load_split`).
        cfg: A `ProbeConfig`.
        progress: Show progress bars (feature extraction, draws).
        method: Name in the report; defaults to `"dcgan"` or `"pixels"`.

    Returns:
        The report dict (errors are fractions, std has ddof=1): `test_error_mean`,
        `test_error_std`, `accuracy_mean`, `accuracy_std`, `validation_error_mean`, `draws`
        (per draw: `C`, `solver`, `val_error`, `test_error`, `accuracy`, the C `search`,
        `seconds`), `feature_dim`, `num_classes`, `sizes` (train, test, validation, labelled),
        `notes` (adapted sizes), `protocol` (the `ProbeConfig` and a `description`),
        `timings` (`load_data_s`, `features_s`, `features_cached`, `svm_s`, `total_s`),
        `metadata` (the export's), `method`, `model`, `dataset`, `data_dir`, `versions`;
        for an export with a `classify` signature (a semi-supervised run) also `classify`:
        the classifier's own `accuracy` and `test_error` on the test split, the
        `labelled_subset` it was trained on, and `same_draw` (whether that is this probe's
        draw 0).

    Raises:
        ProbeError: Bad sizes, dataset or model; `dcgan_tf.data.datasets.DataError` for data files.
    """
    start = time.perf_counter()
    pixels = model == PIXELS
    model_path = None if pixels else resolve_savedmodel(model)
    metadata = {} if pixels else read_metadata(model_path)
    train, test = load_labelled(dataset, data_dir)
    # Check the sizes before the slow part: features of 70,000 images take a while.
    split_protocol(train.labels, train.num_classes, cfg)
    loaded = time.perf_counter()

    cache_dir = cache_root(cfg.cache_dir) if cfg.cache else None
    cached = False
    if pixels:
        train_x, test_x = pixel_features(train.images), pixel_features(test.images)
    else:
        (train_x, train_hit, train_path), (test_x, test_hit, test_path) = (
            _extract(model_path, split.images, cfg.batch_size, cache_dir, f"{dataset}-{name}",
                     progress)
            for name, split in (("train", train), ("test", test))
        )
        cached = train_hit and test_hit
        if cache_dir:
            feature_cache.prune(os.path.dirname(train_path), cfg.cache_max_gb * 1e9,
                                keep=[train_path, test_path])
    featured = time.perf_counter()
    classifier = None if pixels else _classifier_report(model_path, metadata, test, cfg)

    result = evaluate_features(train_x, train.labels, test_x, test.labels, train.num_classes, cfg,
                               progress)
    about = {"method": method or ("pixels" if pixels else "dcgan"), "model": model_path,
             "dataset": dataset, "data_dir": data_dir, "num_classes": int(train.num_classes),
             "feature_dim": int(train_x.shape[1]), "metadata": metadata}
    return _report(
        about, result, cfg,
        {"load_data_s": loaded - start, "features_s": featured - loaded,
         "features_cached": cached, "svm_s": result.pop("svm_s"),
         "total_s": time.perf_counter() - start},
        extra={"classify": classifier} if classifier else None,
    )


def protocol_text(cfg, classifier="LinearSVC(loss='squared_hinge', penalty='l2')"):
    """One paragraph describing the protocol, written into every report."""
    labelled = ("every training example not in the validation set labelled (C chosen on the "
                "validation set, then refitted on the whole training split)"
                if cfg.labels is None else f"{cfg.labels} class-balanced labelled examples drawn "
                "at random from the rest of the training split")
    return (
        f"Validation set of up to {cfg.validation} examples drawn from the training split (at "
        f"most {MAX_VALIDATION_FRACTION:.0%} of it); {labelled}; {cfg.repeats} draws (seed "
        f"{cfg.seed}). Classifier: {classifier} on features standardised on the labelled draw; "
        f"solver {cfg.solver!r} (auto: LinearSVC's objective solved exactly by Newton's "
        "method, in the primal when labels outnumber features, else in the dual up to 8000 "
        "labels, else LinearSVC itself); "
        f"C from {list(cfg.c_grid)} chosen by validation error; the chosen model is scored on "
        "the full test split."
    )


# What a report says about the run before its results, in this order.
_ABOUT = ("method", "model", "dataset", "data_dir", "num_classes", "feature_dim")


def _report(about, result, cfg, timings, classifier=None, extra=None):
    """The probe's JSON report.

    Args:
        about: The `_ABOUT` keys and `metadata` (the export's), for the report's head.
        result: `evaluate_features`' (or a baseline's) figures.
        cfg: The `ProbeConfig` it ran with.
        timings: Seconds (and cache hits) by step.
        classifier: The classifier's description in the protocol text; LinearSVC's if `None`.
        extra: More keys for the report.
    """
    metadata = about["metadata"]
    report = {
        **{key: about[key] for key in _ABOUT},
        **result,
        "protocol": {
            **cfg.to_dict(),
            "labels": "all" if cfg.labels is None else cfg.labels,
            "description": protocol_text(cfg, **({"classifier": classifier} if classifier else {})),
        },
        "timings": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in timings.items()},
        "metadata": metadata,
        "versions": {"dcgan_tf": __version__, "scikit_learn": sklearn.__version__},
    }
    report.update(extra or {})
    return report


def format_table(report):
    """The report as a short terminal table: one row per draw, then mean +- std."""
    lines = [
        f"{report['method']} probe on {report['dataset']}: {report['sizes']['labelled']} labels, "
        f"validation {report['sizes']['validation']}, test {report['sizes']['test']}, "
        f"feature_dim {report['feature_dim']}",
    ]
    lines += [f"note: {n}" for n in report.get("notes", [])]
    key = "C" if "C" in report["draws"][0] else "hparams"

    def shown(value):
        if isinstance(value, dict):
            return ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in value.items())
        return f"{value:g}" if isinstance(value, float) else str(value)

    width = max(8, *(len(shown(d[key])) for d in report["draws"]))
    lines.append(f"{'draw':>4}  {key:>{width}}  {'val err':>8}  {'test err':>8}  {'seconds':>8}")
    for d in report["draws"]:
        lines.append(f"{d['draw']:>4}  {shown(d[key]):>{width}}  {100 * d['val_error']:7.2f}%  "
                     f"{100 * d['test_error']:7.2f}%  {d['seconds']:8.1f}")
    t = report["timings"]
    lines.append(
        f"test error {100 * report['test_error_mean']:.2f}% "
        f"+- {100 * report['test_error_std']:.2f}%"
        f"  (accuracy {100 * report['accuracy_mean']:.2f}%)  in {t['total_s']:.1f}s"
    )
    if report.get("classify"):
        c = report["classify"]
        subset = c.get("labelled_subset") or {}
        same = ("this probe's draw 0" if c["same_draw"] else
                f"not this probe's draw 0: {subset.get('labels')} labels, "
                f"seed {subset.get('seed')}")
        lines.append(f"classify signature: test accuracy {100 * c['accuracy']:.2f}% (error "
                     f"{100 * c['test_error']:.2f}%), trained on {same}")
    return "\n".join(lines)


def write_report(report, path):
    """Writes the report as indented JSON, atomically."""
    save_json(path, report)
