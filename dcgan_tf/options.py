"""The one declaration of every option: its flag, help, type, bounds, group and role.

The configuration dataclasses (`dcgan_tf.config`) take their fields from here, the recipe
presets (`dcgan_tf.recipes`) may only set options whose role is `RECIPE`, a resume
(`dcgan_tf.training.resume`) keeps every `MODEL` option of the run, and the command-line
options of every `dcgan-tf` command are generated from these declarations (`cli/schema.py`).
TensorFlow-, NumPy- and Click-free, so that `dcgan-tf --help` stays fast.
"""

import dataclasses
import math
import os
import re

from dcgan_tf import paths

# Roles: the variables of a checkpoint depend on a MODEL option (a resume keeps the run's and
# refuses a contradicting one); a recipe preset may set a RECIPE option; RUN_TIME options may
# change on every launch.
MODEL, RECIPE, RUN_TIME = "model", "recipe", "run-time"
# Sections of `--help`, in this order.
GROUPS = {
    "data": "Data",
    "model": "Model",
    "recipe": "Recipe (presets of departures from the paper)",
    "optimisation": "Optimisation",
    "speed": "Speed",
    "output": "Output",
    "run": "Run",
}
# Largest seed: every random library the commands use takes it (NumPy, TensorFlow, Keras).
MAX_SEED = 2**31 - 1
# Longest model name: NAME-portable and the hidden work folders fit a 255-byte file name.
MAX_NAME = 200
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclasses.dataclass(frozen=True)
class Option:
    """One option: what the user types, what it means, and what values it takes.

    Args:
        name: The parameter: a config field or a command function's argument.
        help: One or two sentences for `--help`.
        type: `int`, `float`, `str` or `bool`.
        default: The value when not given.
        group: A key of `GROUPS`.
        role: `MODEL`, `RECIPE` or `RUN_TIME`.
        flag: The flag; defaults to `--` + the name with dashes (`RUN` for the positional
            run directory of `train`).
        choices: The allowed values, for a choice.
        low, high: Bounds of a number; `None` for none.
        low_open, high_open: Whether a bound is excluded.
        words: Words a number option also takes (e.g. `"auto"`, `"all"`).
        check: Extra check of a value (raises `ValueError`), e.g. a power of 2.
        path: `"dir"`, `"file"` or `"any"` for a path; `"existing-dir"`, `"existing-file"`
            when it must exist.
        metavar: What `--help` shows for the value.
        is_flag: An on-only flag; `negatable` gives it a `--no-` twin.
        multiple: Repeatable.
        choices_from: `"module:NAME"` of a tuple of choices kept by a higher stage (the
            dataset registry), which the command line offers; the library checks the value.
        state: For a `MODEL` option of `TrainConfig`: what the option adds to the checkpoint,
            and `state_key`, the part of its value that decides the variables.
    """

    name: str
    help: str
    type: type = str
    default: object = None
    group: str = "run"
    role: str = RUN_TIME
    flag: str | None = None
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    words: tuple = ()
    check: object = None
    path: str | None = None
    metavar: str | None = None
    is_flag: bool = False
    negatable: bool = False
    multiple: bool = False
    state: str | None = None
    state_key: object = None
    choices_from: str | None = None

    @property
    def flag_name(self):
        """The flag as typed, e.g. `--g-ema`."""
        return self.flag or "--" + self.name.replace("_", "-")

    def bounds(self):
        """The range as words, e.g. `"in [0, 1)"`, `">= 1"`; `""` without bounds."""
        low, high = (None if b is None else (int(b) if self.type is int else b)
                     for b in (self.low, self.high))
        if low is not None and high is not None:
            left, right = "([" [not self.low_open], ")]" [not self.high_open]
            return f"in {left}{low}, {high}{right}"
        if low is not None:
            return f"{'>' if self.low_open else '>='} {low}"
        if high is not None:
            return f"{'<' if self.high_open else '<='} {high}"
        return ""

    def validate(self, value):
        """Checks `value` against the declaration; `None` passes (not set).

        Raises:
            ValueError: "Expected `name` ... Received: name=value", with the range.
        """
        if value is None or value in self.words:
            return value
        name = self.name
        expected = None
        if self.choices is not None and value not in self.choices:
            expected = f"to be one of {self.choices}"
        elif self.type in (int, float) and (isinstance(value, bool) or not isinstance(
                value, (int, float) if self.type is float else int)):
            kind = "an integer" if self.type is int else "a number"
            words = " or ".join(repr(w) for w in self.words)
            expected = f"to be {kind}{' or ' + words if words else ''}"
        elif self.type in (int, float) and not self._in_range(value):
            expected = self.bounds()
        if expected:
            raise ValueError(f"Expected `{name}` {expected}. Received: {name}={value!r}")
        if self.path is not None and isinstance(value, (str, os.PathLike)):
            paths.check_name_lengths(value, name)
        if self.check is not None:
            self.check(value)
        return value

    def _in_range(self, value):
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or value < self.high or (not self.high_open and value == self.high)


