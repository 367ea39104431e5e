"""Shared pieces of the benchmarks: machine description, matmul ceiling, DCGAN FLOP counts."""

import os
import platform
import time

import numpy as np


def add_step_flags(parser):
    """The flags of a bare-step benchmark's network and timing: size, channels, width, batch,
    steps per window and warm-up steps."""
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--width", type=int, default=64, help="ngf = ndf")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)


def runnable_variants(names, variants):
    """`names` without the bf16 ones (`variants[name]["precision"]`) where bf16 cannot run
    here (`dcgan_tf.hardware.bf16_runs`), printing which were left out and why."""
    from dcgan_tf.hardware import bf16_runs, cpu_kind

    if bf16_runs():
        return list(names)
    dropped = [n for n in names if variants[n]["precision"] == "bf16"]
    if dropped:
        print(f"not run: {','.join(dropped)} (bf16 cannot run on this CPU, kind {cpu_kind()})")
    return [n for n in names if n not in dropped]


def machine():
    """One line naming the machine: cores, CPU model and SIMD flags, the CPU kind and the ISA cap
    oneDNN runs under (`ONEDNN_MAX_CPU_ISA`), TF and Keras versions."""
    import keras
    import tensorflow as tf

    from dcgan_tf import hardware

    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f
                          if line.startswith("model name")), model)
    except OSError:
        pass
    flags = hardware.cpu_flags()
    simd = sorted(f for f in flags if f.startswith(("avx512", "avx2", "amx", "fma")))
    gpus = tf.config.list_physical_devices("GPU")
    return (
        f"machine: {os.cpu_count()} cores, {model}, {' '.join(simd) or 'no AVX flags'}; "
        f"kind {'gpu' if gpus else hardware.cpu_kind()} (oneDNN ISA cap "
        f"{hardware.isa_cap() or 'none'}); GPUs: {len(gpus)}; TF {tf.__version__}, "
        f"Keras {keras.__version__}"
    )


# One n x n matmul timed by another interpreter: NumPy (OpenBLAS) or PyTorch (oneDNN/MKL).
_MATMUL_SCRIPT = """
import sys, time
lib, n, repeats, dtype = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if lib == "numpy":
    import numpy as np
    a = np.random.rand(n, n).astype(dtype); b = np.random.rand(n, n).astype(dtype)
    run = lambda: a @ b
else:
    import torch
    t = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    a = torch.rand(n, n, dtype=t); b = torch.rand(n, n, dtype=t)
    run = lambda: torch.mm(a, b)
run()
best = float("inf")
for _ in range(repeats):
    start = time.perf_counter(); run(); best = min(best, time.perf_counter() - start)
print(2 * n ** 3 / best / 1e9)
"""


def _capped_env():
    """The environment that keeps OpenBLAS and PyTorch's own kernels within oneDNN's ISA cap
    (an AVX2 cap: OpenBLAS' Haswell kernels, ATen's AVX2 ones)."""
    from dcgan_tf import hardware

    env = dict(os.environ)
    if hardware.isa_cap() and hardware.cpu_kind() == "avx2":
        env.setdefault("OPENBLAS_CORETYPE", "Haswell")
        env.setdefault("ATEN_CPU_CAPABILITY", "avx2")
        env.setdefault("MKL_ENABLE_INSTRUCTIONS", "AVX2")
    return env


