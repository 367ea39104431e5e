"""The one place a training run's hardware choices are made: `resolve_hardware` -> `HardwarePlan`.

Every `auto` setting (precision, strategy, XLA, the small-image layers' kernel gradient, batch
norm, the input pipeline's threads, steps per call) is decided here from the hardware kind
(`dcgan_tf.hardware.KINDS`), by pure functions of that kind, each timed against its alternative
by `benchmarks/auto_choices.py`. `run.py` prints `HardwarePlan.describe()` once.
"""

import dataclasses

import tensorflow as tf

from dcgan_tf import hardware
from dcgan_tf.config import AUTO_STEPS_PER_EXECUTION

_STRATEGY_NAMES = {"MirroredStrategy": "mirrored", "MultiWorkerMirroredStrategy": "multiworker"}


@dataclasses.dataclass(frozen=True)
class HardwarePlan:
    """What one training run computes with, and why.

    Args:
        precision: `"fp32"`, `"bf16"` or `"fp16"`.
        strategy: `"default"`, `"mirrored"` or `"multiworker"`.
        jit: Whether the train step is XLA-compiled.
        kernel_grads: The small-image layers' kernel gradient (`models.KERNEL_GRAD_SIDES`).
        fused_bn: Batch norm through `fused_norm`'s fused kernel, else Keras' own layer.
        pipeline_threads: tf.data threads of the in-memory pipeline; `None` autotunes.
        steps_per_call: The most train steps per `tf.function` call (`steps_per_call`).
        cpu_kind: The hardware kind the choices were made for (`hardware.KINDS`).
        replicas: Replicas in sync under the strategy.
        settings: The `TrainConfig` settings the plan resolved, by field name, to mark
            which choices `auto` made.
    """

    precision: str
    strategy: str
    jit: bool
    kernel_grads: str
    fused_bn: bool
    pipeline_threads: int | None
    steps_per_call: int
    cpu_kind: str
    replicas: int = 1
    settings: tuple = ()

    def describe(self):
        """One line: each choice, and `(auto: why)` after those `auto` made.

        Returns:
            E.g. "Hardware avx2: precision fp32 (auto: no native bf16), strategy default
            (auto: one device), XLA off (auto: CPU), kernel gradients native (auto), fused
            batch norm, 1 pipeline thread, up to 16 steps per call (auto)."
        """
        given = dict(self.settings)
        gpu = self.cpu_kind == "gpu"
        device = "GPU" if gpu else "CPU"
        native = "native bf16" if _native_bf16_kind(self.cpu_kind) else "no native bf16"
        where = f"{self.replicas} replicas" if self.replicas > 1 else "one device"

        def chosen(field, why="auto"):
            return f" ({'auto: ' + why if why != 'auto' else 'auto'})" \
                if given.get(field) == "auto" else ""

        threads = ("autotuned pipeline threads" if self.pipeline_threads is None else
                   f"{self.pipeline_threads} pipeline thread{'s' * (self.pipeline_threads > 1)}")
        return (f"Hardware {self.cpu_kind}: precision {self.precision}"
                f"{chosen('precision', f'{native} on this {device}')}, "
                f"strategy {self.strategy}{chosen('strategy', f'{where}, {device}')}, "
                f"XLA {'on' if self.jit else 'off'}{chosen('jit', device)}, "
                f"kernel gradients {self.kernel_grads}, "
                f"{'fused' if self.fused_bn else 'Keras'} batch norm, {threads}, "
                f"up to {self.steps_per_call} step{'s' * (self.steps_per_call != 1)} per call"
                f"{chosen('steps_per_execution')}.")


def _native_bf16_kind(kind):
    return kind in hardware.NATIVE_BF16_KINDS


def precision_choice(setting, kind, gpu_bf16=True):
    """`"auto"` -> `"bf16"` on kinds with native bf16 (`gpu` only where `gpu_bf16`), else
    `"fp32"`; any other setting as given.

    Raises:
        ValueError: `"bf16"` on a kind where bf16 cannot run (`hardware.bf16_runs`).
    """
    if setting == "bf16":
        hardware.require_bf16("--precision bf16", kind)
    if setting != "auto":
        return setting
    native = gpu_bf16 if kind == "gpu" else _native_bf16_kind(kind)
    return "bf16" if native else "fp32"


