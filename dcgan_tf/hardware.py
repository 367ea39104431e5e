"""What the machine computes natively: CPU flags and bf16 support.

Base stage: training picks its precision from it, and scoring's classifier space trains in the
same precision, so both read one rule.
"""

import functools

import tensorflow as tf


@functools.cache
def cpu_flags():
    """The CPU's feature flags from /proc/cpuinfo (empty where it cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return frozenset(next((line for line in f if line.startswith("flags")), "").split())
    except OSError:
        return frozenset()


def native_bf16():
    """True where bf16 matmuls run natively: GPUs of compute capability 8.0+, or CPUs with
    AVX512-BF16 / AMX-BF16 (oneDNN uses them)."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = [tf.config.experimental.get_device_details(g) for g in gpus]
        return all(d.get("compute_capability", (0, 0)) >= (8, 0) for d in details)
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def resolve_precision(precision):
    """`"auto"` -> `"bf16"` where the hardware has native bf16, else `"fp32"`."""
    if precision == "auto":
        return "bf16" if native_bf16() else "fp32"
    return precision
