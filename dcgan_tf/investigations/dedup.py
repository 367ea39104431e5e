"""Near-duplicate removal by semantic hashing (paper section 4.1).

The paper de-duplicated LSUN bedrooms with a 3072-128-3072 denoising, dropout-regularised
ReLU autoencoder trained on 32x32 downsampled centre crops: the code layer's ReLU activations,
binarised by thresholding, are a 128-bit hash, and images with the same hash are duplicates,
found in linear time by bucketing. Here the autoencoder trains on the images being de-duplicated
(as in the paper); images whose hashes are equal, or within `max_hamming` bits, are grouped.
`max_hamming > 0` stays close to linear with multi-index hashing: the hash is cut into
`max_hamming + 1` pieces, and two hashes that differ in at most that many bits share one piece
exactly (pigeonhole), so only images that share a bucket are compared.
"""

import dataclasses
import time

from keras import layers
import keras
import numpy as np

from dcgan_tf.atomic import check_dir_writable
from dcgan_tf.investigations.common import InvestigateError, rows_grid, write_report
from dcgan_tf.investigations.configs import THRESHOLDS, DedupConfig
from dcgan_tf.investigations.dedup_inputs import SIDE, load_inputs, prepare, remove_duplicates
from dcgan_tf.options import field, option

CODE_BITS = 128
# Input noise (in standard deviations of the standardised pixels) and code dropout,
# picked on SVHN with planted copies (see tests/test_dedup.py).
NOISE = 0.3
DROPOUT = 0.5
JITTER = 0
# Measured on SVHN + 20 planted copies of each kind: k=0 precision 1.0, recall 0.4 (noisy
# copies flip a few bits); k=4 precision 1.0, recall 0.7; k=8 precision 0.6-0.8, recall 0.85.
MAX_HAMMING = option("max_hamming").default


@dataclasses.dataclass(frozen=True)
class AutoencoderConfig:
    """The semantic-hash autoencoder and its training.

    With `jitter > 0` the training corruption also shifts images by up to `jitter` pixels (not
    in the paper). Off by default: on SVHN with planted 1-pixel shifts it found more shifted
    copies but merged more distinct images, no better overall at the default `max_hamming`.

    Args:
        code_bits: Units of the ReLU code: the hash's bits. Defaults to 128 (paper).
        noise: Gaussian input noise (denoising), in standard deviations of the standardised
            pixels. Defaults to 0.3.
        dropout: Dropout rate on the code. Defaults to 0.5.
        jitter: Largest random shift, in pixels, of the training corruption. Defaults to 0.
        epochs: Training epochs. Defaults to 40.
        batch_size: Training batch size. Defaults to 128.
    """

    code_bits: int = CODE_BITS
    noise: float = NOISE
    dropout: float = DROPOUT
    jitter: int = JITTER
    epochs: int = field("ae_epochs")
    batch_size: int = 128


def build_autoencoder(config=AutoencoderConfig(), side=SIDE):
    """The paper's 3072-128-3072 autoencoder: input noise (denoising), ReLU code, dropout.

    Inputs are standardised pixels (see `train_codes`), so the reconstruction is linear.

    Args:
        config: An `AutoencoderConfig`: code width, noise, dropout and jitter.
        side: Side of the square RGB inputs. Defaults to 32 (paper).

    Returns:
        `(autoencoder, encoder)`: the trainable model and its input -> code half.
    """
    inputs = keras.Input((side * side * 3,), name="pixels")
    x = inputs
    jitter = config.jitter
    if jitter:
        x = layers.Reshape((side, side, 3), name="as_image")(x)
        x = layers.RandomTranslation(jitter / side, jitter / side, fill_mode="nearest",
                                     interpolation="nearest", name="jitter")(x)
        x = layers.Flatten(name="as_vector")(x)
    x = layers.GaussianNoise(config.noise, name="corrupt")(x)
    code = layers.Dense(config.code_bits, activation="relu", name="code")(x)
    x = layers.Dropout(config.dropout, name="dropout")(code)
    outputs = layers.Dense(side * side * 3, name="decode")(x)
    return keras.Model(inputs, outputs, name="dedup_autoencoder"), keras.Model(inputs, code, name="encoder")


