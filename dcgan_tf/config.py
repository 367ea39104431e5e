"""The configuration of a model, a training run and D's feature read-out (frozen dataclasses).

Each field is an option declared in `dcgan_tf.options` (its help, type, bounds and role);
`__post_init__` checks every field against it, then the rules between fields.
"""

import dataclasses
import math

# Epochs when none is given: digits is tiny (11 steps an epoch), so it takes more to look like
# digits. Before the options import: `dcgan_tf.data.registry` re-exports it.
DEFAULT_EPOCHS = {"digits": 60}
# ngf = ndf when none is given, where a dataset needs no 64-wide networks: digits' 8x8 images
# train as well at 32, at a fraction of the step's cost, which keeps the README's first command
# to minutes on 2-core CPUs (the `default-run` records in benchmarks/results/).
DEFAULT_WIDTH = {"digits": 32}
EPOCHS = 25


from dcgan_tf.options import (  # noqa: E402,F401  (AUGMENTATIONS, parse_policies re-exported)
    AUGMENTATIONS, field, option, parse_policies, validate_fields,
)


def default_widths(dataset):
    """`{"ngf": w, "ndf": w}` for a dataset with its own default width, else `{}`."""
    width = DEFAULT_WIDTH.get(dataset)
    return {"ngf": width, "ndf": width} if width else {}


Z_DISTRIBUTIONS = option("z_dist").choices
D_HEADS = option("d_head").choices
PRECISIONS = option("precision").choices
STRATEGIES = option("strategy").choices
JIT_MODES = option("jit").choices
FEATURE_POOLINGS = option("pooling").choices
FEATURE_ACTIVATIONS = option("activation").choices
SERVING_PRECISIONS = option("serving_precision").choices
PROBE_SOLVERS = option("solver").choices
REQUEST_FORMATS = option("request_format").choices
DEFAULT_C_GRID = tuple(float(c) for c in option("c_grid").default.split(","))
DEFAULT_CACHE_MAX_GB = option("cache_max_gb").default
MAX_IMAGE_SIZE = option("image_size").high
# The recipe `auto` stands for (`dcgan_tf.recipes` says why); here so that `TrainConfig()`
# resolves it as `dcgan-tf train` does.
AUTO_RECIPE = "pyramid"
# Earlier names of recipes, as runs written before the rename store them.
RECIPE_ALIASES = {"probe": "pyramid"}
# Train steps per call that `steps_per_execution="auto"` allows (see `TrainConfig`).
AUTO_STEPS_PER_EXECUTION = 16


def _document(cls):
    """Appends `Args:` to the class docstring, one line per field, from the options' help."""
    lines = [f"        {f.name}: {f.metadata['option'].help} Defaults to {f.default!r}."
             for f in dataclasses.fields(cls)]
    cls.__doc__ = cls.__doc__.rstrip() + "\n\n    Args:\n" + "\n".join(lines) + "\n"
    return cls