class TorchServer:
    """PyTorch's DCGAN step (`torch_reference.py --serve`) in its own warm process, timed in
    windows on request, so a benchmark can alternate its windows with ours.

    Args:
        python: An interpreter with torch.
        size, channels, width, batch: The network and batch.
        channels_last: PyTorch's memory format.
        bf16: Autocast to bfloat16.
        warmup: Steps (or rounds of layers) before the first window.
        profile_layers: Time each layer alone (`layer_seconds`) instead of windows of steps.
    """

    def __init__(self, python, size, channels, width, batch, channels_last, bf16=False, warmup=3,
                 profile_layers=False):
        import subprocess

        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_reference.py")
        cmd = [python, script, "--size", str(size), "--channels", str(channels), "--width",
               str(width), "--batch", str(batch), "--warmup", str(warmup),
               "--serve", "channels_last" if channels_last else "NCHW"] + ["--bf16"] * bf16
        cmd += ["--profile-layers"] * profile_layers
        self.process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, env=_capped_env())
        self.banner = self.process.stdout.readline().strip()
        if not self.banner.startswith("ready"):
            raise RuntimeError(f"torch_reference.py --serve did not start: {cmd}")

    def seconds(self, steps):
        """Seconds of `steps` PyTorch steps."""
        self.process.stdin.write(f"{steps}\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def layer_seconds(self, rounds=1):
        """`{layer: [seconds per round]}` (and `"step"`) of `rounds` rounds of PyTorch's layers,
        each alone (a server started with `profile_layers=True`)."""
        import json

        self.process.stdin.write(f"{rounds}\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def _tf_matmul(n, repeats, dtype):
    import tensorflow as tf

    a = tf.random.uniform((n, n), dtype=dtype)
    b = tf.random.uniform((n, n), dtype=dtype)
    matmul = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    matmul().numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul().numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def matmul_rates(n=4096, repeats=3, dtype="float32", torch_python=None):
    """GFLOP/s of an n x n matmul in each library that runs here: TensorFlow, NumPy (OpenBLAS),
    and PyTorch (oneDNN/MKL) through `torch_python` when given; `{library: GFLOP/s}`.

    NumPy and PyTorch run in their own processes, under the same ISA cap as oneDNN here.
    NumPy is left out in bf16, which it does not compute.
    """
    import subprocess
    import sys

    rates = {"TensorFlow": _tf_matmul(n, repeats, dtype)}
    others = [("NumPy (OpenBLAS)", sys.executable, "numpy")] if dtype == "float32" else []
    if torch_python:
        others.append(("PyTorch", torch_python, "torch"))
    for label, python, lib in others:
        done = subprocess.run([python, "-c", _MATMUL_SCRIPT, lib, str(n), str(repeats), dtype],
                              capture_output=True, text=True, env=_capped_env())
        if done.returncode == 0:
            rates[label] = float(done.stdout.split()[-1])
    return rates


def matmul_ceiling(n=4096, repeats=3, dtype="float32", torch_python=None):
    """The machine's real ceiling in GFLOP/s: the fastest n x n matmul of any library here
    (`matmul_rates`; `describe_ceiling` names which)."""
    return max(matmul_rates(n, repeats, dtype, torch_python).values())


def describe_ceiling(rates):
    """`"ceiling 184 GFLOP/s (NumPy (OpenBLAS); TensorFlow 90, ...)"` of `matmul_rates`."""
    best = max(rates, key=rates.get)
    rest = ", ".join(f"{k} {v:.0f}" for k, v in rates.items() if k != best)
    return f"ceiling {rates[best]:.0f} GFLOP/s ({best}{'; ' + rest if rest else ''})"


def _conv_flops(model):
    """Forward multiply-add FLOPs per example of the dense and conv layers of a Keras model."""
    from keras import layers

    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Dense):
            total += 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
        elif isinstance(layer, layers.Conv2DTranspose):
            _, h, w, _ = layer.input.shape
            kh, kw, cout, cin = layer.kernel.shape
            total += 2 * h * w * kh * kw * cin * cout
        elif isinstance(layer, layers.Conv2D):
            _, h, w, _ = layer.output.shape
            kh, kw, cin, cout = layer.kernel.shape
            total += 2 * h * w * kh * kw * cin * cout
    return total


def step_flops(generator, discriminator):
    """FLOPs per image of one DCGAN training step.

    Counted from layer shapes: G forward once (its output serves both updates), D forward on
    real and fake, backward of both (2x forward each), then D forward on fake for the G
    update and backward through D (inputs only) and G: 3 G + 8 D forward passes in all.
    """
    g, d = _conv_flops(generator), _conv_flops(discriminator)
    return 3 * g + 8 * d


def percentiles(samples, qs=(50, 99)):
    return [float(np.percentile(samples, q)) for q in qs]
