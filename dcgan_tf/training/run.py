"""Running a training job: strategy, data, model, callbacks, resume from the last checkpoint."""

import contextlib
import dataclasses
import functools
import logging
import os
import time

import keras
import tensorflow as tf

from dcgan_tf import locks, recipes
from dcgan_tf.hardware import cpu_flags, native_bf16, resolve_precision  # noqa: F401  (re-exported)
from dcgan_tf.atomic import disk_full, is_disk_full
from dcgan_tf.config import (
    DEFAULT_WIDTH, FeatureConfig, ModelConfig, TrainConfig, resume_train_config, steps_per_call,
)
from dcgan_tf.data import datasets as data
from dcgan_tf.data import splits
from dcgan_tf.training import checkpoint, history
from dcgan_tf.training import distribute
from dcgan_tf.training.gan import DCGAN
from dcgan_tf.training.kid import TrainingScorer
from dcgan_tf.training.models import (
    build_discriminator, build_generator, build_projection_head, build_rotation_head, dtype_policy,
)
from dcgan_tf.training.monitor import RunMonitor

logger = logging.getLogger("dcgan_tf")


class TrainingError(RuntimeError):
    """Training stopped for a reason the user must act on (e.g. a NaN loss)."""


def resolve_jit(mode):
    """XLA on or off: `"auto"` turns it on only on GPUs, where it pays (on CPU it measured slower)."""
    if mode == "auto":
        return bool(tf.config.list_logical_devices("GPU"))
    return mode == "on"


def kernel_grads_choice(precision, flags, gpu):
    """Which kernel gradient the small-image layers take (`models.KERNEL_GRAD_SIDES`), as a pure
    function of the facts it was measured on (`benchmarks/auto_choices.py`).

    Args:
        precision: The resolved precision, `"fp32"`, `"bf16"` or `"fp16"`.
        flags: The CPU's feature flags (a set of /proc/cpuinfo names).
        gpu: Whether training runs on a GPU.

    Returns:
        `"patches"` for bf16 on AMX (Xeon: the 4x4 layer 56 ms -> 18 ms; the dilated form is
        unmeasured there); `"dilated"` for bf16 on AVX512-BF16 without AMX (EPYC: the step
        1.08x (64 px) and 1.11-1.16x (32 px) over the patches'); else `"native"` (oneDNN's
        or the GPU library's own kernel).
    """
    if precision != "bf16" or gpu:
        return "native"
    if "amx_bf16" in flags:
        return "patches"
    return "dilated" if "avx512_bf16" in flags else "native"


def _has_gpu():
    return bool(tf.config.list_physical_devices("GPU"))


def kernel_grads_for(precision):
    """`kernel_grads_choice` on this machine."""
    return kernel_grads_choice(precision, cpu_flags(), _has_gpu())


def pipeline_threads(gpu):
    """The in-memory training pipeline's tf.data threads (`data.datasets.train_dataset`): one
    private thread on CPUs, where the autotuned pipeline left 9 of 28 fits of the same step at
    0.7x speed and the one-thread one none (`benchmarks/pipeline_threads.py`); autotuned on
    GPUs, where its parallel gathers keep the device fed (the one thread unmeasured there)."""
    return None if gpu else 1


def precision_policy(precision):
    """Keras dtype policy of `"auto"`, `"fp32"`, `"bf16"` or `"fp16"` (mixed precision)."""
    policy = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
    return policy[resolve_precision(precision)]


