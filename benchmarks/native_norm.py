"""Would a native batch-norm kernel speed up the fp32 step? oneDNN's against one written here.

    ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 python benchmarks/native_norm.py --size 32

In the fp32 step's profile (`step_trace.py`) oneDNN's batch norm and the activations after it
are the largest pieces after the convolutions, and each layer's batch norm alone is slower than
PyTorch's (`step_profile.py`). This builds `native_norm.cc`, training-mode batch norm with
the following ReLU or leaky ReLU folded in, one TensorFlow op each way (g++ and TensorFlow's
headers, into a temporary folder), checks it against NumPy in float64, then times:

- each batch norm layer of the model with its activation, forward and backward, oneDNN's fused
  batch norm plus TensorFlow's activation against the native op (alternating, median);
- the whole training step with every batch norm and its activation through the native op,
  against the step as the library builds it, in alternating windows in one process.

Ends with `step_ratio=<native / library images per second>`.
"""

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import add_step_flags, machine  # noqa: E402
from records import add_record_flags  # noqa: E402

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "native_norm.cc")
# Largest error against float64 NumPy, relative to the largest magnitude of each output.
TOLERANCE = 1e-4


def build(folder):
    """Compiles `native_norm.cc` into `folder` and returns the library's path.

    Raises:
        SystemExit: without g++, or when the compile fails, in one line.
    """
    import tensorflow as tf

    from dcgan_tf import hardware

    compiler = shutil.which("g++")
    if compiler is None:
        raise SystemExit("native_norm: no g++ on PATH; install it (apt-get install g++) to build the op.")
    flags = hardware.cpu_flags()
    isa = ["-mavx2", "-mfma"] if {"avx2", "fma"} <= flags else []
    path = os.path.join(folder, "native_norm.so")
    command = [compiler, "-shared", "-fPIC", "-O3", *isa, "-fno-trapping-math", "-w", SOURCE,
               "-o", path, *tf.sysconfig.get_compile_flags(), *tf.sysconfig.get_link_flags()]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        first = next((line for line in done.stderr.splitlines() if "error" in line), done.stderr[:200])
        raise SystemExit(f"native_norm: compiling {SOURCE} failed: {first.strip()}")
    return path


def load(path):
    """Loads the op library and registers the gradient of `NativeNormAct`."""
    import tensorflow as tf

    lib = tf.load_op_library(path)

    @tf.RegisterGradient("NativeNormAct")
    def _grad(op, dy, *_):
        return lib.native_norm_act_grad(dy, op.inputs[0], op.inputs[1], op.inputs[2],
                                        op.outputs[1], op.outputs[3], alpha=op.get_attr("alpha"))

    return lib


def reference(x, gamma, beta, dy, alpha, epsilon=1e-5):
    """Batch norm + `max(z, alpha z)` and its gradients in float64 NumPy:
    `(y, mean, variance, dx, dgamma, dbeta)` for an output gradient `dy`."""
    import numpy as np

    channels = x.shape[-1]
    x2, dy2 = x.reshape(-1, channels).astype(np.float64), dy.reshape(-1, channels).astype(np.float64)
    mean, var = x2.mean(0), x2.var(0)
    inv = 1 / np.sqrt(var + epsilon)
    xhat = (x2 - mean) * inv
    z = xhat * gamma + beta
    y = np.maximum(z, alpha * z)
    dz = np.where(z > 0, dy2, alpha * dy2)
    dbeta, dgamma = dz.sum(0), (dz * xhat).sum(0)
    dxhat = dz * gamma
    dx = inv * (dxhat - dxhat.mean(0) - xhat * (dxhat * xhat).mean(0))
    return y.reshape(x.shape), mean, var, dx.reshape(x.shape), dgamma, dbeta


