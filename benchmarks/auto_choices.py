"""Each `auto` training choice against its alternative, timed on this machine, and PyTorch's step.

    python benchmarks/auto_choices.py --size 64 --batch 128 --steps 3 --windows 3
    python benchmarks/auto_choices.py --size 64 --torch        # also PyTorch bf16 autocast

Every pair runs in this one process in alternating windows (A, B, A, B, ...), so load from
other processes falls on both alike; the ratio is the median of per-window-pair ratios. The
pairs, as `dcgan_tf.training.run` decides them for this CPU:
- precision: bf16 mixed precision against fp32 (`auto`: bf16 where `native_bf16()`);
- kernel gradients of the small-image layers (`dcgan_tf.training.patch_grads`), each pair of
  `native` (oneDNN's own), `patches` and `dilated` (`auto`: `kernel_grads_for(precision)`),
  at the precision `auto` picks;
- batch norm: `fused_norm`'s against Keras' (`auto`: fused), at that precision;
- steps per execution: 4 steps in one `tf.function` call against 4 calls of one step (`auto`:
  several steps per call).
With `--torch`: the bare DCGAN step of `torch_reference.py` in bf16 autocast (channels-last,
PyTorch's faster layout here) alternating with ours at `auto`'s settings.
Prints `faster` and whether `auto` picked it.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import add_step_flags, machine  # noqa: E402

# Ratios this close to 1 are ties: window-to-window noise on a shared machine is about this.
TIE = 0.05


def tf_step(size, channels, width, batch, precision, kernel_grads=None, fused_bn=True, repeat=1):
    """A callable running `repeat` DCGAN train steps in one `tf.function` call."""
    import tensorflow as tf

    from dcgan_tf.config import ModelConfig, TrainConfig
    from variants import build_variant

    cfg = ModelConfig(image_size=size, channels=channels, ngf=width, ndf=width)
    gan = build_variant(cfg, TrainConfig(precision=precision, jit="off", batch_size=batch),
                        kernel_grads=kernel_grads, fused_bn=fused_bn)
    x = tf.random.uniform((batch, size, size, channels), -1, 1)

    @tf.function
    def steps():
        logs = gan.train_step(x)
        for _ in range(repeat - 1):
            logs = gan.train_step(x)
        return logs["d_loss"]

    return lambda: float(steps())


def alternate(a, b, steps, windows, warmup):
    """Median over windows of (seconds per call of `b`) / (seconds per call of `a`), and the
    per-call seconds of each: `a` and `b` run in alternating windows of `steps` calls."""
    for _ in range(warmup):
        a()
        b()
    ratios, times_a, times_b = [], [], []
    for _ in range(windows):
        seconds = []
        for fn in (a, b):
            start = time.perf_counter()
            for _ in range(steps):
                fn()
            seconds.append((time.perf_counter() - start) / steps)
        times_a.append(seconds[0])
        times_b.append(seconds[1])
        ratios.append(seconds[1] / seconds[0])
    return statistics.median(ratios), statistics.median(times_a), statistics.median(times_b)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_step_flags(p)
    p.add_argument("--windows", type=int, default=3)
    p.add_argument("--torch", action="store_true", help="Also PyTorch's bf16 autocast step.")
    p.add_argument("--pairs", default="precision,dilated,patches,dilated-patches,norm,spe")
    a = p.parse_args(argv)
    # PyTorch's step is built first: torch (its triton import) segfaulted when first used
    # after TensorFlow had built models in the process.
    theirs = _torch_step(a) if a.torch else None
    from dcgan_tf.training.run import cpu_flags, kernel_grads_for, native_bf16, resolve_precision

    print(machine(), flush=True)
    flags = sorted(f for f in cpu_flags() if f.startswith(("amx", "avx512_bf16")))
    precision = resolve_precision("auto")
    print(f"auto here: precision {precision} (native bf16: {native_bf16()}), kernel gradients "
          f"{kernel_grads_for(precision)}, fused batch norm, several steps per call; "
          f"bf16 flags: {' '.join(flags) or 'none'}", flush=True)
    shape = (a.size, a.channels, a.width, a.batch)
    grads = kernel_grads_for(precision)

    def kernel_pair(a, b):
        picked = a if grads == a else b if grads == b else f"neither ({grads})"
        return (a, b, lambda: tf_step(*shape, precision, kernel_grads=a),
                lambda: tf_step(*shape, precision, kernel_grads=b), picked)

    pairs = {
        "precision": ("bf16", "fp32", lambda: tf_step(*shape, "bf16"),
                      lambda: tf_step(*shape, "fp32"), "bf16" if precision == "bf16" else "fp32"),
        "dilated": kernel_pair("dilated", "native"),
        "patches": kernel_pair("patches", "native"),
        "dilated-patches": kernel_pair("dilated", "patches"),
        "norm": ("fused batch norm", "Keras batch norm",
                 lambda: tf_step(*shape, precision, kernel_grads=grads),
                 lambda: tf_step(*shape, precision, kernel_grads=grads, fused_bn=False),
                 "fused batch norm"),
        "spe": ("4 steps per call", "1 step per call",
                lambda: tf_step(*shape, precision, kernel_grads=grads, repeat=4),
                lambda: _times(tf_step(*shape, precision, kernel_grads=grads), 4),
                "4 steps per call"),
    }
    print(f"\n{a.size}x{a.size}x{a.channels}, ngf = ndf = {a.width}, batch {a.batch}; "
          f"{a.windows} alternating windows of {a.steps} calls\n")
    print("| choice | A | B | A s/call | B s/call | B/A (A's speed-up) | faster | auto picks |")
    print("|---|---|---|---|---|---|---|---|", flush=True)
    names = [name for name in a.pairs.split(",") if name]
    unknown = sorted(set(names) - set(pairs))
    if unknown:
        p.error(f"unknown --pairs {','.join(unknown)}; choose from {','.join(pairs)}")
    for name in names:
        label_a, label_b, make_a, make_b, picked = pairs[name]
        ratio, sa, sb = alternate(make_a(), make_b(), a.steps, a.windows, a.warmup)
        faster = label_a if ratio > 1 else label_b
        verdict = "right" if picked == faster else "-" if picked.startswith("neither") else "WRONG"
        if abs(ratio - 1) < TIE:
            faster, verdict = f"tie (within {TIE:.0%})", "either"
        print(f"| {name} | {label_a} | {label_b} | {sa:.3f} | {sb:.3f} | {ratio:.2f} | "
              f"{faster} | {picked} ({verdict}) |", flush=True)
    if a.torch:
        _against_torch(a, shape, precision, grads, theirs)


def _times(fn, count):
    def run():
        for _ in range(count):
            fn()
    return run


def _torch_step(a):
    import torch_reference as ref

    step = ref.step_function(a.size, a.channels, a.width, a.batch, channels_last=True, bf16=True)
    step()
    return step


def _against_torch(a, shape, precision, grads, theirs):
    import torch

    ours = tf_step(*shape, precision, kernel_grads=grads)
    ratio, sa, sb = alternate(ours, theirs, a.steps, a.windows, a.warmup)
    print(f"\nPyTorch {torch.__version__} bf16 autocast (channels-last) against ours at auto "
          f"({precision}): ours {a.batch / sa:.1f} img/s, PyTorch {a.batch / sb:.1f} img/s, "
          f"ours / PyTorch = {ratio:.2f}x", flush=True)


if __name__ == "__main__":
    main()