def train_codes(images, config=AutoencoderConfig(), seed=0, verbose=0):
    """Trains the autoencoder on the images themselves and returns their codes.

    Pixels are standardised (minus the mean image, over the global standard deviation): on raw
    [0, 1] pixels, all positive, most ReLU code units died in training and nearly every image
    got the same hash (measured on SVHN: 4 distinct hashes for 1,143 images).

    Args:
        images: uint8 (N, 32, 32, 3).
        config: An `AutoencoderConfig`: the autoencoder and its epochs and batch size.
        seed: Seeds the weights, the corruption and the shuffling. Defaults to 0.
        verbose: Keras' `fit` verbosity. Defaults to 0.

    Returns:
        `(codes float32 (N, config.code_bits), final reconstruction loss)`.
    """
    keras.utils.set_random_seed(seed)
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    x = (x - x.mean(axis=0)) / max(float(x.std()), 1e-6)
    autoencoder, encoder = build_autoencoder(config)
    autoencoder.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    history = autoencoder.fit(x, x, epochs=config.epochs, batch_size=config.batch_size,
                              shuffle=True, verbose=verbose)
    codes = encoder.predict(x, batch_size=512, verbose=0)
    return codes, float(history.history["loss"][-1])


def binarise(codes, threshold="zero"):
    """Bits of the codes: `> 0` (the ReLU's on/off), `> per-unit median`, or `> float`."""
    if threshold == "zero":
        cut = 0.0
    elif threshold == "median":
        cut = np.median(codes, axis=0, keepdims=True)
    else:
        try:
            cut = float(threshold)
        except (TypeError, ValueError):
            raise InvestigateError(
                f"Expected `threshold` in {THRESHOLDS} or a number. Received: {threshold!r}"
            ) from None
    return codes > cut


def group_hashes(bits, max_hamming=0):
    """Groups rows of `bits` (N, B) that are duplicates of an earlier row, in input order.

    Each row joins the group of the first earlier kept row ("leader") whose hash differs in
    at most `max_hamming` bits, else starts a group of its own. Leaders, not chains: a row
    is always within `max_hamming` bits of the row kept for its group, so small steps cannot
    link distinct images through a chain of neighbours.

    Returns:
        Groups of >= 2 indices, each sorted (the first is the one to keep), ordered by it.
    """
    bits = np.asarray(bits, bool)
    n, width = bits.shape
    if max_hamming < 0:
        raise InvestigateError(f"Expected `max_hamming` >= 0. Received: max_hamming={max_hamming}")
    packed = np.packbits(bits, axis=1)
    # Multi-index hashing: hashes within k bits agree exactly on one of k + 1 pieces.
    pieces = [p for p in np.array_split(np.arange(width), max_hamming + 1) if len(p)]
    keys = [np.packbits(bits[:, p], axis=1) for p in pieces]
    buckets = [{} for _ in pieces]
    leader_of = np.arange(n)
    for i in range(n):
        candidates = set()
        for piece, table in enumerate(buckets):
            candidates.update(table.get(keys[piece][i].tobytes(), ()))
        if candidates:
            leaders = np.fromiter(sorted(candidates), int)
            differ = np.unpackbits(packed[leaders] ^ packed[i], axis=1).sum(axis=1)
            close = leaders[differ <= max_hamming]
            if len(close):
                leader_of[i] = close[0]
                continue
        for piece, table in enumerate(buckets):
            table.setdefault(keys[piece][i].tobytes(), []).append(i)
    groups = {}
    for i in range(n):
        groups.setdefault(int(leader_of[i]), []).append(i)
    return [g for _, g in sorted(groups.items()) if len(g) > 1]