def build_gan(model_cfg, train_cfg, paired_d=False, kernel_grads=None, fused_bn=True):
    """Builds and compiles a `DCGAN` in the current strategy scope (paper's Adam settings).

    `paired_d=True` pairs D's convolutions on real and fake (see `DCGAN`), for benchmarks.
    `kernel_grads` (default: `kernel_grads_for(precision)`) is the small-image layers' kernel
    gradient (`"native"`, `"patches"`, `"dilated"`; `models.KERNEL_GRAD_SIDES`);
    `fused_bn=False` builds Keras' own batch norm instead of `fused_norm`'s (both for
    benchmarks).
    Layers take `train_cfg.precision`'s dtype policy when they are built; the global policy
    is restored afterwards, so nothing else in the process changes precision.
    """
    precision = resolve_precision(train_cfg.precision)
    if kernel_grads is None:
        kernel_grads = kernel_grads_for(precision)
    with dtype_policy(precision_policy(precision)):
        generator = build_generator(model_cfg, kernel_grads, fused_bn)
        discriminator = build_discriminator(model_cfg, kernel_grads, fused_bn)
        head = build_rotation_head(model_cfg) if train_cfg.rotation_weight else None
        projection = build_projection_head(model_cfg) if train_cfg.contrastive_weight else None
        ema_generator = (build_generator(model_cfg, kernel_grads, fused_bn)
                         if train_cfg.g_ema else None)
    gan = DCGAN(
        generator, discriminator, model_cfg.z_dim, model_cfg.z_dist, seed=train_cfg.seed,
        num_classes=model_cfg.num_classes, rotation_head=head,
        rotation_weight=train_cfg.rotation_weight, rotation_weight_g=train_cfg.rotation_weight_g,
        contrastive_head=projection, contrastive_weight=train_cfg.contrastive_weight,
        contrastive_temperature=train_cfg.contrastive_temperature,
        diffaugment=train_cfg.diffaugment, paired_d=paired_d,
        semi_supervised=model_cfg.semi_supervised, g_ema=train_cfg.g_ema,
        ema_generator=ema_generator,
    )

    def adam(lr):
        opt = keras.optimizers.Adam(lr, beta_1=train_cfg.beta1)
        return keras.optimizers.LossScaleOptimizer(opt) if precision == "fp16" else opt

    gan.compile(
        d_optimizer=adam(train_cfg.d_learning_rate),
        g_optimizer=adam(train_cfg.g_learning_rate),
        jit_compile=resolve_jit(train_cfg.jit),
    )
    checkpoint.build_optimizers(gan)
    return gan


def describe_settings(train_cfg, strategy):
    """One line: the precision, strategy and XLA setting this run uses, and what `auto` chose.

    Args:
        train_cfg: The run's `TrainConfig`.
        strategy: The `tf.distribute` strategy it trains under.

    Returns:
        E.g. "Precision bf16 (auto: native bf16 on this CPU), strategy default (auto: one
        device, CPU), XLA off (auto: CPU)."
    """
    gpus = len(tf.config.list_logical_devices("GPU"))
    device = f"{gpus} GPU{'s' if gpus > 1 else ''}" if gpus else "CPU"
    precision = resolve_precision(train_cfg.precision)
    native = "native bf16" if native_bf16() else "no native bf16"
    kind = {"MirroredStrategy": "mirrored", "MultiWorkerMirroredStrategy": "multiworker"}.get(
        type(strategy).__name__, "default")
    replicas = strategy.num_replicas_in_sync
    where = f"{replicas} replicas" if replicas > 1 else "one device"
    jit = "on" if resolve_jit(train_cfg.jit) else "off"

    def chosen(setting, why):
        return f" (auto: {why})" if setting == "auto" else ""

    return (f"Precision {precision}{chosen(train_cfg.precision, f'{native} on this {device}')}, "
            f"strategy {kind}{chosen(train_cfg.strategy, f'{where}, {device}')}, "
            f"XLA {jit}{chosen(train_cfg.jit, device)}.")


def plan_segments(done, total, steps_per_epoch):
    """Splits steps `done..total` into `fit` calls `(first_epoch, epochs, steps_per_epoch)`.

    A resumed run first finishes its partial epoch, so epochs stay aligned to the data.
    """
    segments = []
    while done < total:
        epoch = done // steps_per_epoch
        into = done % steps_per_epoch
        if into or total - done < steps_per_epoch:
            steps = min(steps_per_epoch - into, total - done)
            segments.append((epoch, 1, steps))
            done += steps
        else:
            full = (total - done) // steps_per_epoch
            segments.append((epoch, full, steps_per_epoch))
            done += full * steps_per_epoch
    return segments


def _with_label_classes(model_cfg, train_cfg):
    """`model_cfg` with K filled in from the dataset, for a semi-supervised D."""
    if model_cfg is None or not model_cfg.labels or model_cfg.label_classes:
        return model_cfg
    classes = data.load_split(train_cfg.dataset, "train", train_cfg.data_dir,
                              train_cfg.verify).num_classes if train_cfg.dataset in \
        data.IN_MEMORY_DATASETS else None
    if not classes:
        raise TrainingError(
            f"--labels needs a labelled in-memory dataset; {train_cfg.dataset} "
            f"({train_cfg.data_dir}) has no class labels to draw them from."
        )
    return dataclasses.replace(model_cfg, label_classes=int(classes))


