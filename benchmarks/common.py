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


def machine():
    """One line naming the machine: cores, CPU model and SIMD flags, TF and Keras versions."""
    import keras
    import tensorflow as tf

    model, flags = platform.processor() or "?", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    simd = sorted(f for f in flags if f.startswith(("avx512", "avx2", "amx", "fma")))
    gpus = tf.config.list_physical_devices("GPU")
    return (
        f"machine: {os.cpu_count()} cores, {model}, {' '.join(simd) or 'no AVX flags'}; "
        f"GPUs: {len(gpus)}; TF {tf.__version__}, Keras {keras.__version__}"
    )


def matmul_ceiling(n=4096, repeats=5, dtype="float32"):
    """GFLOP/s of an n x n matmul in TensorFlow: the machine's practical ceiling."""
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