def check_seed_span(seed, n):
    """Refuses samples whose seeds `seed .. seed + n - 1` pass `MAX_SEED`, the largest seed
    `--seed` takes, so that `--seed SEED+i --n 1` can redraw every image alone.

    Raises:
        ValueError: the last seed is above `MAX_SEED`; the message names the largest start.
    """
    if seed + n - 1 > MAX_SEED:
        raise ValueError(
            f"Expected the seeds `seed` .. `seed` + `n` - 1 to end by {MAX_SEED}, the largest "
            f"seed: pass --seed {MAX_SEED - n + 1} or less for n={n}. Received: seed={seed}, "
            f"n={n} (last seed {seed + n - 1})")


def _power_of_two(value):
    if value & (value - 1):
        raise ValueError(f"Expected `image_size` to be a power of 2 >= 32 and <= 4096. "
                         f"Received: image_size={value}")


def _model_name(value):
    if not _NAME.fullmatch(value) or len(value) > MAX_NAME:
        raise ValueError(
            f"Expected `name` to be 1 to {MAX_NAME} letters, digits, '_', '.' or '-', not starting "
            f"with '.' or '-'. Received: name={value[:40]!r}{'...' if len(value) > 40 else ''} "
            f"({len(value)} characters)")


def _json_path(value):
    paths.check_name_lengths(value, "json_path")  # A path, or '-' for stdout.


def _checkpoint(value):
    if value not in ("last", "best") and not str(value).isdigit():
        raise ValueError(f"Expected `checkpoint` to be 'last', 'best' or a step number. "
                         f"Received: checkpoint={value!r}")


AUGMENTATIONS = ("translation", "cutout", "color", "flip")


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


def _layers(value):
    if value != "all":
        parts = [p.strip() for p in str(value).split(",")]
        if not parts or not all(p.isdigit() for p in parts) or len(set(parts)) != len(parts):
            raise ValueError("Expected `layers` to be 'all' or distinct comma-separated block "
                             f"indices. Received: layers={value!r}")


EXPORT_FORMATS = ("savedmodel", "tflite", "onnx", "web")


def _formats(value):
    names = [n.strip() for n in str(value).split(",") if n.strip()]
    if not names or any(n not in EXPORT_FORMATS for n in names):
        raise ValueError(f"Expected `format` to be a comma list of {', '.join(EXPORT_FORMATS)}. "
                         f"Received: format={value!r}")


def _c_grid(value):
    try:
        grid = [float(c) for c in str(value).replace(",", " ").split()]
    except ValueError:
        grid = []
    if not grid or not all(math.isfinite(c) and c > 0 for c in grid):
        raise ValueError("Expected `c_grid` to be finite positive numbers, e.g. "
                         f"'1e-4,1e-3,1e-2'. Received: c_grid={value!r}")


def _int_list(value, name, low=0):
    try:
        numbers = [int(v) for v in str(value).replace(" ", "").split(",") if v != ""]
    except ValueError:
        numbers = []
    if not numbers or min(numbers) < low:
        raise ValueError(f"Expected `{name}` to be comma-separated integers >= {low}. "
                         f"Received: {name}={value!r}")


