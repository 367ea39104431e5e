"""`dcgan-tf train`."""

import json
import sys

import click

from dcgan_tf_cli.quiet import Command
from dcgan_tf import config as C
from dcgan_tf.data.registry import DATASETS
from dcgan_tf import recipes

MODEL_FLAGS = ("image_size", "channels", "z_dim", "z_dist", "ngf", "ndf", "kernel_size",
               "spectral_norm", "labels", "label_seed", "d_dropout", "d_head")
# Recipe options: `None` when not given, so that the recipe's value applies.
RECIPE_TRAIN_FLAGS = ("d_lr", "g_lr", "rotation_weight", "rotation_weight_g", "contrastive_weight",
                      "contrastive_temperature", "diffaugment")


def _policies(ctx, param, value):
    if value is None:
        return None
    try:
        return ",".join(C.parse_policies(value))
    except ValueError:
        raise click.BadParameter(
            f"expected a comma-separated subset of {','.join(C.AUGMENTATIONS)} (or ''), got {value!r}"
        ) from None


def _steps_per_execution(ctx, param, value):
    if value == "auto":
        return value
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise click.BadParameter(f"expected 'auto' or an integer >= 1, got {value!r}.")
    return number


def _power_of_two(ctx, param, value):
    if value is not None and (value < 32 or value & (value - 1)):
        raise click.BadParameter(f"must be a power of 2 >= 32 (32, 64, 128, ...), got {value}")
    return value


@click.command(cls=Command)
@click.option("--dataset", type=click.Choice(DATASETS), default="digits", show_default=True,
              help="Training data; digits is embedded (scikit-learn), the others read --data-dir.")
@click.option("--data-dir", type=click.Path(),
              help="Directory holding the dataset's files (the .npz file for --dataset npz).")
@click.option("--no-verify", is_flag=True, help="Skip the size/sha256 check of known files (SVHN).")
@click.option("--out", help="Run directory (checkpoints, samples, logs). Default: runs/<dataset>.")
@click.option("--image-size", type=int, callback=_power_of_two, help="Model image size. Default: the dataset's.")
@click.option("--channels", type=click.Choice(["1", "3"]), help="Image channels. Default: the dataset's.")
@click.option("--z-dim", type=click.IntRange(min=1), help="Latent width. [default: 100]")
@click.option("--z-dist", type=click.Choice(C.Z_DISTRIBUTIONS), help="Latent distribution. [default: uniform]")
@click.option("--ngf", type=click.IntRange(min=1), help="Generator width (128 = the paper's Figure 1). [default: 64; digits 32]")
@click.option("--ndf", type=click.IntRange(min=1), help="Discriminator width. [default: 64; digits 32]")
@click.option("--kernel-size", type=click.Choice(["4", "5"]), help="Conv kernel size. [default: 4]")
@click.option("--conditional", is_flag=True,
              help="Feed the class label to both networks (the paper's conditional MNIST model).")
@click.option("--num-classes", type=click.IntRange(min=2), default=10, show_default=True,
              help="Classes of a --conditional model.")
@click.option("--epochs", type=click.IntRange(min=1),
              help="Passes over the data. [default: 60 for digits, else 25]")
@click.option("--max-steps", type=click.IntRange(min=1), help="Stop after this many total steps.")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True),
              help="Stop after the step (the call of up to --steps-per-execution steps) that "
                   "crosses this many minutes of training (checkpoint written); a re-run trains "
                   "this long again.")
@click.option("--score-every", type=click.IntRange(min=0), default=0, show_default=True,
              help="Log KID (2000 samples, classifier space of the labelled data) every N epochs; "
                   "export --checkpoint best then picks the lowest. 0: off.")
@click.option("--monitor-every", type=click.IntRange(min=0), default=0, show_default=True,
              help="Samples, diversity figures and a checkpoint every N epochs; 0: scheduled by "
                   "their measured cost, at most 2% of the run (first and last epoch always).")
@click.option("--batch-size", type=click.IntRange(min=1), default=128, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=2e-4, show_default=True)
@click.option("--beta1", type=click.FloatRange(0, 1, max_open=True), default=0.5, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--strategy", type=click.Choice(C.STRATEGIES), default="auto", show_default=True,
              help="auto: multiworker if TF_CONFIG is set, mirrored on several GPUs, else default.")
