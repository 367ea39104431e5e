"""The settings of each investigation (frozen dataclasses), with the command line's defaults.

Fields that are options of the command line take their default from `dcgan_tf.options`, so a
config built in Python is what the command runs when no flag is given. TensorFlow- and
NumPy-free: the commands read these defaults while building `--help`.
"""

import dataclasses

from dcgan_tf.options import field

METHODS = ("linear", "spherical")
THRESHOLDS = ("zero", "median")


@dataclasses.dataclass(frozen=True)
class InterpolateConfig:
    """Settings of `interpolate`: which walks through z, and how they are drawn.

    Args:
        walks: List of walks, each a list of >= 2 grid indices (cells of `dcgan-tf sample
            --seed SEED`, or rows of `z_file`). `None`: `num_walks` walks through consecutive
            indices (0, 1), (2, 3), ... for `points=2`. Defaults to `None`.
        num_walks: Walks when `walks` is `None`. Defaults to 4.
        points: z per walk when `walks` is `None`. Defaults to 2.
        steps: Frames per leg, both ends included. Defaults to 10 (the paper's Figure 4).
        methods: Any of `"linear"`, `"spherical"`. Defaults to both.
        seed: The grid's seed. Defaults to 0.
        z_file: `.npy` z from `dcgan-tf sample --save-z`; indices are its rows. Defaults to
            `None` (the grid of `seed`).
        baseline_pairs: Random sample pairs of the reference distance. Defaults to 128.
        scale: Upscaling of the PNGs. Defaults to 1.
    """

    walks: list | None = None
    num_walks: int = field("num_walks")
    points: int = field("points")
    steps: int = field("steps")
    methods: tuple = METHODS
    seed: int = field("seed")
    z_file: str | None = field("z_file")
    baseline_pairs: int = 128
    scale: int = field("scale")


@dataclasses.dataclass(frozen=True)
class ArithmeticConfig:
    """Settings of `arithmetic`: the grid, the neighbours of the result and the turn walk.

    Args:
        seed: The grid's seed. Defaults to 0.
        z_file: `.npy` z from `dcgan-tf sample --save-z`; indices are its rows. Defaults to
            `None` (the grid of `seed`).
        noise: Half-width of the uniform noise of the neighbours. Defaults to 0.25 (paper).
        neighbours: Noisy neighbours decoded beside the result. Defaults to 8 (paper).
        noise_seed: Seed of that noise. Defaults to 0.
        turn: `(from_name, to_name)`: also decode a linear walk between these concept means.
            Defaults to `None` (no walk).
        turn_steps: Frames of the turn walk. Defaults to 8.
        scale: Upscaling of the PNGs. Defaults to 1.
    """

    seed: int = field("seed")
    z_file: str | None = field("z_file")
    noise: float = field("noise")
    neighbours: int = field("neighbours")
    noise_seed: int = field("noise_seed")
    turn: tuple | None = None
    turn_steps: int = field("turn_steps")
    scale: int = field("scale")


@dataclasses.dataclass(frozen=True)
class NearestConfig:
    """Settings of `nearest`: how many samples, against how much data, and what is shown.

    Args:
        n: Generated samples (cells 0..n-1 of `dcgan-tf sample --seed SEED`). Defaults to 256.
        seed: The grid's seed, and of the training and held-out subsets. Defaults to 0.
        max_train: Compare with a random subset of this many training images (0: all).
            Defaults to 10000; the feature matrix is `max_train x F` floats.
        n_heldout: Held-out (test split) images. Defaults to `None` (`n`).
        k: Neighbours shown per sample. Defaults to 3.
        show: Samples shown in `nearest.png`. Defaults to 8.
        scale: Upscaling of `nearest.png`. Defaults to 1.
    """

    n: int = field("n", default=256)
    seed: int = field("seed")
    max_train: int = field("max_train")
    n_heldout: int | None = field("n_heldout")
    k: int = field("k")
    show: int = field("show")
    scale: int = field("scale")


@dataclasses.dataclass(frozen=True)
class VisualizeConfig:
    """Settings of `visualize`: which checkpoint, layer and channels, over how many images.

    Args:
        checkpoint: `"last"`, `"best"` or a step. Defaults to `"last"`.
        layer: Discriminator block, e.g. `"conv2_lrelu"`. Defaults to `None` (the last one).
        channels: Channel indices. Defaults to `None`: the `num_channels` channels of the
            trained discriminator with the highest mean top-`top` activation.
        num_channels: Channels when `channels` is `None`. Defaults to 6.
        top: Top activating images (and maps) per channel. Defaults to 4.
        n_images: Training images searched (a seeded random subset). Defaults to 2000.
        seed: Seeds the subset and the random discriminator's weights. Defaults to 0.
        scale: Upscaling of the PNG. Defaults to 1.
    """

    checkpoint: str = field("checkpoint")
    layer: str | None = field("layer")
    channels: list | None = None
    num_channels: int = field("num_channels")
    top: int = field("top")
    n_images: int = field("n_images")
    seed: int = field("seed")
    scale: int = field("scale")


@dataclasses.dataclass(frozen=True)
class ForgetConfig:
    """Settings of `forget`: which checkpoint and samples, and the logistic regression's.

    Args:
        checkpoint: `"last"`, `"best"` or a step. Defaults to `"last"`.
        seed: The grid's seed (and of the negatives' draw). Defaults to 0.
        n: Samples shown before/after (cells 0..n-1). Defaults to 16.
        z_file: `.npy` z from `dcgan-tf sample --save-z`; indices are its rows. Defaults to
            `None` (the grid of `seed`).
        negatives_per_positive: Negative positions drawn per positive. Defaults to 1.
        C: Inverse L2 regularisation of the logistic regression. Defaults to 1.
        scale: Upscaling of the PNG. Defaults to 1.
    """

    checkpoint: str = field("checkpoint")
    seed: int = field("seed")
    n: int = field("n", default=16)
    z_file: str | None = field("z_file")
    negatives_per_positive: float = field("negatives")
    C: float = field("C")
    scale: int = field("scale")


@dataclasses.dataclass(frozen=True)
class DedupConfig:
    """Settings of `dedup`: the hash, what counts as a duplicate, and what is done with them.

    Args:
        remove: Folder: move every duplicate but the first of its group into
            `OUT/removed/<relative path>`. TFRecords: write the kept records to
            `OUT/dedup.tfrecord`. The inputs are otherwise untouched. Defaults to `False`.
        threshold: Code binarisation: `"zero"` (ReLU on), `"median"` or a number.
            Defaults to `"zero"`.
        max_hamming: Group hashes that differ in at most this many bits. Defaults to 4
            (0 is the paper's identical hashes; it misses most noisy copies).
        epochs: Autoencoder epochs. Defaults to 40.
        seed: Seeds training and planting. Defaults to 0.
        plant: With `plant > 0`, first append `plant` copies of each kind (exact, Gaussian
            noise of `noise_std` levels, 1-pixel shift) and report precision and recall on
            them (a self-check; nothing is removed). Defaults to 0.
        noise_std: Noise of the planted noisy copies, in levels of 255. Defaults to 4.
        scale: Upscaling of the PNG. Defaults to 1.
    """

    remove: bool = field("remove")
    threshold: str | float = field("threshold")
    max_hamming: int = field("max_hamming")
    epochs: int = field("ae_epochs")
    seed: int = field("seed")
    plant: int = field("plant")
    noise_std: float = field("noise_std")
    scale: int = field("scale")