class _JsonRoundTrip:
    """`to_dict`/`from_dict` for the frozen config dataclasses (`config.json`, metadata)."""

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        """Builds the config from a dict, ignoring keys it does not know (older/newer runs)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (values or {}).items() if k in names})


def _refuse(rule, **values):
    shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
    raise ValueError(f"Expected {rule}. Received: {shown}")


@_document
@dataclasses.dataclass(frozen=True)
class ModelConfig(_JsonRoundTrip):
    """Shape of the generator and discriminator (DCGAN paper, section 3).

    The number of stride-2 blocks follows from `image_size`: log2(image_size / 4). `labels` > 0
    makes D the semi-supervised K+1-class classifier of Salimans et al. 2016: its real/fake logit
    is the log-sum-exp of `label_classes` class logits, G trains by feature matching, and the
    labelled images are the probe's draw 0 (`dcgan_tf.data.splits.labelled_subset`).
    """

    image_size: int = field("image_size")
    channels: int = field("channels")
    z_dim: int = field("z_dim")
    z_dist: str = field("z_dist")
    ngf: int = field("ngf")
    ndf: int = field("ndf")
    kernel_size: int = field("kernel_size")
    bn_momentum: float = field("bn_momentum")
    num_classes: int = field("num_classes")
    spectral_norm: bool = field("spectral_norm")
    labels: int = field("labels", default=0)
    label_seed: int = field("label_seed")
    label_validation: int = field("label_validation")
    label_classes: int = field("label_classes")
    d_dropout: float = field("d_dropout")
    d_head: str = field("d_head")

    def __post_init__(self):
        if self.labels == "all":
            _refuse("`labels` to be a number of images for training", labels=self.labels)
        validate_fields(self)
        if self.num_classes == 1:
            _refuse("`num_classes` to be 0 (unconditional) or >= 2", num_classes=1)
        if self.labels and self.num_classes:
            _refuse("`labels` = 0 for a conditional model (num_classes > 0): a semi-supervised "
                    "D is unconditional", labels=self.labels)
        if self.d_head != "flatten" and not self.labels:
            _refuse("`d_head` = 'flatten' without `labels` (it shapes a semi-supervised D's "
                    "class logits)", d_head=self.d_head)
        if self.label_classes == 1:
            _refuse("`label_classes` to be 0 or >= 2", label_classes=1)

    @property
    def semi_supervised(self):
        """Whether D is the semi-supervised K+1-class classifier (`labels` > 0)."""
        return self.labels > 0

    @property
    def num_blocks(self):
        """Number of stride-2 blocks between 4x4 and `image_size`."""
        return int(math.log2(self.image_size // 4))


@_document
@dataclasses.dataclass(frozen=True)
class TrainConfig(_JsonRoundTrip):
    """A training run: data, optimisation (paper section 4) and bookkeeping.

    `out` defaults to `runs/<dataset>` and `epochs` to 60 for digits, else 25, as in
    `dcgan-tf train`. `recipe` names the preset the recipe options came from; `"auto"` is stored
    as the preset it stands for (`AUTO_RECIPE`). To build a preset's configuration as the
    command line does, use `dcgan_tf.RunConfig.from_recipe`.
    """

    out: str | None = field("out")
    dataset: str = field("dataset", default="digits")
    data_dir: str | None = field("data_dir")
    verify: bool = field("verify")
    epochs: int | None = field("epochs")
    max_steps: int | None = field("max_steps")
    batch_size: int = field("batch_size")
    lr: float = field("lr")
    beta1: float = field("beta1")
    seed: int = field("seed")
    strategy: str = field("strategy")
    jit: str = field("jit")
    precision: str = field("precision")
    keep_checkpoints: int = field("keep_checkpoints")
    steps_per_execution: int | str = field("steps_per_execution")
    sample_grid: int = field("sample_grid")
    recipe: str = field("recipe")
    d_lr: float | None = field("d_lr")
    g_lr: float | None = field("g_lr")
    rotation_weight: float = field("rotation_weight")
    rotation_weight_g: float = field("rotation_weight_g")
    contrastive_weight: float = field("contrastive_weight")
    contrastive_temperature: float = field("contrastive_temperature")
    diffaugment: str = field("diffaugment")
    max_minutes: float | None = field("max_minutes")
    score_every: int = field("score_every")
    monitor_every: int = field("monitor_every")
    g_ema: float = field("g_ema")

    def __post_init__(self):
        # The CLI's defaults, resolved here so that a config built in Python is the same run.
        if self.out is None:
            object.__setattr__(self, "out", f"runs/{self.dataset.replace('/', '_')}")
        if self.epochs is None:
            object.__setattr__(self, "epochs", DEFAULT_EPOCHS.get(self.dataset, EPOCHS))
        recipe = RECIPE_ALIASES.get(self.recipe, self.recipe)
        object.__setattr__(self, "recipe", AUTO_RECIPE if recipe == "auto" else recipe)
        validate_fields(self)
        if self.rotation_weight_g and not self.rotation_weight:
            _refuse("`rotation_weight` > 0 with `rotation_weight_g` (G's term needs D's rotation "
                    "head)", rotation_weight=0, rotation_weight_g=self.rotation_weight_g)
        root = math.isqrt(self.sample_grid)
        if root * root != self.sample_grid:
            _refuse("`sample_grid` to be a square number", sample_grid=self.sample_grid)

    @property
    def d_learning_rate(self):
        """D's learning rate: `d_lr`, else `lr`."""
        return self.lr if self.d_lr is None else self.d_lr

    @property
    def g_learning_rate(self):
        """G's learning rate: `g_lr`, else `lr`."""
        return self.lr if self.g_lr is None else self.g_lr


@_document
@dataclasses.dataclass(frozen=True)
class FeatureConfig(_JsonRoundTrip):
    """What the export's `features` signature computes from D (paper section 5 by default).

    `"pyramid"` pooling concatenates 1x1, 2x2 and 4x4 grids (He et al. 2014); `power` is the
    signed square root of Perronnin et al. 2010, which evens out features of very different
    scales for the linear probe.
    """

    layers: str = field("layers")
    pooling: str = field("pooling")
    activation: str = field("activation")
    flip: bool = field("flip")
    shift: int = field("shift")
    power: bool = field("power")

    def __post_init__(self):
        validate_fields(self)

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
                f"Expected `layers` to be block indices below {num_blocks}. "
                f"Received: layers={self.layers!r}"
            )
        return indices

    @property
    def grids(self):
        """Sides of the pooled grids."""
        return (4,) if self.pooling == "4x4" else (1, 2, 4)