def _ints_check(name, low=0):
    return lambda value: _int_list(value, name, low)


def _concept(value):
    name, sep, indices = str(value).partition("=")
    if not sep or not name.strip().isidentifier():
        raise ValueError("Expected `concept` to be NAME=I,J,K (e.g. smiling_woman=3,17,42). "
                         f"Received: concept={value!r}")
    _int_list(indices, "concept")


def _o(name, help, **kw):
    return Option(name, help, **kw)


_SEED = dict(type=int, low=0, high=MAX_SEED, default=0)
_FRACTION = dict(type=float, low=0, high=1, high_open=True)
_POSITIVE = dict(type=float, low=0, low_open=True)

OPTIONS = {o.name: o for o in (
    # Data.
    _o("dataset", "Dataset. Default: the export's (or the run's) dataset; digits for a new "
       "training run. digits is embedded (scikit-learn); the others read --data-dir.",
       choices_from="dcgan_tf.data.registry:DATASETS", group="data"),
    _o("data_dir", "Directory holding the dataset's files (the .npz file for --dataset npz). "
       "Default: the run's or the dataset's own.", path="any", group="data"),
    _o("verify", "Check the size/sha256 of known files (SVHN).", type=bool, default=True,
       negatable=True, group="data"),
    _o("split", "Split of the real images.", choices=("test", "train"), default="test",
       group="data"),
    # Model (resumed from the checkpoint).
    _o("image_size", "Model image side, a power of 2. Default: the dataset's.", type=int,
       low=32, high=4096, check=_power_of_two, default=32, group="model", role=MODEL),
    _o("channels", "Image channels (1 grey, 3 RGB). Default: the dataset's.", type=int,
       choices=(1, 3), default=1, group="model", role=MODEL),
    _o("z_dim", "Latent width.", type=int, low=1, high=4096, default=100, group="model",
       role=MODEL),
    _o("z_dist", "Latent distribution: uniform in [-1, 1] (paper) or normal.",
       choices=("uniform", "normal"), default="uniform", group="model", role=MODEL),
    _o("ngf", "Generator width of the last hidden block (128 = the paper's Figure 1); "
       "digits defaults to 32.", type=int, low=1, high=4096, default=64, group="model",
       role=MODEL),
    _o("ndf", "Discriminator width of the first block, doubling each block; digits defaults "
       "to 32.", type=int, low=1, high=4096, default=64, group="model", role=MODEL),
    _o("kernel_size", "Conv kernel size (the paper's figure uses 5).", type=int, choices=(4, 5),
       default=4, group="model", role=MODEL),
    _o("bn_momentum", "Batch-norm momentum (Keras' convention).", type=float, low=0, high=1,
       high_open=True, default=0.9, group="model", role=MODEL),
    _o("conditional", "Feed the class label to both networks (the paper's conditional MNIST "
       "model); --num-classes sets K.", type=bool, default=False, is_flag=True, group="model",
       role=MODEL),
    _o("num_classes", "Classes of a conditional model (0: unconditional; --conditional "
       "alone: 10).", type=int, low=0, high=10_000, default=0, group="model", role=MODEL),
    _o("spectral_norm", "Spectral normalisation of D's layers (Miyato et al. 2018).", type=bool,
       default=False, negatable=True, group="recipe", role=MODEL),
    _o("labels", "Class-balanced labelled training images (the labelled draw), or 'all'. "
       "train: a semi-supervised K+1-class D (Salimans et al. 2016) trained on the probe's "
       "draw 0 of this many, feature matching for G (default: none); probe: per draw "
       "(default: 1000).", type=int, low=0, high=10**9, words=("all",), group="recipe",
       role=MODEL, metavar="N|all"),
    _o("label_seed", "Seed of the labelled draw: the probe's draws, and the draw 0 a "
       "semi-supervised run labels.", group="recipe", role=MODEL, **_SEED),
    _o("label_validation", "Validation images of the labelled draw, never labelled.", type=int,
       low=0, high=10**9, default=10_000, group="recipe", role=MODEL),
    _o("label_classes", "K of a semi-supervised D; filled in from the dataset.", type=int,
       low=0, high=10_000, default=0, group="model", role=MODEL),
    _o("d_dropout", "Dropout rate after each of D's blocks in training (Salimans et al. 2016 "
       "use 0.5).", default=0.0, group="recipe", role=MODEL, **_FRACTION),
    _o("d_head", "What a semi-supervised D's class logits read: its flattened last block, or "
       "its global average.", choices=("flatten", "pool"), default="flatten", group="recipe",
       role=MODEL),
    # Recipe options that add heads or averages: model state of TrainConfig.
    _o("recipe", "Preset of the recipe options; paper = section 4 with all of them off; auto = "
       "the best measured at equal wall-clock budgets (docs/results.md). Explicit flags "
       "override the preset.", default="auto", group="recipe", role=RECIPE,
       choices=("paper", "ssgan", "diffaug", "sngan", "pyramid", "contrastive", "semi",
                "ssgan-da", "auto")),
    _o("rotation_weight", "D's self-supervised rotation loss weight (Chen et al. 2019; 0: off).",
       type=float, low=0, high=1e6, default=0.0, group="recipe", role=MODEL,
       state="D's rotation head", state_key=bool),
    _o("rotation_weight_g", "G's rotation loss weight on its images (needs --rotation-weight).",
       type=float, low=0, high=1e6, default=0.0, group="recipe", role=RECIPE),
    _o("contrastive_weight", "D's contrastive (SimCLR NT-Xent) loss weight on two views of each "
       "real image (0: off).", type=float, low=0, high=1e6, default=0.0, group="recipe",
       role=MODEL, state="D's projection head", state_key=bool),
    _o("contrastive_temperature", "NT-Xent temperature.", type=float, low=0, high=1e6,
       low_open=True, default=0.5, group="recipe", role=RECIPE),
    _o("diffaugment", "DiffAugment policies for D's inputs, real and fake: a comma list of "
       "translation,cutout,color,flip ('' = none).", default="", group="recipe", role=RECIPE,
       check=parse_policies),
    _o("d_lr", "D's Adam learning rate. Default: --lr.", type=float, low=0, high=1,
       low_open=True, group="recipe", role=RECIPE),
    _o("g_lr", "G's Adam learning rate. Default: --lr.", type=float, low=0, high=1,
       low_open=True, group="recipe", role=RECIPE),
    _o("g_ema", "Keep an exponential moving average of G's weights with this decay (e.g. "
       "0.999; Yazici et al. 2019); `export --generator ema` serves it. 0: off.", default=0.0,
       group="recipe", role=MODEL, state="the generator's weight average", state_key=bool,
       **_FRACTION),
    # Optimisation.
    _o("epochs", "Passes over the data. Default: 60 for digits, else 25.", type=int, low=1,
       high=10**6, group="optimisation"),
    _o("max_steps", "Stop after this many total steps.", type=int, low=1, high=10**12,
       group="optimisation"),
    _o("max_minutes", "Stop after the step that crosses this many minutes of training "
       "(checkpoint written); a re-run trains this long again.", type=float, low=0,
       high=10**7, low_open=True, group="optimisation"),
    _o("batch_size", "Global batch size, split across replicas (paper: 128).", type=int, low=1,
       high=65536, default=128, group="optimisation"),
    _o("lr", "Adam learning rate (paper: 2e-4).", type=float, low=0, high=1, low_open=True,
       default=2e-4, group="optimisation"),
    _o("beta1", "Adam beta_1 (paper: 0.5).", default=0.5, group="optimisation", **_FRACTION),
    _o("seed", "Seed of the command's random draws (weights, z, data order, subsets): same "
       "seed, same result.", group="optimisation", **_SEED),
    # Speed.
    _o("strategy", "auto: multiworker if TF_CONFIG is set, mirrored on several GPUs, else "
       "default.", choices=("auto", "default", "mirrored", "multiworker"), default="auto",
       group="speed"),
    _o("jit", "XLA. train: auto = on for GPUs, off on CPU (measured slower there). export: "
       "XLA-compile the generating signatures (TF Serving then needs "
       "--xla_cpu_compilation_enabled=true).", choices=("auto", "on", "off"), default="auto",
       group="speed"),
    _o("precision", "auto: bf16 mixed precision where the hardware has it (AVX512-BF16/AMX "
       "CPUs, Ampere+ GPUs), else fp32. fp16 uses loss scaling.",
       choices=("auto", "fp32", "bf16", "fp16"), default="auto", group="speed", role=MODEL,
       state="fp16's loss-scale variables", state_key=lambda value: value == "fp16"),
    _o("steps_per_execution", "Most train steps per tf.function call (a divisor of the "
       "epoch's steps is used); auto: up to 16.", type=int, low=1, high=10**6, words=("auto",),
       default="auto", group="speed", metavar="N|auto"),
    # Output.
    _o("out", "Run directory (checkpoints, samples, logs, config.json). Default: "
       "runs/<dataset>.", flag="RUN", path="dir", group="output", metavar="RUN"),
    _o("keep_checkpoints", "Recent checkpoints to keep (the best-scoring one is kept too).",
       flag="--keep", type=int, low=1, high=10**6, default=5, group="output"),
    _o("sample_grid", "Samples in the per-epoch PNG grid (a square number).", type=int, low=1,
       high=4096, default=64, group="output"),
    _o("score_every", "Log KID (2000 samples, classifier space of the labelled data) every N "
       "epochs; export --checkpoint best then picks the lowest. 0: off.", type=int, low=0,
       high=10**6, default=0, group="output"),
    _o("monitor_every", "Samples, diversity figures and a checkpoint every N epochs; 0: "
       "scheduled by their measured cost (first and last epoch always).", type=int, low=0,
       high=10**6, default=0, group="output"),
    # Features read out of D (an export's `features` signature).
    _o("layers", "D blocks in the features signature: 'all' (paper) or indices, e.g. '1,2'. "
       "Default: the run's recipe.", flag="--feature-layers", default="all", group="model",
       role=RECIPE, check=_layers),
    _o("pooling", "4x4 max-pooling grid (paper) or a 1x1+2x2+4x4 pyramid. Default: the run's "
       "recipe.", flag="--feature-pooling", choices=("4x4", "pyramid"), default="4x4",
       group="model", role=RECIPE),
    _o("activation", "Block outputs after the LeakyReLU (paper) or before it. Default: the "
       "run's recipe.", flag="--feature-activation", choices=("post", "pre"), default="post",
       group="model", role=RECIPE),
    _o("flip", "Average each image's features with its mirror image's. Default: the run's "
       "recipe.", flag="--feature-flip", type=bool, default=False, negatable=True,
       group="model", role=RECIPE),
    _o("shift", "Also average the features of the image shifted by N pixels each way (0: "
       "off). Default: the run's recipe.", flag="--feature-shift", type=int, low=0, high=64,
       default=0, group="model", role=RECIPE),
    _o("power", "Signed square root of each feature (power normalisation). Default: the run's "
       "recipe.", flag="--feature-power", type=bool, default=False, negatable=True,
       group="model", role=RECIPE),
    # Reports.
    _o("json_path", "Write the full report here as JSON ('-' or a bare --json: stdout).",
       flag="--json", metavar="PATH", check=_json_path, group="output"),
    _o("quiet", "No progress output.", type=bool, default=False, is_flag=True, group="output"),
    _o("dry_run", "Print the resolved configuration as JSON and exit.", type=bool,
       default=False, is_flag=True, group="run"),
)}