def labelled_indices(model_cfg, train_cfg):
    """The training-split indices a semi-supervised run trains with labels: the probe's draw 0
    (`dcgan_tf.data.splits.labelled_subset`) for the run's `labels`, `label_seed` and
    `label_validation`; `None` for an unsupervised run."""
    if not model_cfg.semi_supervised:
        return None
    train = data.load_split(train_cfg.dataset, "train", train_cfg.data_dir, train_cfg.verify)
    try:
        chosen, _ = splits.labelled_subset(train.labels, train.num_classes, model_cfg.labels,
                                           model_cfg.label_seed, model_cfg.label_validation)
    except splits.SplitError as e:
        raise TrainingError(str(e)) from None
    return chosen


def _resolve_configs(train_cfg, model_cfg, given=None):
    """`(model_cfg, train_cfg, resuming)` of this launch: a resume keeps the stored model and
    model flags (`config.resume_train_config`) and refuses what does not fit the run."""
    config_path = os.path.join(train_cfg.out, "config.json")
    model_cfg = _with_label_classes(model_cfg, train_cfg)
    if os.path.isfile(config_path):
        saved_model_cfg, saved_train_cfg = checkpoint.read_run_config(train_cfg.out)
        try:
            train_cfg, notes = resume_train_config(saved_train_cfg, train_cfg, given)
        except ValueError as e:
            raise TrainingError(str(e)) from None
        for note in notes:
            logger.info("%s", note)
        if saved_train_cfg.data_dir != train_cfg.data_dir:
            logger.warning("Resuming with --data-dir %s, not the run's %s (recorded in the "
                           "run's segments).", train_cfg.data_dir, saved_train_cfg.data_dir)
        if model_cfg is not None and model_cfg != saved_model_cfg:
            raise TrainingError(
                f"{train_cfg.out} holds a run with a different model ({saved_model_cfg}). "
                "Use a new --out directory, or the same model flags to resume."
            )
        if saved_train_cfg.dataset != train_cfg.dataset:
            raise TrainingError(
                f"{train_cfg.out} holds a run on dataset {saved_train_cfg.dataset!r}, not "
                f"{train_cfg.dataset!r}. Use a new --out directory."
            )
        if saved_train_cfg.batch_size != train_cfg.batch_size:
            # Steps count batches: another size would shift every epoch boundary and the
            # position in the data that the resume continues from.
            raise TrainingError(
                f"{train_cfg.out} was trained with --batch-size {saved_train_cfg.batch_size}, "
                f"not {train_cfg.batch_size}. Resume with the same batch size, or use a new --out."
            )
        return saved_model_cfg, train_cfg, True
    if model_cfg is None:
        size, channels = data.native_shape(train_cfg.dataset, train_cfg.data_dir)
        width = DEFAULT_WIDTH.get(train_cfg.dataset)
        model_cfg = ModelConfig(image_size=size, channels=channels,
                                **({"ngf": width, "ndf": width} if width else {}))
    return model_cfg, train_cfg, False


def default_feature_config(train_cfg):
    """The read-out a run's exports default to when `train` is given none.

    A resumed run keeps what its `config.json` stores; a new one takes its recipe's (the
    default `auto` recipe's for `TrainConfig()`, as `dcgan-tf train` does).
    """
    if os.path.isfile(os.path.join(train_cfg.out, "config.json")):
        return checkpoint.read_feature_config(train_cfg.out)
    return recipes.feature_config(train_cfg.recipe)