def check(lib, seed=0):
    """The op's largest relative error against `reference`, over identity, ReLU and leaky ReLU
    on an input whose mean is large against its spread."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(16, 6, 6, 24)) * 3 + 5).astype("float32")
    gamma = (1 + 0.2 * rng.normal(size=24)).astype("float32")
    beta = (0.1 * rng.normal(size=24)).astype("float32")
    # No output gradient right at the activation's kink, where float32 and float64 may put z
    # on different sides.
    z = reference(x, gamma, beta, np.zeros_like(x), 1.0)[0]
    dy = (rng.normal(size=x.shape) * (np.abs(z) > 1e-3)).astype("float32")
    worst = 0.0
    for alpha in (1.0, 0.0, 0.2):
        xt, gt, bt = tf.constant(x), tf.constant(gamma), tf.constant(beta)
        with tf.GradientTape() as tape:
            tape.watch([xt, gt, bt])
            y, mean, var, _ = lib.native_norm_act(xt, gt, bt, alpha=alpha)
        grads = tape.gradient(y, [xt, gt, bt], output_gradients=tf.constant(dy))
        for got, want in zip([y, mean, var, *grads], reference(x, gamma, beta, dy, alpha)):
            err = np.abs(got.numpy() - want).max() / max(np.abs(want).max(), 1e-12)
            worst = max(worst, float(err))
    return worst


def norm_pairs(model):
    """`[(batch norm layer, activation layer or None, alpha)]` of a Keras model: each
    `FusedBatchNormalization` with the ReLU or leaky ReLU that alone reads its output."""
    from keras import layers

    from dcgan_tf.fused_norm import FusedBatchNormalization

    pairs = []
    for layer in model.layers:
        if not isinstance(layer, FusedBatchNormalization):
            continue
        after = [node.operation for node in layer._outbound_nodes]
        act = after[0] if len(after) == 1 else None
        if isinstance(act, layers.LeakyReLU):
            pairs.append((layer, act, float(act.negative_slope)))
        elif isinstance(act, layers.ReLU) and act.max_value is None and not act.threshold:
            pairs.append((layer, act, float(act.negative_slope)))
        else:
            pairs.append((layer, None, 1.0))
    return pairs


@contextlib.contextmanager
def native_norms(lib, models):
    """While open, the training-mode calls of the models' batch norm layers run the native op
    with the activation after each folded in (that activation passes its input through).
    Steps traced inside keep the native op after it closes."""
    from keras import layers

    from dcgan_tf.fused_norm import FusedBatchNormalization

    alphas, folded = {}, set()
    for model in models:
        for norm, act, alpha in norm_pairs(model):
            alphas[id(norm)] = alpha
            if act is not None:
                folded.add(id(act))
    originals = {cls: cls.call for cls in (FusedBatchNormalization, layers.ReLU, layers.LeakyReLU)}

    def norm_call(self, inputs, training=None, mask=None):
        if id(self) not in alphas or not self._fusable(inputs, training, mask):
            return originals[FusedBatchNormalization](self, inputs, training=training, mask=mask)
        y, mean, variance, _ = lib.native_norm_act(inputs, self.gamma, self.beta,
                                                   epsilon=self.epsilon, alpha=alphas[id(self)])
        m = self.momentum
        self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
        self.moving_variance.assign(self.moving_variance * m + variance * (1.0 - m))
        return y

    def act_call(cls):
        def call(self, inputs, *args, **kwargs):
            if id(self) in folded:
                return inputs
            return originals[cls](self, inputs, *args, **kwargs)
        return call

    FusedBatchNormalization.call = norm_call
    layers.ReLU.call, layers.LeakyReLU.call = act_call(layers.ReLU), act_call(layers.LeakyReLU)
    try:
        yield
    finally:
        for cls, call in originals.items():
            cls.call = call


def alternate(timers, rounds):
    """`{name: [seconds per round]}`: each timer once per round, the order reversed every
    other round."""
    names = list(timers)
    seconds = {name: [] for name in names}
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            start = time.perf_counter()
            timers[name]()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def layer_timers(lib, pairs, batch_shapes):
    """`{layer name: {"oneDNN": fn, "native": fn}}`: forward and backward of each batch norm
    with its activation, on a random batch of its input shape."""
    import tensorflow as tf

    timers = {}
    for (norm, act, alpha), shape in zip(pairs, batch_shapes):
        x = tf.random.normal(shape)
        gamma, beta = tf.ones(shape[-1]), tf.zeros(shape[-1])

        def onednn(x, gamma, beta, alpha=alpha):
            y = tf.raw_ops.FusedBatchNormV3(x=x, scale=gamma, offset=beta, mean=tf.constant([]),
                                            variance=tf.constant([]), epsilon=1e-5,
                                            is_training=True)[0]
            return y if alpha == 1.0 else (tf.nn.relu(y) if alpha == 0 else tf.nn.leaky_relu(y, alpha))

        def native(x, gamma, beta, alpha=alpha):
            return lib.native_norm_act(x, gamma, beta, alpha=alpha)[0]

        def both_ways(fn, x=x, gamma=gamma, beta=beta):
            @tf.function
            def run():
                with tf.GradientTape() as tape:
                    tape.watch([x, gamma, beta])
                    y = fn(x, gamma, beta)
                return tape.gradient(y, [x, gamma, beta], output_gradients=y)[1]
            return lambda: run().numpy()

        name = norm.name + (f" + {act.name}" if act is not None else "")
        timers[name] = {"oneDNN": both_ways(onednn), "native": both_ways(native)}
    return timers


def step_timer(gan, x, steps):
    """A callable running `steps` training steps of `gan` on `x` (traced and warmed first)."""
    import tensorflow as tf

    step = tf.function(gan.train_step)
    for _ in range(2):
        float(step(x)["d_loss"])

    def run():
        for _ in range(steps):
            logs = step(x)
        float(logs["d_loss"])

    return run


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_step_flags(p)
    p.set_defaults(size=32, steps=4)
    p.add_argument("--rounds", type=int, default=12, help="alternating rounds of each timing")
    add_record_flags(p, "one `native_norm` record")
    a = p.parse_args(argv)
    import tensorflow as tf

    from dcgan_tf.config import ModelConfig, TrainConfig
    from variants import build_variant

    tf.get_logger().setLevel("ERROR")  # one tf.function per layer and route is meant
    print(machine(), flush=True)
    with tempfile.TemporaryDirectory() as folder:
        lib = load(build(folder))
        error = check(lib)
        print(f"native op against float64 NumPy: largest relative error {error:.1e}")
        if error > TOLERANCE:
            raise SystemExit(f"native_norm: the op disagrees with NumPy ({error:.1e} > {TOLERANCE:.0e})")

        cfg = ModelConfig(image_size=a.size, channels=a.channels, ngf=a.width, ndf=a.width)
        train_cfg = TrainConfig(precision="fp32", jit="off", batch_size=a.batch)
        library, native = build_variant(cfg, train_cfg), build_variant(cfg, train_cfg)
        pairs = [pair for m in (library.generator, library.discriminator) for pair in norm_pairs(m)]
        shapes = [(a.batch, *norm.input.shape[1:]) for norm, _, _ in pairs]
        rows = []
        for name, fns in layer_timers(lib, pairs, shapes).items():
            for fn in fns.values():
                fn()
            seconds = alternate(fns, a.rounds)
            # Rounded once, so that the table and the record show the same figures.
            rows.append((name, round(statistics.median(seconds["oneDNN"]) * 1e3, 3),
                         round(statistics.median(seconds["native"]) * 1e3, 3)))
        print(f"\n{a.size}x{a.size}x{a.channels}, ngf = ndf = {a.width}, batch {a.batch}, fp32: "
              f"batch norm + activation, forward and backward, median of {a.rounds}\n")
        print("| layer | oneDNN + TF activation ms | native ms | native speed-up |\n|---|---|---|---|")
        for name, ours, theirs in rows:
            print(f"| {name} | {ours:.2f} | {theirs:.2f} | {ours / theirs:.2f}x |")

        x = tf.random.uniform((a.batch, a.size, a.size, a.channels), -1, 1)
        timers = {"library": step_timer(library, x, a.steps)}
        with native_norms(lib, [native.generator, native.discriminator]):
            timers["native"] = step_timer(native, x, a.steps)
        seconds = alternate(timers, a.rounds)
    rates = {name: [a.batch * a.steps / s for s in sec] for name, sec in seconds.items()}
    ratio = statistics.median(n / l for n, l in zip(rates["native"], rates["library"]))
    print(f"\nwhole step, {a.rounds} alternating windows of {a.steps} steps: library "
          f"{statistics.median(rates['library']):.1f} img/s, with the native batch norm "
          f"{statistics.median(rates['native']):.1f} img/s; per-window ratio (median) {ratio:.3f}")
    if a.record:
        from records import write_record

        figures = {"layers": {name: {"onednn_ms": o, "native_ms": n} for name, o, n in rows},
                   "library_img_s": round(statistics.median(rates["library"]), 1),
                   "native_img_s": round(statistics.median(rates["native"]), 1),
                   "step_ratio": round(ratio, 3), "max_rel_error": error}
        print("record:", write_record("native_norm", figures, size=a.size, channels=a.channels,
                                      width=a.width, batch=a.batch, note=a.note))
    print(f"step_ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