def find_duplicates(images, threshold="zero", max_hamming=MAX_HAMMING,
                    autoencoder=AutoencoderConfig(), seed=0):
    """Semantic-hash de-duplication of uint8 images (any size; prepared to 32x32x3).

    Args:
        images: uint8 (N, H, W, C).
        threshold: Code binarisation: `"zero"` (ReLU on), `"median"` or a number.
            Defaults to `"zero"`.
        max_hamming: Group hashes that differ in at most this many bits. Defaults to 4.
        autoencoder: An `AutoencoderConfig`.
        seed: Seeds the autoencoder's training. Defaults to 0.

    Returns:
        Dict with `groups` (lists of indices, first = the one to keep), `bits` (N, 128) bool,
        `loss`, `distinct_hashes`, `mean_bits_on`.
    """
    images = prepare(images)
    if len(images) < 2:
        raise InvestigateError(f"Expected >= 2 images to de-duplicate. Received: {len(images)}")
    codes, loss = train_codes(images, autoencoder, seed)
    bits = binarise(codes, threshold)
    return {
        "groups": group_hashes(bits, max_hamming), "bits": bits, "loss": loss,
        "distinct_hashes": len({row.tobytes() for row in np.packbits(bits, axis=1)}),
        "mean_bits_on": float(bits.sum(1).mean()),
    }