# The export a command reads, and the model name/version of a TF Serving model.
OPTIONS.update({o.name: o for o in (
    _o("model", "An export: a SavedModel version directory, or its model directory (newest "
       "version).", path="existing-dir", group="data"),
    _o("server", "TF Serving instead of --model: REST (http://localhost:8501) or gRPC "
       "(grpc://localhost:8500).", group="data", metavar="URL"),
    _o("name", f"Model name (under --base-path, or on --server): letters, digits, '_', '.' or "
       f"'-', at most {MAX_NAME} characters.", check=_model_name, group="data"),
    _o("version", "Model version (on --server, or the one export writes). Default: the newest "
       "(export: one more).", type=int, low=1, high=2**63 - 1, group="data"),
    _o("timeout", "Seconds a whole call to --server may take.", type=float, low=0,
       high=86_400, low_open=True, default=30.0, group="run"),
    _o("checkpoint", "'last', 'best' (lowest logged KID with --score-every, else best "
       "diversity) or a step number.", default="last", check=_checkpoint, group="data"),
    _o("out_dir", "Output folder for the command's files.", flag="--out", path="dir",
       group="output"),
    _o("n", "Images the command makes or reads.", type=int, low=1, high=10**6,
       group="run"),
    _o("scale", "Upscale the PNG grids (nearest neighbour).", type=int, low=1, high=16,
       default=1, group="output"),
    _o("cache_dir", "Cache of features and classifiers. Default: ~/.cache/dcgan-tf.", path="dir",
       group="speed"),
    _o("no_cache", "Recompute; write no cache.", type=bool, default=False, is_flag=True,
       group="speed"),
    _o("z_file", "z from `dcgan-tf sample --save-z` (.npy); indices are its rows.", flag="--z",
       path="existing-file", group="data"),
)})

