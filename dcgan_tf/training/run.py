"""Running a training job: strategy, data, model, callbacks, resume from the last checkpoint."""

import contextlib
import dataclasses
import functools
import logging
import os
import time

import keras

from dcgan_tf import locks, paths, recipes
from dcgan_tf.hardware import cpu_flags, native_bf16, resolve_precision  # noqa: F401  (re-exported)
from dcgan_tf.training.hardware_plan import resolve_hardware
from dcgan_tf.atomic import check_dir_writable, disk_full, is_disk_full
from dcgan_tf.config import FeatureConfig, ModelConfig, TrainConfig
from dcgan_tf.training.run_config import RunConfig
from dcgan_tf.data import datasets as data
from dcgan_tf.training import checkpoint, history, resume
from dcgan_tf.training import distribute
from dcgan_tf.training.assemble import assemble_gan, labelled_indices, with_label_classes
from dcgan_tf.training.errors import TrainingError  # noqa: F401  (re-exported)
from dcgan_tf.training.kid import TrainingScorer
from dcgan_tf.training.monitor import RunMonitor
from dcgan_tf.training.segments import fit_segments, plan_segments

logger = logging.getLogger("dcgan_tf")


def precision_policy(precision):
    """Keras dtype policy of `"auto"`, `"fp32"`, `"bf16"` or `"fp16"` (mixed precision)."""
    policy = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
    return policy[resolve_precision(precision)]


def build_gan(model_cfg, train_cfg, plan=None, kernel_grads=None):
    """`assemble.assemble_gan` with the hardware `plan` of `train_cfg` (default:
    `hardware_plan.resolve_hardware(train_cfg)`: precision, kernel gradients, XLA);
    `kernel_grads` overrides the plan's (`models.KERNEL_GRAD_SIDES`)."""
    plan = plan or resolve_hardware(train_cfg, kernel_grads=kernel_grads)
    return assemble_gan(model_cfg, train_cfg, precision_policy(plan.precision),
                        plan.kernel_grads, plan.jit)


def _resolve_configs(train_cfg, model_cfg, given=None):
    """`(model_cfg, train_cfg, resuming)` of this launch (`dcgan_tf.training.resume`)."""
    model_cfg = with_label_classes(model_cfg, train_cfg)
    try:
        return resume.resolve(train_cfg, model_cfg, given, checkpoint.read_run_config,
                              data.native_shape)
    except resume.ResumeError as e:
        raise TrainingError(str(e)) from None


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
        train_cfg: Data, optimisation and bookkeeping settings; or a `RunConfig`
            (`RunConfig.from_recipe`), which brings the model, the features and what it stated.
        model_cfg: Model shape; `None` takes the dataset's native size and channels, or the
            stored config when resuming.
        verbose: Keras `fit` verbosity (progress bar).
        feature_cfg: The `features` signature an export of this run computes unless told
            otherwise; recorded in `config.json`. `None` keeps the stored one when resuming,
            else takes `train_cfg.recipe`'s (see `default_feature_config`).
        given: Names of the options stated explicitly (`RunConfig.stated`); on resume the
            model options and recipe options not given come from the run's config
            (`dcgan_tf.training.resume`). `None` counts every field as given.

    Returns:
        Dict with `run_dir`, `step`, `start_step`, `checkpoint`, `resumed_from`, `seconds`,
        `timed_out` (stopped by `max_minutes`) and `model`.

    Raises:
        TrainingError: on a NaN/inf loss or a run directory that does not match.
        locks.LockError: another process is writing the run directory.
        data.DataError: on missing or corrupt data.
        OSError: the run directory is not writable, or lacks the space of a checkpoint
            (checked before any work).
    """
    if isinstance(train_cfg, RunConfig):
        model_cfg, feature_cfg, given = train_cfg.model, train_cfg.features, train_cfg.stated
        train_cfg = train_cfg.train
    strategy = distribute.get_strategy(train_cfg.strategy)
    keras.utils.set_random_seed(train_cfg.seed)
    chief = distribute.is_chief(strategy)
    # Only the chief writes; the other workers read the checkpoints it wrote.
    if chief:
        paths.check_run_dir(train_cfg.out)  # Not inside another run, links resolved.
        # Before the work: training whose checkpoints cannot be written is lost.
        check_dir_writable(train_cfg.out, _checkpoint_bytes(train_cfg.out))
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
    plan = resolve_hardware(train_cfg, strategy)
    with strategy.scope():
        gan = build_gan(model_cfg, train_cfg, plan=plan)
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

    pipeline = data.PipelineConfig(
        seed=train_cfg.seed, data_dir=train_cfg.data_dir, verify=train_cfg.verify,
        with_labels=bool(model_cfg.num_classes), labelled=labelled_indices(model_cfg, train_cfg),
        threads=plan.pipeline_threads,
    )
    make_dataset = functools.partial(data.train_dataset, train_cfg.dataset, model_cfg.image_size,
                                     model_cfg.channels, train_cfg.batch_size, strategy=strategy)
    dataset, num_examples = make_dataset(pipeline)

    def data_at(step):  # A later segment's pipeline, which says nothing of the resize again.
        return make_dataset(dataclasses.replace(pipeline, skip_batches=step, note_resize=False))[0]

    if chief:  # Once the data is known to load, so a data error stays the only line.
        logger.info(plan.describe())
    steps_per_epoch = num_examples // train_cfg.batch_size
    total = train_cfg.max_steps or train_cfg.epochs * steps_per_epoch
    start = time.perf_counter()
    segments = plan_segments(done, total, steps_per_epoch)
    timed_out = False
    if segments:
        timed_out = _fit(gan, segments, dataset, data_at, train_cfg, model_cfg,
                         plan.steps_per_call, verbose)
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


def _fit(gan, segments, dataset, data_at, train_cfg, model_cfg, most_per_call, verbose):
    """Runs `segments` (`segments.fit_segments`) under the run's monitor, whose real batch
    comes from `dataset`; returns whether it timed out, or raises `TrainingError` on a NaN/inf
    loss."""
    first = next(iter(dataset.take(1)))
    real_batch = (first[0] if isinstance(first, tuple) else first).numpy()[: train_cfg.sample_grid]
    run_dir = train_cfg.out
    chief = distribute.is_chief(gan.distribute_strategy)
    writer = open(os.path.join(run_dir, "metrics.jsonl"), "a", encoding="utf-8") if chief else None
    scorer = None
    if train_cfg.score_every and chief:
        scorer = TrainingScorer(train_cfg.dataset, train_cfg.data_dir, seed=train_cfg.seed)
    final_step = gan.step + sum(epochs * steps for _, epochs, steps in segments)
    monitor = RunMonitor(run_dir, train_cfg, model_cfg, real_batch, writer, scorer, final_step)
    try:
        fit_segments(gan, segments, data_at, monitor, most_per_call, verbose)
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