def train(train_cfg: TrainConfig, model_cfg: ModelConfig | None = None, verbose="auto",
          feature_cfg: FeatureConfig | None = None, given=None):
    """Trains (or resumes) the run in `train_cfg.out` and returns a summary dict.

    The chief holds the run directory's lock throughout (`dcgan_tf.locks`). A resume
    continues from the last good checkpoint exactly where it stopped (weights, both
    optimizers, counters, z RNG, position in the data) with this launch's learning rates and
    beta1, and records the launch as a new segment in `config.json`.

    Args:
        train_cfg: Data, optimisation and bookkeeping settings.
        model_cfg: Model shape; `None` takes the dataset's native size and channels, or the
            stored config when resuming.
        verbose: Keras `fit` verbosity (progress bar).
        feature_cfg: The `features` signature an export of this run computes unless told
            otherwise; recorded in `config.json`. `None` keeps the stored one when resuming,
            else takes `train_cfg.recipe`'s (see `default_feature_config`).
        given: Names of the `train_cfg` fields set explicitly (the CLI's flags); on resume
            the model flags (`config.STATE_OPTIONS`) and recipe options not given come from
            the run's config. `None` counts every field as given.

    Returns:
        Dict with `run_dir`, `step`, `start_step`, `checkpoint`, `resumed_from`, `seconds`,
        `timed_out` (stopped by `max_minutes`) and `model`.

    Raises:
        TrainingError: on a NaN/inf loss or a run directory that does not match.
        locks.LockError: another process is writing the run directory.
        data.DataError: on missing or corrupt data.
    """
    strategy = distribute.get_strategy(train_cfg.strategy)
    keras.utils.set_random_seed(train_cfg.seed)
    chief = distribute.is_chief(strategy)
    # Only the chief writes; the other workers read the checkpoints it wrote.
    lock = locks.hold(train_cfg.out, "dcgan-tf train") if chief else contextlib.nullcontext()
    with lock:
        try:
            return _train(train_cfg, model_cfg, feature_cfg, strategy, chief, verbose, given)
        except Exception as e:
            if not is_disk_full(e):
                raise
            # One line instead of TensorFlow's; the last good checkpoint stays as it was.
            raise disk_full(train_cfg.out, _checkpoint_bytes(train_cfg.out)) from None


def _checkpoint_bytes(run_dir):
    """Bytes of the run's newest checkpoint: about what the next one needs; `None` if none."""
    found = checkpoint.list_checkpoints(run_dir)
    if not found:
        return None
    path = found[-1][1]
    return sum(e.stat().st_size for e in os.scandir(path) if e.is_file()) or None


def _train(train_cfg, model_cfg, feature_cfg, strategy, chief, verbose, given=None):
    model_cfg, train_cfg, resuming = _resolve_configs(train_cfg, model_cfg, given)
    if resuming and given is not None and "recipe" not in given:
        feature_cfg = None  # The run's recipe, hence its read-out.
    run_dir = train_cfg.out
    if chief:
        checkpoint.remove_stale(run_dir)
    with strategy.scope():
        gan = build_gan(model_cfg, train_cfg)
    resumed_from, launches = None, []
    if checkpoint.list_checkpoints(run_dir):
        resumed_from = checkpoint.select(run_dir, "last")
        meta = _resume(gan, resumed_from)
        launches = checkpoint.read_segments(run_dir)
        if chief:
            checkpoint.set_aside_after(run_dir, resumed_from)
            history.reconcile_metrics(run_dir, gan.step, meta.get("metrics"))
    elif chief:
        history.reconcile_metrics(run_dir, 0)  # Lines of a run killed before its first checkpoint.
    done = gan.step
    if chief:
        launches = history.new_segment(launches, train_cfg, done, resumed_from)
        feature_cfg = feature_cfg or default_feature_config(train_cfg)
        checkpoint.write_run_config(run_dir, model_cfg, train_cfg, launches, feature_cfg)

    make_dataset = functools.partial(
        data.train_dataset, train_cfg.dataset, model_cfg.image_size, model_cfg.channels,
        train_cfg.batch_size, seed=train_cfg.seed, data_dir=train_cfg.data_dir,
        verify=train_cfg.verify, strategy=strategy, with_labels=bool(model_cfg.num_classes),
        labelled=labelled_indices(model_cfg, train_cfg),
        threads=pipeline_threads(_has_gpu()),
    )
    dataset, num_examples = make_dataset()
    if chief:  # Once the data is known to load, so a data error stays the only line.
        logger.info(describe_settings(train_cfg, strategy))
    steps_per_epoch = num_examples // train_cfg.batch_size
    total = train_cfg.max_steps or train_cfg.epochs * steps_per_epoch
    start = time.perf_counter()
    segments = plan_segments(done, total, steps_per_epoch)
    timed_out = False
    if segments:
        timed_out = _fit(gan, dataset, make_dataset, segments, run_dir, train_cfg, model_cfg,
                         chief, verbose, total)
    return {
        "run_dir": run_dir,
        "step": gan.step,
        "start_step": done,
        "checkpoint": checkpoint.select(run_dir, "last") if chief else None,
        "resumed_from": resumed_from,
        "seconds": time.perf_counter() - start,
        "timed_out": timed_out,
        "model": model_cfg.to_dict(),
    }