@click.option("--jit", type=click.Choice(C.JIT_MODES), default="auto", show_default=True,
              help="XLA; auto = on for GPUs, off on CPU (measured slower there).")
@click.option("--precision", type=click.Choice(C.PRECISIONS), default="auto", show_default=True,
              help="auto: bf16 mixed precision where the hardware has it (AVX512-BF16/AMX CPUs, "
                   "Ampere+ GPUs), else fp32. fp16 uses loss scaling.")
@click.option("--keep", "keep_checkpoints", type=click.IntRange(min=1), default=5, show_default=True,
              help="Recent checkpoints to keep (the best-scoring one is kept too).")
@click.option("--steps-per-execution", callback=_steps_per_execution, default="auto", show_default=True,
              help="Most train steps per tf.function call (a divisor of the epoch's steps is "
                   f"used); auto: up to {C.AUTO_STEPS_PER_EXECUTION}.")
@click.option("--recipe", type=click.Choice(recipes.NAMES), default="auto", show_default=True,
              help="Preset of the options below; paper = section 4 with all of them off; "
                   f"auto = {recipes.AUTO}, the best measured at equal wall-clock budgets "
                   "(benchmarks/README.md). Explicit flags override the preset.")
@click.option("--rotation-weight", type=click.FloatRange(min=0),
              help="D's self-supervised rotation loss weight (Chen et al. 2019; 0 = off).")
@click.option("--rotation-weight-g", type=click.FloatRange(min=0),
              help="G's rotation loss weight on its images (needs --rotation-weight > 0).")
@click.option("--contrastive-weight", type=click.FloatRange(min=0),
              help="D's contrastive (SimCLR NT-Xent) loss weight on two views of each real "
                   "image (0 = off).")
@click.option("--contrastive-temperature", type=click.FloatRange(min=0, min_open=True),
              help="NT-Xent temperature. Default: 0.5.")
@click.option("--diffaugment", callback=_policies,
              help="DiffAugment policies for D's inputs, real and fake: any of "
                   "translation,cutout,color,flip ('' = none).")
@click.option("--spectral-norm/--no-spectral-norm", default=None,
              help="Spectral normalisation of D's layers (Miyato et al. 2018).")
@click.option("--labels", type=click.IntRange(min=1),
              help="Semi-supervised D (Salimans et al. 2016): a K+1-class classifier trained on "
                   "this many class-balanced labelled images (the probe's draw 0 for --label-seed "
                   "and the probe's default validation set, whose labels are never used) and "
                   "the rest unlabelled, with feature matching for G. Exports get `classify`.")
@click.option("--label-seed", type=int,
              help="The probe seed whose draw 0 is labelled (`dcgan-tf probe --seed`). "
                   "[default: 0]")
@click.option("--d-dropout", type=click.FloatRange(0, 1, max_open=True),
              help="Dropout rate after each of D's blocks in training (Salimans et al. 2016 "
                   "use 0.5 to regularise a semi-supervised D's classifier). [default: 0]")
@click.option("--d-head", type=click.Choice(C.D_HEADS),
              help="What a semi-supervised D's class logits read: its flattened last block, "
                   "or that block's global average (Salimans et al. 2016). [default: flatten]")
@click.option("--g-ema", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
              help="Keep an exponential moving average of G's weights with this decay (e.g. "
                   "0.999; Yazici et al. 2019); `export --generator ema` serves it. 0: off.")