# `export`.
OPTIONS.update({o.name: o for o in (
    _o("formats", "Comma list of savedmodel, tflite, onnx, web. The portable ones go to "
       "--portable-dir (see docs/portable.md).", flag="--format", default="savedmodel",
       check=_formats,
       group="output", metavar="LIST"),
    _o("portable_dir", "Folder of the portable formats. Default: BASE/NAME-portable/VERSION, "
       "VERSION being the SavedModel version written with them.", path="dir", group="output"),
    _o("base_path", "TF Serving's model base path (the export location); models.config there "
       "lists every model.", path="dir", default="savedmodels", group="output"),
    _o("overwrite", "Replace --version if it exists.", type=bool, default=False, is_flag=True,
       group="output"),
    _o("serving_root", "Where the server sees --base-path, for models.config's base_path "
       "entries (absolute). Default: keep the file's, or /models.", group="output"),
    _o("serving_precision", "The generating signatures' compute dtype (inputs and outputs stay "
       "float32); bf16 serves faster only on CPUs with native bf16 (docs/results.md).",
       choices=("fp32", "bf16"), default="fp32", group="speed"),
    _o("generator", "The trained generator, or its weight average (a run trained with --g-ema), "
       "with batch norm re-estimated for the averaged weights.", choices=("raw", "ema"),
       default="raw", group="model"),
)})

