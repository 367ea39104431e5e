"""What the machine computes natively: CPU flags, the CPU kind oneDNN runs as, bf16 support.

Base stage: training picks its precision from it, and scoring's classifier space trains in the
same precision, so both read one rule.
"""

import functools
import os

import tensorflow as tf

# CPU kinds from slowest to fastest instruction set; "gpu" is the kind of a run on GPUs.
CPU_KINDS = ("avx2", "avx512", "avx512_bf16", "amx")
KINDS = CPU_KINDS + ("gpu",)
# Kinds that compute bf16 natively (AVX512-BF16, AMX; GPUs of compute capability 8.0+).
NATIVE_BF16_KINDS = ("avx512_bf16", "amx", "gpu")
# Kinds where bf16 runs at all: oneDNN has bf16 kernels from AVX-512 up (emulated without
# AVX512-BF16); on an AVX2-only CPU its bf16 primitives fail and abort the process.
BF16_KINDS = ("avx512",) + NATIVE_BF16_KINDS
# oneDNN's `ONEDNN_MAX_CPU_ISA` caps (upper case, oneDNN's spelling) by the kind they leave.
_CAP_KINDS = (
    ("AVX10_2_512_AMX_2", "amx"), ("AVX10_1_512_AMX_FP16", "amx"), ("AVX10_1_512_AMX", "amx"),
    ("AVX512_CORE_AMX_FP16", "amx"), ("AVX512_CORE_AMX", "amx"),
    ("AVX10_2_512", "avx512_bf16"), ("AVX10_1_512", "avx512_bf16"),
    ("AVX512_CORE_FP16", "avx512_bf16"), ("AVX512_CORE_BF16", "avx512_bf16"),
    ("AVX512_CORE_VNNI", "avx512"), ("AVX512_CORE", "avx512"),
    ("AVX2_VNNI_2", "avx2"), ("AVX2_VNNI", "avx2"), ("AVX2", "avx2"), ("AVX", "avx2"),
    ("SSE41", "avx2"),
)


@functools.cache
def cpu_flags():
    """The CPU's feature flags from /proc/cpuinfo (empty where it cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return frozenset(next((line for line in f if line.startswith("flags")), "").split())
    except OSError:
        return frozenset()


def isa_cap(environ=None):
    """The instruction-set cap oneDNN runs under: `ONEDNN_MAX_CPU_ISA` (or its older name
    `DNNL_MAX_CPU_ISA`) upper-cased, or `None` when unset or `ALL`."""
    environ = os.environ if environ is None else environ
    cap = (environ.get("ONEDNN_MAX_CPU_ISA") or environ.get("DNNL_MAX_CPU_ISA") or "").upper()
    return cap if cap and cap != "ALL" else None


def cpu_kind_of(flags, cap=None):
    """The CPU kind (`CPU_KINDS`) of CPU flags `flags` under oneDNN cap `cap`.

    Args:
        flags: /proc/cpuinfo flag names.
        cap: An `ONEDNN_MAX_CPU_ISA` value, or `None` for no cap. An unknown cap counts
            as none, as oneDNN ignores it.

    Returns:
        `"amx"` (AMX-BF16), `"avx512_bf16"`, `"avx512"` (AVX-512 without bf16) or `"avx2"`
        (everything else), lowered to what the cap allows.
    """
    if "amx_bf16" in flags:
        kind = "amx"
    elif "avx512_bf16" in flags:
        kind = "avx512_bf16"
    elif "avx512f" in flags:
        kind = "avx512"
    else:
        kind = "avx2"
    capped = next((k for name, k in _CAP_KINDS if name == cap), None)
    if capped is None:
        return kind
    return CPU_KINDS[min(CPU_KINDS.index(kind), CPU_KINDS.index(capped))]


def cpu_kind():
    """This CPU's kind (`cpu_kind_of`) under this process's `ONEDNN_MAX_CPU_ISA`."""
    return cpu_kind_of(cpu_flags(), isa_cap())


def native_bf16():
    """True where bf16 matmuls run natively: GPUs of compute capability 8.0+, or CPUs of kind
    `avx512_bf16` or `amx` (oneDNN uses them; a lower `ONEDNN_MAX_CPU_ISA` turns them off)."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = [tf.config.experimental.get_device_details(g) for g in gpus]
        return all(d.get("compute_capability", (0, 0)) >= (8, 0) for d in details)
    return cpu_kind() in NATIVE_BF16_KINDS


def bf16_runs(kind=None):
    """True where bf16 computes at all on hardware kind `kind` (`BF16_KINDS`; `None`: this CPU's
    kind under `ONEDNN_MAX_CPU_ISA`, or a GPU where TensorFlow sees one)."""
    if kind is None:
        kind = "gpu" if tf.config.list_physical_devices("GPU") else cpu_kind()
    return kind in BF16_KINDS


def bf16_refusal(what, kind=None, fix="use fp32 here, or bf16 on a CPU with AVX-512 or a GPU"):
    """The one-line refusal of bf16 where it cannot run here (`bf16_runs`), else `None`.

    Args:
        what: What asked for bf16, e.g. `"--precision bf16"`.
        kind: The hardware kind; `None` detects it.
        fix: What to do instead, ending the message.
    """
    if bf16_runs(kind):
        return None
    return (f"{what} cannot run on this CPU (kind {kind or cpu_kind()}: no AVX-512, where oneDNN "
            f"has no bf16 kernels); {fix}.")


def require_bf16(what, kind=None):
    """Raises `ValueError` with `bf16_refusal(what, kind)` where bf16 cannot run here."""
    refusal = bf16_refusal(what, kind)
    if refusal:
        raise ValueError(refusal)


def resolve_precision(precision):
    """`"auto"` -> `"bf16"` where the hardware has native bf16, else `"fp32"`."""
    if precision == "auto":
        return "bf16" if native_bf16() else "fp32"
    return precision
