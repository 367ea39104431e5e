"""Plain configuration for models and training runs (frozen dataclasses, JSON round-trip)."""

import dataclasses
import json
import math
import os

DATASETS = (
    "digits", "svhn", "cifar10", "mnist", "fashion_mnist", "folder", "npz",
    "celeb_a", "lsun/bedroom", "downsampled_imagenet/32x32",
)
Z_DISTRIBUTIONS = ("uniform", "normal")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
STRATEGIES = ("auto", "default", "mirrored", "multiworker")
JIT_MODES = ("auto", "on", "off")
# Epochs when none is given: digits is tiny (11 steps an epoch), so it takes more to look like digits.
DEFAULT_EPOCHS = {"digits": 60}


@dataclasses.dataclass(frozen=True)
class ModelConfig:
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

    def __post_init__(self):
        size = self.image_size
        if not isinstance(size, int) or size < 32 or size & (size - 1):
            raise ValueError(
                f"Expected `image_size` to be a power of 2 >= 32. Received: image_size={size}"
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

    @property
    def num_blocks(self):
        """Number of stride-2 blocks between 4x4 and `image_size`."""
        return int(math.log2(self.image_size // 4))

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """A training run: data, optimisation (paper section 4) and bookkeeping.

    Args:
        out: Run directory for checkpoints, samples, logs and `config.json`.
        dataset: Dataset name (see `dcgan_tf.data.datasets.DATASETS`).
        data_dir: Where the dataset's files are; `None` for embedded data.
        verify: Check known file sizes/checksums (SVHN).
        epochs: Passes over the training split.
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
            AVX512-BF16 or AMX, GPUs of compute capability 8.0+: 1.7-2.2x faster here), else fp32.
        keep_checkpoints: How many recent checkpoints to keep.
        steps_per_execution: Train steps per `tf.function` call.
        sample_grid: Samples in the per-epoch PNG grid (a square number).
        max_minutes: Stop after the step that crosses this many minutes of training in this
            invocation (a checkpoint is written); `None` for no limit.
        score_every: Log a cheap KID (2000 samples, classifier space of the labelled training
            data) every this many epochs; 0 turns it off.
    """

    out: str = "runs/default"
    dataset: str = "digits"
    data_dir: str | None = None
    verify: bool = True
    epochs: int = 25
    max_steps: int | None = None
    batch_size: int = 128
    lr: float = 2e-4
    beta1: float = 0.5
    seed: int = 0
    strategy: str = "auto"
    jit: str = "auto"
    precision: str = "auto"
    keep_checkpoints: int = 5
    steps_per_execution: int = 1
    sample_grid: int = 64
    max_minutes: float | None = None
    score_every: int = 0

    def __post_init__(self):
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
        for name in ("epochs", "batch_size", "keep_checkpoints", "steps_per_execution"):
            if getattr(self, name) < 1:
                raise ValueError(f"Expected `{name}` >= 1. Received: {name}={getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"Expected `max_steps` >= 1. Received: max_steps={self.max_steps}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"Expected `max_minutes` > 0. Received: max_minutes={self.max_minutes}")
        if self.score_every < 0:
            raise ValueError(f"Expected `score_every` >= 0. Received: score_every={self.score_every}")
        if self.lr <= 0:
            raise ValueError(f"Expected `lr` > 0. Received: lr={self.lr}")
        if not 0 <= self.beta1 < 1:
            raise ValueError(f"Expected `beta1` in [0, 1). Received: beta1={self.beta1}")
        root = math.isqrt(self.sample_grid)
        if root * root != self.sample_grid:
            raise ValueError(
                f"Expected `sample_grid` to be a square number. Received: sample_grid={self.sample_grid}"
            )

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


def save_json(path, payload):
    """Writes `payload` as indented JSON, atomically (temp file, then rename)."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
