"""Plain configuration for models and training runs (frozen dataclasses, JSON round-trip)."""

import dataclasses
import math

Z_DISTRIBUTIONS = ("uniform", "normal")
# What a semi-supervised D's class logits read (`ModelConfig.d_head`).
D_HEADS = ("flatten", "pool")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
STRATEGIES = ("auto", "default", "mirrored", "multiworker")
JIT_MODES = ("auto", "on", "off")
# The default run where a dataset needs its own: digits is tiny (11 steps an epoch), so it takes
# more epochs to look like digits, and its 8x8 images need no 64-wide networks: at ngf = ndf = 32
# a step costs a fraction, which keeps the README's first command to minutes on 2-core AVX2
# CPUs at a KID within one std of the 64-wide run's (`default_run` records in benchmarks/results/).
DEFAULT_EPOCHS = {"digits": 60}
DEFAULT_WIDTH = {"digits": 32}
EPOCHS = 25
# The recipe `auto` stands for (`dcgan_tf.recipes` says why); here so that `TrainConfig()`
# resolves it as `dcgan-tf train` does.
AUTO_RECIPE = "probe"


class _JsonRoundTrip:
    """`to_dict`/`from_dict` for the frozen config dataclasses (`config.json`, metadata)."""

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        """Builds the config from a dict, ignoring keys it does not know (older/newer runs)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (values or {}).items() if k in names})


# DiffAugment's policies (Zhao et al. 2020) and the probe-time feature choices.
AUGMENTATIONS = ("translation", "cutout", "color", "flip")
FEATURE_POOLINGS = ("4x4", "pyramid")
FEATURE_ACTIVATIONS = ("post", "pre")
# Compute dtypes of an export's generating signatures (`dcgan-tf export --precision`).
SERVING_PRECISIONS = ("fp32", "bf16")
# Defaults the commands show in --help, kept here (TensorFlow- and scikit-learn-free) so that
# `dcgan-tf --help` imports nothing heavy: the probe's SVM C grid, its feature cache's cap in GB
# (room for a few models' features on CIFAR-10- or Fashion-MNIST-sized data), and the REST
# request layouts of TF Serving (`instances` rows or columnar `inputs`).
DEFAULT_C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
# The probe's SVM solvers (`dcgan_tf.probe.solvers`); here so the CLI's --help needs no NumPy.
PROBE_SOLVERS = ("auto", "gram", "primal", "newton", "liblinear")
DEFAULT_CACHE_MAX_GB = 20.0
REQUEST_FORMATS = ("row", "columnar")


# Largest model side: a 4096x4096 DCGAN is already far beyond what it trains well, and larger
# ones exhaust memory while being built.
MAX_IMAGE_SIZE = 4096


@dataclasses.dataclass(frozen=True)
class ModelConfig(_JsonRoundTrip):
    """Shape of the generator and discriminator (DCGAN paper, section 3).

    Args:
        image_size: Side of the square images, a power of 2 >= 32. The number of
            stride-2 blocks follows: log2(image_size / 4).
        channels: 1 (grey) or 3 (RGB).
        z_dim: Width of the latent vector. Defaults to 100 (paper).
        z_dist: `"uniform"` in [-1, 1] (paper) or `"normal"`.
        ngf: Generator width of the last hidden block; the block at 4x4 has
            `ngf * image_size / 8` channels. 128 gives Figure 1's widths at 64x64
            (4x4x1024 -> ... -> 32x32x128). Defaults to 64.
        ndf: Discriminator width of the first block, doubling each block.
            Defaults to 64.
        kernel_size: 4 or 5 (the paper's figure uses 5).
        bn_momentum: Keras batch-norm momentum. 0.9 equals PyTorch's default
            0.1; Keras' 0.99 lags on short runs and spoils inference-mode samples.
        num_classes: 0 for the paper's unconditional DCGAN; K > 1 makes both networks
            take a class label (the supplementary material's conditional MNIST model).
        spectral_norm: Wrap D's convolutions and logit layer in spectral normalisation
            (Miyato et al. 2018), a departure from the paper. Defaults to `False`.
        labels: 0 (unsupervised), or the class-balanced labelled training images of a
            semi-supervised D (Salimans et al. 2016): D ends in `label_classes` class logits,
            its real/fake logit is their log-sum-exp (the K+1-class D with the fake class's
            logit fixed at 0), and G trains by feature matching. The labelled images are the
            probe's draw 0 (`dcgan_tf.data.splits.labelled_subset`).
        label_seed: The probe seed whose draw 0 is labelled. Defaults to 0 (the probe's).
        label_validation: The probe's validation size whose images are never labelled.
            Defaults to 10,000 (the probe's).
        label_classes: K, the dataset's number of classes; filled in by training.
        d_dropout: Dropout rate after each of D's blocks in training (Salimans et al. 2016
            regularise their semi-supervised D's classifier with dropout 0.5); inference,
            and so the exported features and `classify`, is unchanged. Defaults to 0 (off).
        d_head: What a semi-supervised D's class logits read: `"flatten"` (the DCGAN D's
            flattened last block) or `"pool"` (its global average, as Salimans et al.'s D ends
            in global pooling: 8x fewer head weights at 4x4 and invariant to where in the
            image a feature fires). Feature matching reads the same vector. Defaults to
            `"flatten"`.
    """

    image_size: int = 32
    channels: int = 1
    z_dim: int = 100
    z_dist: str = "uniform"
    ngf: int = 64
    ndf: int = 64
    kernel_size: int = 4
    bn_momentum: float = 0.9
    num_classes: int = 0
    spectral_norm: bool = False
    labels: int = 0
    label_seed: int = 0
    label_validation: int = 10_000
    label_classes: int = 0
    d_dropout: float = 0.0
    d_head: str = "flatten"

    def __post_init__(self):
        size = self.image_size
        if not isinstance(size, int) or not 32 <= size <= MAX_IMAGE_SIZE or size & (size - 1):
            raise ValueError(
                f"Expected `image_size` to be a power of 2 >= 32 and <= {MAX_IMAGE_SIZE}. "
                f"Received: image_size={size}"
            )
        if self.channels not in (1, 3):
            raise ValueError(f"Expected `channels` to be 1 or 3. Received: channels={self.channels}")
        if self.z_dist not in Z_DISTRIBUTIONS:
            raise ValueError(
                f"Expected `z_dist` to be one of {Z_DISTRIBUTIONS}. Received: z_dist={self.z_dist!r}"
            )
        if self.kernel_size not in (4, 5):
            raise ValueError(
                f"Expected `kernel_size` to be 4 or 5. Received: kernel_size={self.kernel_size}"
            )
        if self.num_classes < 0 or self.num_classes == 1:
            raise ValueError(
                f"Expected `num_classes` to be 0 (unconditional) or >= 2. Received: {self.num_classes}"
            )
        for name in ("z_dim", "ngf", "ndf"):
            if getattr(self, name) < 1:
                raise ValueError(f"Expected `{name}` >= 1. Received: {name}={getattr(self, name)}")
        for name in ("labels", "label_validation", "label_classes"):
            if getattr(self, name) < 0:
                raise ValueError(f"Expected `{name}` >= 0. Received: {name}={getattr(self, name)}")
        if self.labels and self.num_classes:
            raise ValueError(
                "Expected `labels` = 0 for a conditional model (num_classes > 0): a "
                f"semi-supervised D is unconditional. Received: labels={self.labels}"
            )
        if not 0 <= self.d_dropout < 1:
            raise ValueError(
                f"Expected `d_dropout` in [0, 1). Received: d_dropout={self.d_dropout}"
            )
        if self.d_head not in D_HEADS:
            raise ValueError(
                f"Expected `d_head` to be one of {D_HEADS}. Received: d_head={self.d_head!r}"
            )
        if self.d_head != "flatten" and not self.labels:
            raise ValueError(
                f"Expected `d_head` = 'flatten' without `labels`: d_head={self.d_head!r} shapes "
                "a semi-supervised D's class logits."
            )
        if self.label_classes == 1:
            raise ValueError(
                "Expected `label_classes` to be 0 or >= 2. "
                f"Received: label_classes={self.label_classes}"
            )

    @property
    def semi_supervised(self):
        """Whether D is the semi-supervised K+1-class classifier (`labels` > 0)."""
        return self.labels > 0

    @property
    def num_blocks(self):
        """Number of stride-2 blocks between 4x4 and `image_size`."""
        return int(math.log2(self.image_size // 4))


# Train steps per call that `steps_per_execution="auto"` allows (see `TrainConfig`).
AUTO_STEPS_PER_EXECUTION = 16


def steps_per_call(setting, steps):
    """Train steps per `tf.function` call for a `fit` of `steps` steps per epoch.

    Args:
        setting: `TrainConfig.steps_per_execution`: `"auto"` or the most steps per call.
        steps: Steps per epoch of the `fit`.

    Returns:
        The largest divisor of `steps` not above the setting, so that no call runs past an
        epoch's end (Keras would then take extra batches and shift every later step).
    """
    most = AUTO_STEPS_PER_EXECUTION if setting == "auto" else int(setting)
    return max(d for d in range(1, max(1, min(most, steps)) + 1) if steps % d == 0)


@dataclasses.dataclass(frozen=True)
class TrainConfig(_JsonRoundTrip):
    """A training run: data, optimisation (paper section 4) and bookkeeping.

    Args:
        out: Run directory for checkpoints, samples, logs and `config.json`. Defaults to
            `runs/<dataset>`, as in `dcgan-tf train`.
        dataset: Dataset name (see `dcgan_tf.data.datasets.DATASETS`).
        data_dir: Where the dataset's files are; `None` for embedded data.
        verify: Check known file sizes/checksums (SVHN).
        epochs: Passes over the training split. Defaults to 60 for digits, else 25.
        max_steps: Stop after this many total steps (overrides `epochs`).
        batch_size: Global batch size, split across replicas. Defaults to 128.
        lr: Adam learning rate. Defaults to 2e-4.
        beta1: Adam beta_1. Defaults to 0.5.
        seed: Seeds weights, z and data order; same seed, same first losses.
        strategy: `"auto"` (one device: default, several GPUs: mirrored,
            `TF_CONFIG` set: multi-worker), or forced.
        jit: XLA: `"on"`, `"off"` or `"auto"` (off on CPU, where it measured slower).
        precision: `"fp32"`, `"bf16"` or `"fp16"` (mixed precision, fp16 with loss
            scaling); `"auto"` takes bf16 where the hardware computes it natively (CPUs with
            AVX512-BF16 or AMX, GPUs of compute capability 8.0+), else fp32. Whether it is
            faster depends on the machine: see benchmarks/README.md.
        keep_checkpoints: How many recent checkpoints to keep.
        steps_per_execution: Train steps per `tf.function` call, at most: each `fit` uses
            the largest divisor of its epoch's steps up to this, so calls end with the epoch.
            `"auto"` (default) allows up to `AUTO_STEPS_PER_EXECUTION`, which amortises
            Keras' per-call loop (benchmarks/README.md).
        sample_grid: Samples in the per-epoch PNG grid (a square number).
        recipe: Name of the preset the options below came from (`dcgan_tf.recipes`),
            recorded for the study; `"paper"` is section 4 with every option off. Defaults
            to `"auto"` (the CLI's default), which is stored as the preset it stands for
            (`AUTO_RECIPE`); `train` reads an export's features out as that preset says.
            This field names the preset only: build another preset's configurations with
            `dcgan_tf.recipes.apply`.
        d_lr: D's Adam learning rate (TTUR, Heusel et al. 2017); `None` uses `lr`.
        g_lr: G's Adam learning rate; `None` uses `lr`.
        rotation_weight: Weight of D's self-supervised rotation loss on real images
            (Chen et al. 2019, their beta = 1); 0 (paper) builds no rotation head.
        rotation_weight_g: Weight of G's rotation loss on its own images (their
            alpha = 0.2); needs `rotation_weight` > 0. Defaults to 0.
        contrastive_weight: Weight of D's contrastive loss between two SimCLR views of each
            real image (NT-Xent, Chen et al. 2020; a GAN's auxiliary loss as in ContraD,
            Jeong & Shin 2021); 0 (paper) builds no projection head.
        contrastive_temperature: NT-Xent's temperature (SimCLR's 0.5 for CIFAR-10).
        diffaugment: Comma-separated DiffAugment policies applied to every image D sees,
            real and fake (Zhao et al. 2020), e.g. `"translation,cutout,color"`; `""` (paper)
            for none.
        max_minutes: Stop after the step (the `tf.function` call, with several steps per
            call) that crosses this many minutes of training in this invocation (a checkpoint
            is written); `None` for no limit.
        score_every: Log a cheap KID (2000 samples, classifier space of the labelled training
            data) every this many epochs; 0 turns it off.
        g_ema: Decay of the exponential moving average of G's weights (Yazici et al. 2019),
            updated after every G step, checkpointed, exported with `--generator ema`;
            0 (default) keeps none.
        monitor_every: Samples, diversity figures and a checkpoint every this many epochs;
            0 (default) schedules them by their measured cost, at most 2% of the run
            (`dcgan_tf.training.monitor`). The first and last epochs always get them.
    """

    out: str | None = None
    dataset: str = "digits"
    data_dir: str | None = None
    verify: bool = True
    epochs: int | None = None
    max_steps: int | None = None
    batch_size: int = 128
    lr: float = 2e-4
    beta1: float = 0.5
    seed: int = 0
    strategy: str = "auto"
    jit: str = "auto"
    precision: str = "auto"
    keep_checkpoints: int = 5
    steps_per_execution: int | str = "auto"
    sample_grid: int = 64
    recipe: str = "auto"
    d_lr: float | None = None
    g_lr: float | None = None
    rotation_weight: float = 0.0
    rotation_weight_g: float = 0.0
    contrastive_weight: float = 0.0
    contrastive_temperature: float = 0.5
    diffaugment: str = ""
    max_minutes: float | None = None
    score_every: int = 0
    monitor_every: int = 0
    g_ema: float = 0.0

    def __post_init__(self):
        # The CLI's defaults, resolved here so that a config built in Python is the same run.
        if self.out is None:
            object.__setattr__(self, "out", f"runs/{self.dataset.replace('/', '_')}")
        if self.epochs is None:
            object.__setattr__(self, "epochs", DEFAULT_EPOCHS.get(self.dataset, EPOCHS))
        if self.recipe == "auto":
            object.__setattr__(self, "recipe", AUTO_RECIPE)
        if self.strategy not in STRATEGIES:
            raise ValueError(
                f"Expected `strategy` in {STRATEGIES}. Received: strategy={self.strategy!r}"
            )
        if self.jit not in JIT_MODES:
            raise ValueError(f"Expected `jit` in {JIT_MODES}. Received: jit={self.jit!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"Expected `precision` in {PRECISIONS}. Received: precision={self.precision!r}"
            )
        if self.steps_per_execution != "auto" and (
                isinstance(self.steps_per_execution, bool)
                or not isinstance(self.steps_per_execution, int) or self.steps_per_execution < 1):
            raise ValueError(
                "Expected `steps_per_execution` to be 'auto' or an integer >= 1. "
                f"Received: steps_per_execution={self.steps_per_execution!r}"
            )
        for name in ("epochs", "batch_size", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ValueError(f"Expected `{name}` >= 1. Received: {name}={getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"Expected `max_steps` >= 1. Received: max_steps={self.max_steps}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"Expected `max_minutes` > 0. Received: max_minutes={self.max_minutes}")
        for name in ("score_every", "monitor_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"Expected `{name}` >= 0. Received: {name}={getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"Expected `lr` > 0. Received: lr={self.lr}")
        for name in ("d_lr", "g_lr"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ValueError(f"Expected `{name}` > 0. Received: {name}={getattr(self, name)}")
        for name in ("rotation_weight", "rotation_weight_g", "contrastive_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"Expected `{name}` >= 0. Received: {name}={getattr(self, name)}")
        if self.rotation_weight_g and not self.rotation_weight:
            raise ValueError(
                "Expected `rotation_weight` > 0 with `rotation_weight_g` (G's term needs D's "
                f"rotation head). Received: rotation_weight=0, rotation_weight_g={self.rotation_weight_g}"
            )
        if self.contrastive_temperature <= 0:
            raise ValueError("Expected `contrastive_temperature` > 0. "
                             f"Received: contrastive_temperature={self.contrastive_temperature}")
        parse_policies(self.diffaugment)
        if not 0 <= self.g_ema < 1:
            raise ValueError(f"Expected `g_ema` in [0, 1). Received: g_ema={self.g_ema}")
        if not 0 <= self.beta1 < 1:
            raise ValueError(f"Expected `beta1` in [0, 1). Received: beta1={self.beta1}")
        root = math.isqrt(self.sample_grid)
        if root * root != self.sample_grid:
            raise ValueError(
                f"Expected `sample_grid` to be a square number. Received: sample_grid={self.sample_grid}"
            )

    @property
    def d_learning_rate(self):
        """D's learning rate: `d_lr`, else `lr`."""
        return self.lr if self.d_lr is None else self.d_lr

    @property
    def g_learning_rate(self):
        """G's learning rate: `g_lr`, else `lr`."""
        return self.lr if self.g_lr is None else self.g_lr



# Options that add variables to a run's state (heads, loss-scale counters, averages): model
# flags. Each maps to a description and the part of its value that decides the variables. A
# resume takes them from the checkpoint's config when not given, refuses a contradicting value
# in one line, and the segments record them (`resume_train_config`). A new option that adds
# variables declares itself here.
STATE_OPTIONS = {
    "rotation_weight": ("D's rotation head", bool),
    "contrastive_weight": ("D's projection head", bool),
    "precision": ("fp16's loss-scale variables", lambda value: value == "fp16"),
    "g_ema": ("the generator's weight average", bool),
}
# What a recipe sets (`dcgan_tf.recipes`): taken from the checkpoint's config on resume when
# neither `recipe` nor the option is given, so that re-running a command resumes its recipe.
RECIPE_OPTIONS = ("recipe", "d_lr", "g_lr", "rotation_weight", "rotation_weight_g",
                  "contrastive_weight", "contrastive_temperature", "diffaugment")


def _flag(name):
    return "--" + name.replace("_", "-")


def resume_train_config(saved, requested, given=None):
    """The `TrainConfig` a resume trains with: model flags and the recipe kept from `saved`.

    Args:
        saved: The `TrainConfig` stored with the run (its latest launch).
        requested: This launch's `TrainConfig`.
        given: Names of the `requested` fields set explicitly (flags on the command line);
            `None` counts every field as given (a library caller states the whole config).

    Returns:
        `(TrainConfig, notes)`: the configuration to train with and one-line notes on what
        was taken from `saved`.

    Raises:
        ValueError: a given model flag contradicts the variables `saved` holds.
    """
    given = set(dataclasses.asdict(requested)) if given is None else set(given)
    taken = {}
    for name, (what, key) in STATE_OPTIONS.items():
        old, new = getattr(saved, name), getattr(requested, name)
        if name in given and key(old) != key(new):
            raise ValueError(
                f"{requested.out} was trained with {_flag(name)} {old} ({what}: "
                f"{'present' if key(old) else 'absent'}), not {new}: the checkpoint's variables "
                "depend on it. Resume with the same value (or leave it out), or use a new --out."
            )
        if name not in given and old != new:
            taken[name] = old
    if "recipe" not in given:
        taken.update({name: getattr(saved, name) for name in RECIPE_OPTIONS
                      if name not in given and getattr(saved, name) != getattr(requested, name)})
    if not taken:
        return requested, []
    shown = ", ".join(f"{_flag(k)} {v}" for k, v in sorted(taken.items()))
    return dataclasses.replace(requested, **taken), [
        f"Resuming with the run's own {shown} (not given on this launch)."]


def parse_policies(text):
    """Splits a comma-separated DiffAugment policy string into a tuple of known names.

    Raises:
        ValueError: on a name outside `AUGMENTATIONS` or a repeated one.
    """
    names = tuple(n.strip() for n in (text or "").split(",") if n.strip())
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown or len(set(names)) != len(names):
        raise ValueError(
            f"Expected `diffaugment` to be a comma-separated subset of {AUGMENTATIONS}. "
            f"Received: diffaugment={text!r}"
        )
    return names


@dataclasses.dataclass(frozen=True)
class FeatureConfig(_JsonRoundTrip):
    """What the export's `features` signature computes from D (paper section 5 by default).

    Args:
        layers: `"all"` conv blocks (paper) or comma-separated block indices, e.g. `"1,2"`.
        pooling: `"4x4"`: each block max-pooled to a 4x4 grid (paper); `"pyramid"`: 1x1,
            2x2 and 4x4 grids concatenated (spatial pyramid pooling, He et al. 2014).
        activation: `"post"` LeakyReLU outputs (paper) or `"pre"`: the values entering it
            (batch-norm outputs; the first block's convolution).
        flip: Average the features of each image and its horizontal mirror. Defaults to `False`.
        shift: Also average the features of the image shifted by this many pixels left,
            right, up and down (reflected borders; mirrored too with `flip`); 0 (paper) for none.
        power: Signed square root of each pooled feature (power normalisation, Perronnin
            et al. 2010), which evens out features of very different scales for the linear
            probe. Defaults to `False`.
    """

    layers: str = "all"
    pooling: str = "4x4"
    activation: str = "post"
    flip: bool = False
    shift: int = 0
    power: bool = False

    def __post_init__(self):
        if self.pooling not in FEATURE_POOLINGS:
            raise ValueError(
                f"Expected `pooling` in {FEATURE_POOLINGS}. Received: pooling={self.pooling!r}"
            )
        if isinstance(self.shift, bool) or not isinstance(self.shift, int) or self.shift < 0:
            raise ValueError(f"Expected `shift` to be an integer >= 0. Received: shift={self.shift!r}")
        if self.activation not in FEATURE_ACTIVATIONS:
            raise ValueError(
                f"Expected `activation` in {FEATURE_ACTIVATIONS}. Received: activation={self.activation!r}"
            )
        if self.layers != "all":
            parts = [p.strip() for p in str(self.layers).split(",")]
            if not parts or not all(p.isdigit() for p in parts) or len(set(parts)) != len(parts):
                raise ValueError(
                    "Expected `layers` to be 'all' or distinct comma-separated block indices. "
                    f"Received: layers={self.layers!r}"
                )

    def block_indices(self, num_blocks):
        """The chosen conv-block indices of a D with `num_blocks` blocks, ascending.

        Raises:
            ValueError: when an index is >= `num_blocks`.
        """
        if self.layers == "all":
            return list(range(num_blocks))
        indices = sorted(int(p) for p in str(self.layers).split(","))
        if indices[-1] >= num_blocks:
            raise ValueError(
                f"Expected `layers` to be block indices below {num_blocks}. Received: layers={self.layers!r}"
            )
        return indices

    @property
    def grids(self):
        """Sides of the pooled grids."""
        return (4,) if self.pooling == "4x4" else (1, 2, 4)