def _resume(gan, path):
    """Restores `gan` from checkpoint `path`, keeping the learning rates this launch built.

    The checkpoint holds the optimizers' learning-rate variables as they were; the flags of
    this launch win, so that e.g. a lower --lr after a NaN takes effect (beta1 is not a
    variable, so the freshly built optimizers already carry it).
    """
    optimizers = (gan.d_optimizer, gan.g_optimizer)
    rates = [float(opt.learning_rate) for opt in optimizers]
    meta = checkpoint.restore(gan, path)
    for opt, rate in zip(optimizers, rates):
        opt.learning_rate = rate
    shown = ", ".join(f"{n} lr {float(o.learning_rate):.3g} beta1 {_beta1(o):.3g}"
                      for n, o in zip(("D", "G"), optimizers))
    logger.info("Resuming %s at step %d (epoch %d): %s.", os.path.basename(path), gan.step,
                meta.get("epoch", 0), shown)
    return meta


def _beta1(optimizer):
    return float(getattr(optimizer, "inner_optimizer", optimizer).beta_1)


def _set_steps_per_execution(gan, train_cfg, steps):
    """Sets the steps per call for a `fit` of `steps` steps per epoch (`steps_per_call`)."""
    setting = train_cfg.steps_per_execution
    # Keras' multi-step loop fails to run under MultiWorkerMirroredStrategy (an unfed
    # placeholder in its while loop, Keras 3.15): "auto" takes one step per call there.
    multi_worker = isinstance(gan.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy)
    if setting == "auto" and multi_worker:
        setting = 1
    count = steps_per_call(setting, steps)
    # Keras traces the multi-step loop with this count: a new count needs a new function.
    if gan.steps_per_execution != count:
        gan.steps_per_execution = count
        gan.train_function = None


def _fit(gan, dataset, make_dataset, segments, run_dir, train_cfg, model_cfg, chief, verbose,
         final_step):
    first = next(iter(dataset.take(1)))
    real_batch = (first[0] if isinstance(first, tuple) else first).numpy()[: train_cfg.sample_grid]
    writer = open(os.path.join(run_dir, "metrics.jsonl"), "a", encoding="utf-8") if chief else None
    scorer = None
    if train_cfg.score_every and chief:
        scorer = TrainingScorer(train_cfg.dataset, train_cfg.data_dir, seed=train_cfg.seed)
    monitor = RunMonitor(run_dir, train_cfg, model_cfg, real_batch, writer, scorer, final_step)
    # The monitor writes TensorBoard's scalars itself, on the step: Keras' TensorBoard callback
    # logs them against the epoch, off the step axis of the sample grids.
    callbacks = [monitor]
    try:
        for first_epoch, epochs, steps in segments:
            # Each `fit` iterates a fresh pipeline started where the data stream stood at this
            # step, as an uninterrupted run's would. Fresh, because a seeded shuffle reshuffles
            # for every further iterator of the same dataset (as `dataset.take(1)` above made).
            segment_data = make_dataset(skip_batches=gan.step, note_resize=False)[0]
            _set_steps_per_execution(gan, train_cfg, steps)
            gan.fit(
                segment_data, initial_epoch=first_epoch, epochs=first_epoch + epochs,
                steps_per_epoch=steps, callbacks=callbacks, verbose=verbose, shuffle=False,
            )
            if monitor.bad_step is not None or monitor.timed_out:
                break
    finally:
        try:
            monitor.close()  # The background writes: samples and checkpoints.
        finally:
            if writer is not None:
                writer.close()
    if monitor.bad_step is None:
        return monitor.timed_out
    where, logs = monitor.bad_step
    last = checkpoint.list_checkpoints(run_dir)
    kept = f"the last good checkpoint is {last[-1][1]}" if last else "no checkpoint was written"
    shown = ", ".join(f"{k}={float(v):.4g}" for k, v in logs.items())
    raise TrainingError(
        f"Loss became NaN/inf at {where} ({shown}); training stopped and {kept}. "
        "Lower --lr or check the input data."
    )