def jit_choice(setting, kind):
    """XLA on or off: `"auto"` turns it on only on GPUs (on CPUs the step measured slower)."""
    if setting == "auto":
        return kind == "gpu"
    return setting == "on"


def kernel_grads_choice(precision, kind):
    """Which kernel gradient the small-image layers take (`models.KERNEL_GRAD_SIDES`), as a pure
    function of the facts it was measured on (`benchmarks/auto_choices.py`).

    Args:
        precision: The resolved precision, `"fp32"`, `"bf16"` or `"fp16"`.
        kind: The hardware kind (`hardware.KINDS`).

    Returns:
        `"patches"` for bf16 on AMX; `"dilated"` for bf16 on AVX512-BF16 without AMX and for
        fp32 on AVX2 without AVX-512 (there oneDNN's kernel gradient is its older non-brgemm
        kernel, and the forward convolution the dilated form runs is faster); else
        `"native"`, oneDNN's or the GPU library's own kernel.
    """
    if precision == "bf16":
        return {"amx": "patches", "avx512_bf16": "dilated"}.get(kind, "native")
    return "dilated" if precision == "fp32" and kind == "avx2" else "native"


def fused_bn_choice(kind):
    """Batch norm through the fused kernel (`fused_norm`) on every kind: one oneDNN or cuDNN
    kernel each way against Keras' op-by-op moments and their gradients."""
    del kind
    return True


def pipeline_threads_choice(kind):
    """The in-memory training pipeline's tf.data threads: one private thread on CPUs, where the
    autotuned pipeline competed with the step for the cores (`benchmarks/pipeline_threads.py`);
    autotuned on GPUs, where its parallel gathers keep the device fed."""
    return None if kind == "gpu" else 1


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


def strategy_name(strategy):
    """`"default"`, `"mirrored"` or `"multiworker"`: the kind of a `tf.distribute` strategy."""
    return _STRATEGY_NAMES.get(type(strategy).__name__, "default")


def current_kind():
    """The kind this process trains on: `"gpu"` where TensorFlow sees a GPU, else the CPU's
    kind under `ONEDNN_MAX_CPU_ISA` (`hardware.cpu_kind`)."""
    return "gpu" if tf.config.list_physical_devices("GPU") else hardware.cpu_kind()


def resolve_hardware(train_cfg, strategy=None, kind=None, kernel_grads=None, fused_bn=None):
    """The `HardwarePlan` of `train_cfg` on this machine.

    Args:
        train_cfg: A `TrainConfig` (its `precision`, `jit`, `strategy`, `steps_per_execution`).
        strategy: The `tf.distribute` strategy the run trains under; `None` for the current one.
        kind: The hardware kind (`hardware.KINDS`); `None` detects it (`current_kind`).
        kernel_grads: Overrides the kernel-gradient choice (benchmarks compare them).
        fused_bn: Overrides the batch-norm choice (benchmarks compare them).

    Returns:
        A `HardwarePlan`.
    """
    kind = kind or current_kind()
    strategy = strategy or tf.distribute.get_strategy()
    gpu_bf16 = kind == "gpu" and hardware.native_bf16()
    precision = precision_choice(train_cfg.precision, kind, gpu_bf16)
    spe = train_cfg.steps_per_execution
    # Keras' multi-step loop fails to run under MultiWorkerMirroredStrategy (an unfed
    # placeholder in its while loop): "auto" takes one step per call there.
    if spe == "auto" and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        spe = 1
    return HardwarePlan(
        precision=precision,
        strategy=strategy_name(strategy),
        jit=jit_choice(train_cfg.jit, kind),
        kernel_grads=kernel_grads or kernel_grads_choice(precision, kind),
        fused_bn=fused_bn_choice(kind) if fused_bn is None else fused_bn,
        pipeline_threads=pipeline_threads_choice(kind),
        steps_per_call=AUTO_STEPS_PER_EXECUTION if spe == "auto" else int(spe),
        cpu_kind=kind,
        replicas=strategy.num_replicas_in_sync,
        settings=(("precision", train_cfg.precision), ("strategy", train_cfg.strategy),
                  ("jit", train_cfg.jit), ("steps_per_execution", train_cfg.steps_per_execution)),
    )