def plant_duplicates(images, per_kind=20, noise_std=4.0, shift=1, seed=0):
    """Appends copies of random images: exact, with Gaussian noise, and shifted by `shift` px.

    Args:
        images: uint8 (N, 32, 32, 3) originals, assumed distinct.
        per_kind: Copies of each kind, each of a different original.
        noise_std: Standard deviation of the noise, in pixel levels (0..255).
        shift: Pixels of the shift (direction drawn per copy; edges repeat).

    Returns:
        `(images with copies appended, planted)` where `planted` is a list of
        `(original index, copy index, kind)`.
    """
    rng = np.random.default_rng(seed)
    if 3 * per_kind > len(images):
        raise InvestigateError(f"Expected >= {3 * per_kind} images to plant {per_kind} copies of 3 kinds.")
    originals = rng.choice(len(images), 3 * per_kind, replace=False)
    copies, planted = [], []
    for k, i in enumerate(originals):
        kind = ("exact", "noise", "shift")[k // per_kind]
        image = images[i]
        if kind == "noise":
            image = np.clip(np.round(image + rng.normal(0, noise_std, image.shape)), 0, 255).astype(np.uint8)
        elif kind == "shift":
            dy, dx = [(shift, 0), (-shift, 0), (0, shift), (0, -shift)][rng.integers(4)]
            image = np.roll(image, (dy, dx), axis=(0, 1))
            # Repeat the edge the roll wrapped around, as a re-crop would show new pixels there.
            if dy > 0:
                image[:dy] = image[dy]
            elif dy < 0:
                image[dy:] = image[dy - 1]
            if dx > 0:
                image[:, :dx] = image[:, dx:dx + 1]
            elif dx < 0:
                image[:, dx:] = image[:, dx - 1:dx]
        copies.append(image)
        planted.append((int(i), len(images) + k, kind))
    return np.concatenate([images, np.stack(copies)]), planted


def score_groups(groups, planted):
    """Pairwise precision and recall of found groups against planted (original, copy) pairs."""
    found = {(a, b) for g in groups for x, a in enumerate(g) for b in g[x + 1:]}
    truth = {tuple(sorted((a, b))): kind for a, b, kind in planted}
    hits = [p for p in found if p in truth]
    out = {
        "predicted_pairs": len(found), "planted_pairs": len(truth), "true_pairs_found": len(hits),
        "precision": len(hits) / len(found) if found else 1.0,
        "recall": len(hits) / len(truth) if truth else 1.0,
        "recall_by_kind": {},
    }
    for kind in sorted(set(truth.values())):
        pairs = [p for p, k in truth.items() if k == kind]
        out["recall_by_kind"][kind] = sum(p in found for p in pairs) / len(pairs)
    return out


def _group_figure(images, groups, limit=32, per_group=6, width=12):
    """Groups side by side (kept image first), a blank cell between groups, rows `width` wide."""
    rows, gaps, row, row_gaps = [], [], [], []
    for g in groups[:limit]:
        members = list(g[:per_group])
        if row and len(row) + len(members) > width:
            rows.append(images[row]), gaps.append(tuple(row_gaps))
            row, row_gaps = [], []
        row += members
        row_gaps.append(len(row) - 1)
    if row:
        rows.append(images[row]), gaps.append(tuple(row_gaps))
    return rows_grid(rows, row_gaps=gaps) if rows else None


def dedup(out_dir, folder=None, tfrecords=None, images=None, ids=None, config=DedupConfig()):
    """De-duplicates a folder of images, TFRecord files or an image array; reports or removes.

    Args:
        out_dir: Where `dedup.png` (up to 32 groups, kept image first) and `dedup.json` go.
        folder: A folder of images (any size, searched recursively).
        tfrecords: TFRecord files of `tf.train.Example`s with an encoded image under
            `image` or `image/encoded`.
        images: uint8 (N, H, W, C) instead (with optional `ids`).
        ids: Names of `images` in the report. Defaults to their indices.
        config: A `DedupConfig`: removal, the hash's threshold, `max_hamming`, the
            autoencoder's epochs, the seed, the planted self-check and scale.

    Returns:
        The report dict of `dedup.json`.

    Raises:
        InvestigateError: no or several inputs, unreadable inputs, `remove` with `plant`.
    """
    check_dir_writable(out_dir)  # Before the work: figures that cannot be written are lost.
    start = time.perf_counter()
    remove, seed, plant, noise_std = config.remove, config.seed, config.plant, config.noise_std
    threshold, max_hamming, epochs = config.threshold, config.max_hamming, config.epochs
    given = [x is not None for x in (folder, tfrecords, images)]
    if sum(given) != 1:
        raise InvestigateError("Pass exactly one input: a folder, TFRecord files, or images.")
    if remove and (plant or images is not None):
        raise InvestigateError("Expected --remove with a folder or TFRecords and without --plant.")
    images, ids, records = load_inputs(folder, tfrecords, images, ids)
    planted = []
    if plant:
        images, planted = plant_duplicates(images, plant, noise_std, seed=seed)
        ids = ids + [f"planted:{kind}:{ids[a]}" for a, _, kind in planted]
    found = find_duplicates(images, threshold, max_hamming, AutoencoderConfig(epochs=epochs), seed)
    groups = found["groups"]
    report = {
        "input": folder or (list(tfrecords) if tfrecords else "array"), "images": len(images),
        "autoencoder": f"{SIDE * SIDE * 3}-{CODE_BITS}-{SIDE * SIDE * 3} denoising (Gaussian input "
                       f"noise {NOISE} std), dropout {DROPOUT}, ReLU code, {epochs} epochs",
        "threshold": threshold, "max_hamming": max_hamming, "loss": found["loss"],
        "distinct_hashes": found["distinct_hashes"], "mean_bits_on": found["mean_bits_on"],
        "groups": [[ids[i] for i in g] for g in groups], "group_count": len(groups),
        "duplicates": sum(len(g) - 1 for g in groups), "seed": seed,
    }
    if plant:
        report["planted"] = {"per_kind": plant, "noise_std": noise_std, "shift": 1,
                             **score_groups(groups, planted)}
    if remove:
        report["removed"] = remove_duplicates(out_dir, folder, ids, groups, records)
    report["seconds"] = time.perf_counter() - start
    figure = _group_figure(images, groups)
    figures = {"dedup.png": (figure, config.scale)} if figure is not None else {}
    return write_report(out_dir, "dedup", report, figures)