# `sample`, `explore`.
OPTIONS.update({o.name: o for o in (
    _o("out_file", "The image file to write.", flag="--out-file", path="file",
       default="grid.png", group="output"),
    _o("show_index", "Label each cell with its index (row-major).", type=bool, default=False,
       is_flag=True, group="output"),
    _o("save_z", "Save the z used, float32 (n, z_dim), as .npy.", path="file", group="output"),
    _o("request_format", "REST request layout with an http:// --server: row (instances) or "
       "columnar (inputs).", choices=("row", "columnar"), default="row", group="run"),
    _o("index_size", "Training images in the nearest-image index (0: all).", type=int, low=0,
       high=10**7, default=2000, group="data"),
    _o("port", "Served on 127.0.0.1 only.", type=int, low=1, high=65535, default=7860,
       group="run"),
)})

# `probe`, `score`.
OPTIONS.update({o.name: o for o in (
    _o("classifier", "Read-out on the pooled discriminator features: svm, LinearSVC's linear "
       "L2-SVM (squared hinge, L2 penalty), the paper's.", choices=("svm",), default="svm",
       group="run"),
    _o("validation", "Validation examples from the training split (at most 20% of it).",
       type=int, low=1, high=10**7, default=10_000, group="data"),
    _o("repeats", "Draws of the labelled subset; mean and std are over them.", type=int, low=1,
       high=1000, default=10, group="run"),
    _o("c_grid", "SVM C values searched on the validation set (comma list of positive "
       "numbers).", default="0.0001,0.001,0.01,0.1,1,10", group="optimisation", metavar="LIST",
       check=_c_grid),
    _o("solver", "gram: Newton's method in the eigenbasis of the N x N Gram matrix, primal: of "
       "the F x F covariance, newton: in the dual; liblinear: LinearSVC itself; auto: primal "
       "when labels outnumber features, else gram.",
       choices=("auto", "gram", "primal", "newton", "liblinear"), default="auto",
       group="optimisation"),
    _o("baseline", "Probe a baseline instead: random (untrained) D, raw pixels, or the D "
       "architecture trained supervised on the labels.",
       choices=("none", "random", "pixels", "supervised"), default="none", group="run"),
    _o("search_every_draw", "--baseline supervised: search (lr, dropout, epochs) on every draw, "
       "not only the first (4-5x slower).", type=bool, default=False, is_flag=True,
       group="optimisation"),
    _o("feature_batch_size", "Images per call of the features signature.", type=int, low=1,
       high=65536, default=256, group="speed"),
    _o("cache_max_gb", "Keep the feature cache under this size: least recently used first out.",
       type=float, low=0, high=1e6, low_open=True, default=20.0, group="speed"),
    _o("feature_space", "classifier: a small CNN trained (once, cached) on the dataset's "
       "labelled training split; inception: Inception-v3 pool features (the usual FID space).",
       choices=("classifier", "inception"), default="classifier", group="run"),
    _o("inception_weights", "Inception-v3 notop weights file, for offline use. Default: Keras' "
       "'imagenet'.", path="existing-file", group="data"),
    _o("kid_subsets", "KID subsets; KID is their mean +- std.", type=int, low=1, high=10_000,
       default=100, group="run"),
    _o("kid_subset_size", "Images per KID subset (at most N/2 are used).", type=int, low=2,
       high=10**6, default=1000, group="run"),
    _o("classifier_epochs", "Training epochs of the classifier space, at most 500 steps (part "
       "of its cache key).", type=int, low=1, high=1000, default=10, group="optimisation"),
)})

