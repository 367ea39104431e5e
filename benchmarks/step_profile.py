"""Where the DCGAN step's time goes: each layer of G and D, forward and backward, timed alone.

    python benchmarks/step_profile.py --size 64 --batch 128 --precision bf16

Each layer of the models `build_gan` builds (at `auto`'s settings for this CPU unless
`--precision`/`--kernel-grads` say otherwise) runs in its own `tf.function`: the forward
pass, and the forward pass with the gradients of its input and weights, on a batch of its
real input shape. Layers run in alternating rounds (every layer once per round, `--rounds`
rounds, median kept), so load from other processes spreads over all of them. Prints each
layer's share of the summed forward + backward time.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import add_step_flags, machine  # noqa: E402


def layer_timers(model, batch):
    """`[(name, callable)]`: each layer's forward + backward on a random input of its shape."""
    import tensorflow as tf

    timers = []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        shape = (batch,) + tuple(layer.input.shape[1:])
        x = tf.random.uniform(shape, -1, 1, dtype=layer.compute_dtype)

        @tf.function
        def run(layer=layer, x=x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=True)
                loss = tf.reduce_sum(tf.cast(y, tf.float32))
            grads = tape.gradient(loss, [x] + layer.trainable_weights)
            return tf.add_n([tf.reduce_sum(tf.cast(g, tf.float32)) for g in grads])

        timers.append((f"{model.name}/{layer.name} ({type(layer).__name__}, in {shape[1:]})",
                       lambda run=run: float(run())))
    return timers


def main(argv=None):
    from dcgan_tf.config import ModelConfig, TrainConfig
    from dcgan_tf.training.models import KERNEL_GRAD_SIDES
    from dcgan_tf.training.hardware_plan import resolve_hardware
    from dcgan_tf.training.run import build_gan

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_step_flags(p)
    p.add_argument("--precision", default="auto")
    p.add_argument("--kernel-grads", choices=("auto", *KERNEL_GRAD_SIDES),
                   default="auto", help="The small-image layers' kernel gradient.")
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args(argv)
    print(machine(), flush=True)
    plan = resolve_hardware(TrainConfig(precision=a.precision, jit="off", batch_size=a.batch),
                            kernel_grads=None if a.kernel_grads == "auto" else a.kernel_grads)
    precision, grads = plan.precision, plan.kernel_grads
    cfg = ModelConfig(image_size=a.size, channels=a.channels, ngf=a.width, ndf=a.width)
    gan = build_gan(cfg, TrainConfig(precision=a.precision, jit="off", batch_size=a.batch),
                    plan=plan)
    timers = layer_timers(gan.generator, a.batch) + layer_timers(gan.discriminator, a.batch)
    for _, fn in timers:
        fn()
    seconds = {name: [] for name, _ in timers}
    for _ in range(a.rounds):
        for name, fn in timers:
            start = time.perf_counter()
            fn()
            seconds[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(v) for name, v in seconds.items()}
    total = sum(medians.values())
    print(f"\n{a.size}x{a.size}, ngf = ndf = {a.width}, batch {a.batch}, {precision}, kernel "
          f"gradients {grads}: forward + backward of each layer alone, median of {a.rounds}\n")
    print("| layer | ms | share |")
    print("|---|---|---|")
    for name, s in sorted(medians.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {1000 * s:.0f} | {s / total:.1%} |")
    print(f"| sum | {1000 * total:.0f} | 100% |", flush=True)


if __name__ == "__main__":
    main()