@click.option("--d-lr", type=click.FloatRange(min=0, min_open=True), help="D's learning rate. Default: --lr.")
@click.option("--g-lr", type=click.FloatRange(min=0, min_open=True), help="G's learning rate. Default: --lr.")
@click.option("--dry-run", is_flag=True, help="Print the resolved configuration and exit.")
def train(dataset, data_dir, no_verify, out, dry_run, conditional, num_classes, recipe, **flags):
    """Train a DCGAN; re-running the same command resumes from the last checkpoint.

    \b
    Writes into the run directory:
      checkpoints/ckpt-<step>/   at the end, and on --monitor-every's schedule (atomic)
      samples/epoch-NNNN.png     a grid from a fixed z, on the same schedule
      metrics.jsonl              one line per epoch; logs/ for TensorBoard
    \b
    Examples:
      dcgan-tf train
      dcgan-tf train --recipe paper                      # the paper's section 4, exactly
      dcgan-tf train --dataset svhn --data-dir ~/data/svhn --max-steps 5000
      dcgan-tf train --dataset folder --data-dir photos/ --image-size 64 --ngf 128
      dcgan-tf train --dataset fashion_mnist --conditional --out runs/cond
      dcgan-tf train --recipe ssgan --diffaugment translation,cutout
      dcgan-tf train --dataset cifar10 --data-dir ~/data/cifar10 --labels 1000 --g-ema 0.999
    """
    model_flags = {k: flags.pop(k) for k in MODEL_FLAGS}
    model_flags = {k: int(v) if k in ("channels", "kernel_size") else v
                   for k, v in model_flags.items() if v is not None}
    if conditional:
        model_flags["num_classes"] = num_classes
    for name in RECIPE_TRAIN_FLAGS:
        if flags[name] is None:
            del flags[name]
    # `out` and `epochs` left as None take TrainConfig's defaults (runs/<dataset>; 60 epochs
    # for digits, else 25), so that `TrainConfig()` in Python is this command's default run.
    flags.update(out=out, dataset=dataset, data_dir=data_dir, verify=not no_verify)
    # Without model flags or a recipe that changes the networks, the library picks the
    # dataset's shape, or the stored one when resuming.
    from dcgan_tf.data.datasets import native_shape

    preset_model = recipes.preset(recipe)[0]
    size, channels = native_shape(dataset, data_dir) if (model_flags or preset_model) else (32, 1)
    try:
        model_cfg, train_cfg, feature_cfg = recipes.apply(
            recipe, {"image_size": size, "channels": channels, **_default_width(dataset),
                     **model_flags}, flags, {})
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    if not (model_flags or preset_model):
        model_cfg = None
    if dry_run:
        click.echo(json.dumps({"train": train_cfg.to_dict(),
                               "model": model_cfg.to_dict() if model_cfg else "dataset default",
                               "features": feature_cfg.to_dict()}, indent=2))
        return

    from dcgan_tf.training.run import train as run_training

    _show_library_messages()
    # A live progress bar on a terminal, one line per epoch in logs.
    summary = run_training(train_cfg, model_cfg, verbose=1 if sys.stdout.isatty() else 2,
                           feature_cfg=feature_cfg, given=_given(recipe, flags))
    if summary["start_step"] == summary["step"]:
        click.echo(f"Nothing to do: {train_cfg.out} is already at step {summary['step']} "
                   "(raise --epochs or --max-steps to train on).")
    else:
        limit = " (stopped at --max-minutes)" if summary.get("timed_out") else ""
        click.echo(f"Trained steps {summary['start_step']}..{summary['step']} in "
                   f"{summary['seconds']:.1f}s{limit}. Checkpoint: {summary['checkpoint']}")
        click.echo(f"Samples: {train_cfg.out}/samples/latest.png  "
                   f"Metrics: {train_cfg.out}/metrics.jsonl")


def _default_width(dataset):
    """`ngf` and `ndf` of the dataset's default run (`config.DEFAULT_WIDTH`), where it has one."""
    width = C.DEFAULT_WIDTH.get(dataset)
    return {"ngf": width, "ndf": width} if width else {}


def _given(recipe, flags):
    """Names of the `TrainConfig` fields this command line sets: flags not at their default,
    and an explicit --recipe's options (a resume takes the others from the run)."""
    ctx = click.get_current_context()
    default = click.core.ParameterSource.DEFAULT
    given = {name for name in (*flags, "data_dir", "verify")
             if ctx.get_parameter_source({"verify": "no_verify"}.get(name, name)) not in (None, default)}
    if ctx.get_parameter_source("recipe") != default:
        given |= set(C.RECIPE_OPTIONS)  # A preset states all of them, the ones it leaves off too.
    return given


def _show_library_messages():
    """Prints the library's notes (resume point, skipped checkpoints, lock takeovers) as lines."""
    from dcgan_tf_cli.messages import show_library_messages

    show_library_messages()