# The investigations.
OPTIONS.update({o.name: o for o in (
    _o("walks", "One walk through these grid indices; repeat for more walks (one row each).",
       flag="--walk-indices", metavar="I,J[,K...]", multiple=True, group="run",
       check=_ints_check("walks")),
    _o("num_walks", "Without --walk-indices: this many walks through indices 0,1 | 2,3 | ...",
       type=int, low=1, high=1000, default=4, group="run"),
    _o("points", "Without --walk-indices: z per walk.", type=int, low=2, high=1000, default=2,
       group="run"),
    _o("steps", "Frames per leg, both ends included.", type=int, low=2, high=1000, default=10,
       group="run"),
    _o("method", "lerp, slerp, or one PNG of each.", choices=("linear", "spherical", "both"),
       default="both", group="run"),
    _o("concepts", "A concept: the mean z of these grid indices (3 in the paper); repeat.",
       flag="--concept", metavar="NAME=I,J,K", multiple=True, group="run", check=_concept),
    _o("expression", "Expression over concept names, e.g. 'smiling_woman - neutral_woman + "
       "neutral_man'.", flag="--expr", group="run"),
    _o("turn", "Also walk between these two concept means (turn.png).", metavar="FROM,TO",
       group="run"),
    _o("turn_steps", "Frames of the --turn walk.", type=int, low=2, high=1000, default=8,
       group="run"),
    _o("noise", "Neighbours: z + U(-noise, noise) (paper: 0.25).", type=float, low=0, high=100,
       default=0.25, group="run"),
    _o("neighbours", "Noisy neighbours of the result.", type=int, low=0, high=1000, default=8,
       group="run"),
    _o("noise_seed", "Seed of the neighbours' noise.", **_SEED),
    _o("max_train", "Random subset of training images compared with (0: all).", type=int,
       low=0, high=10**8, default=10_000, group="data"),
    _o("n_heldout", "Held-out (test split) images. Default: --n.", flag="--heldout", type=int,
       low=1, high=10**8, group="data"),
    _o("k", "Neighbours shown per sample and space.", type=int, low=1, high=20, default=3,
       group="output"),
    _o("show", "Samples shown in nearest.png.", type=int, low=1, high=64, default=8,
       group="output"),
    _o("layer", "Discriminator block, e.g. conv2_lrelu. Default: the last.", group="model"),
    _o("channels_shown", "Discriminator channels to show. Default: the most active ones.",
       flag="--d-channels", metavar="C1,C2,...", group="output",
       check=_ints_check("channels")),
    _o("num_channels", "Without --d-channels: this many discriminator channels.", type=int,
       low=1, high=64, default=6, flag="--num-d-channels", group="output"),
    _o("top", "Top activating images (and maps) per channel.", type=int, low=1, high=16,
       default=4, group="output"),
    _o("n_images", "Training images searched.", flag="--images", type=int, low=1, high=10**8,
       default=2000, group="data"),
    _o("boxes_file", 'JSON {"sample_index": [[x0, y0, x1, y1], ...]} in pixels of the model '
       "image.", flag="--boxes", path="existing-file", group="data"),
    _o("maps", "Drop these feature maps instead.", metavar="M1,M2,...", group="run",
       check=_ints_check("maps")),
    _o("negatives", "Negative positions per positive.", type=float, low=0, high=1000,
       low_open=True, default=1.0, group="run"),
    _o("C", "Inverse L2 regularisation of the logistic regression.", flag="--C", type=float,
       low=0, high=1e9, low_open=True, default=1.0, group="optimisation"),
    _o("folder", "A folder of images (any size; searched recursively).", path="existing-dir",
       group="data"),
    _o("tfrecords", "TFRecord file of tf.train.Examples with an encoded 'image' or "
       "'image/encoded'; repeatable.", flag="--tfrecord", path="existing-file", multiple=True,
       group="data"),
    _o("npz", "A .npz with uint8 images (N, H, W, C) under 'x' (or its only array).",
       path="existing-file", group="data"),
    _o("remove", "Folder: move duplicates into OUT/removed/. TFRecord: write "
       "OUT/dedup.tfrecord.", type=bool, default=False, is_flag=True, group="output"),
    _o("threshold", "Code binarisation: zero (ReLU on), median (per unit) or a number.",
       default="zero", group="run"),
    _o("max_hamming", "Hashes within this many bits are duplicates (0: identical, the "
       "paper's).", type=int, low=0, high=64, default=4, group="run"),
    _o("ae_epochs", "Autoencoder training epochs.", type=int, low=1, high=10_000, default=40,
       group="optimisation"),
    _o("plant", "Self-check: plant this many exact, noisy and 1-pixel-shifted copies each; "
       "report precision and recall.", type=int, low=0, high=10**6, default=0, group="run"),
    _o("noise_std", "Noise of planted noisy copies, in levels of 255.", type=float, low=0,
       high=255, default=4.0, group="run"),
    _o("sizes", "Samples per class to classify with, one result per size (comma list).",
       default="10,100,1000", metavar="N1,N2,...", group="run", check=_ints_check("sizes", 1)),
    _o("test_limit", "Score on at most this many test images.", type=int, low=1, high=10**8,
       group="data"),
)})


def option(name):
    """The declaration of option `name`.

    Raises:
        KeyError: on an undeclared name.
    """
    return OPTIONS[name]


def field(name, **overrides):
    """A dataclass field whose default and metadata come from option `name`.

    Args:
        name: The option.
        **overrides: `default=` where a config's own default differs from the option's
            (e.g. `labels`: 0, no semi-supervised D).
    """
    opt = OPTIONS[name]
    return dataclasses.field(default=overrides.get("default", opt.default),
                             metadata={"option": opt})


def validate_fields(config):
    """Checks every field of a config dataclass against its option (the one validation)."""
    for f in dataclasses.fields(config):
        opt = f.metadata.get("option")
        if opt is not None:
            opt.validate(getattr(config, f.name))
