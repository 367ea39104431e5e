"""Images/s of the DCGAN training step against the machine's matmul ceiling.

    python benchmarks/train_throughput.py --size 64
    python benchmarks/train_throughput.py --size 32 --variants fp32,bf16,xla --train-path
    python benchmarks/train_throughput.py --size 32 --channels 1 --default-run
    python benchmarks/train_throughput.py --size 64 --variants fp32,bf16 --torch-python PY

`--torch-python PY` also times a plain PyTorch DCGAN step of the same network
(`torch_reference.py`, run by the interpreter PY that has torch, after the TensorFlow variants,
in fp32, and in bf16 autocast where the CPU kind has native bf16 or with `--torch-bf16`) and
prints each variant's ratio to it. For ratios taken in alternating windows, see
`auto_choices.py --torch-python`.

`--train-path` times the whole `train()` (steady state, epochs 2 to 6) twice: with today's
defaults (steps per execution "auto", epoch-end work on its cost schedule, background writes)
and with last release's settings (one step per call, epoch-end work every epoch). `--default-run` times what
`dcgan-tf train` runs (digits, 60 epochs of 11 steps), start to end. Both print the ratio to
the bare step of the same model in the same process.

The ceiling is the fastest fp32 matmul of TensorFlow, NumPy (OpenBLAS) and, with
`--torch-python`, PyTorch (`common.matmul_rates`), printed with the library that reached it.
Ends with `img/s=<N> gflops=<G> ceiling_ratio=<R>` for the first variant's bare step.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import (  # noqa: E402
    add_step_flags, describe_ceiling, machine, matmul_rates, runnable_variants, step_flops,
)

VARIANTS = {
    "fp32": dict(precision="fp32", jit="off"),
    "bf16": dict(precision="bf16", jit="off"),
    "xla": dict(precision="fp32", jit="on"),
    "xla-bf16": dict(precision="bf16", jit="on"),
    # D's step with real and fake paired in each convolution (`DCGAN(paired_d=True)`).
    "fp32-paired": dict(precision="fp32", jit="off", paired_d=True),
    "bf16-paired": dict(precision="bf16", jit="off", paired_d=True),
    # The small-image layers' kernel gradient from oneDNN's own kernel, from one patch matmul,
    # or from one dilated forward convolution (`dcgan_tf.training.patch_grads`; `bf16` takes
    # the one `hardware_plan.kernel_grads_choice` picks for this kind).
    "bf16-native": dict(precision="bf16", jit="off", kernel_grads="native"),
    "bf16-patches": dict(precision="bf16", jit="off", kernel_grads="patches"),
    "bf16-dilated": dict(precision="bf16", jit="off", kernel_grads="dilated"),
    # Keras' own batch norm and kernels: the step before `fused_norm` and `patch_grads`.
    "fp32-keras": dict(precision="fp32", jit="off", kernel_grads="native", fused_bn=False),
    "bf16-keras": dict(precision="bf16", jit="off", kernel_grads="native", fused_bn=False),
}


def bare_step(size, channels, width, batch, steps, warmup, precision, jit, paired_d=False,
              kernel_grads=None, fused_bn=True):
    """Times `train_step` alone on a batch already in memory; returns (img/s, flops/img).

    The step runs in a `tf.function` like Keras' trainer builds, without `fit`'s loop.
    """
    import tensorflow as tf

    from dcgan_tf.config import ModelConfig, TrainConfig
    from variants import build_variant

    cfg = ModelConfig(image_size=size, channels=channels, ngf=width, ndf=width)
    gan = build_variant(cfg, TrainConfig(precision=precision, jit=jit, batch_size=batch), paired_d,
                        kernel_grads, fused_bn)
    step = tf.function(gan.train_step, jit_compile=jit == "on")
    x = tf.random.uniform((batch, size, size, channels), -1, 1)
    for _ in range(warmup):
        logs = step(x)
    float(logs["d_loss"])
    # Best of 3 windows: the machine's other load only ever slows a window down.
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(steps):
            logs = step(x)
        float(logs["d_loss"])
        best = min(best, time.perf_counter() - start)
    flops = step_flops(gan.generator, gan.discriminator)
    return batch * steps / best, flops


PER_EPOCH_BEFORE = dict(steps_per_execution=1, monitor_every=1)


def train_path(size, channels, width, batch, precision, jit, steps_per_epoch=64, epochs=6, **settings):
    """Steady-state images/s of the whole `dcgan_tf.training.run.train` on SVHN-format .mat files.

    Everything an epoch costs is included: input pipeline, Keras' loop and callbacks, and the
    epoch-end work (samples, diversity figures, checkpoints) on its schedule. The rate is read
    from the wall-clock `time` of `metrics.jsonl`'s lines, first epoch end to last, so process
    start-up, tracing and the end of the run (which varied by seconds from run to run) do not
    count.
    """
    import json

    import numpy as np
    import scipy.io

    from dcgan_tf.config import ModelConfig, TrainConfig
    from dcgan_tf.training.run import train

    cfg = ModelConfig(image_size=size, channels=channels, ngf=width, ndf=width)
    with tempfile.TemporaryDirectory() as tmp:
        n = batch * steps_per_epoch
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = rng.integers(1, 11, (n, 1)).astype("float64")
        for split in ("train", "test"):
            scipy.io.savemat(os.path.join(tmp, f"{split}_32x32.mat"), {"X": x, "y": y})
        out = os.path.join(tmp, "run")
        train(TrainConfig(out=out, dataset="svhn", data_dir=tmp, verify=False, batch_size=batch,
                          epochs=epochs, precision=precision, jit=jit, **settings), cfg, verbose=0)
        with open(os.path.join(out, "metrics.jsonl"), encoding="utf-8") as f:
            lines = [json.loads(line) for line in f]
    first, last = lines[0], lines[-1]
    return (last["step"] - first["step"]) * batch / (last["time"] - first["time"])


def default_run(**settings):
    """Images/s of the default `dcgan-tf train` (digits, recipe auto), timed start to end.

    Includes the model build, data loading, tracing and the last checkpoint: what a new user
    waits for. `settings` override train flags (e.g. `PER_EPOCH_BEFORE`). Returns `(img/s,
    model_cfg, train_cfg, steps, seconds)`.
    """
    from dcgan_tf import recipes
    from dcgan_tf.data.registry import DEFAULT_EPOCHS
    from dcgan_tf.training.run import train

    with tempfile.TemporaryDirectory() as tmp:
        model_cfg, train_cfg, _ = recipes.apply(
            "auto", {"image_size": 32, "channels": 1},
            {"out": os.path.join(tmp, "run"), "epochs": DEFAULT_EPOCHS.get("digits", 25), **settings}, {})
        start = time.perf_counter()
        summary = train(train_cfg, model_cfg, verbose=0)
        seconds = time.perf_counter() - start
    return summary["step"] * train_cfg.batch_size / seconds, model_cfg, train_cfg, summary["step"], seconds


def torch_reference(python, size, channels, width, batch, steps, warmup, bf16):
    """`(img/s, format)` of `torch_reference.py`'s step in its faster memory format, run by
    `python`."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_reference.py")
    cmd = [python, script, "--size", str(size), "--channels", str(channels), "--width", str(width),
           "--batch", str(batch), "--steps", str(steps), "--warmup", str(warmup)] + ["--bf16"] * bf16
    from common import _capped_env

    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=_capped_env()).stdout
    print(out.strip())
    rates = {m.group(1): float(m.group(2))
             for m in re.finditer(r"^torch (NCHW|channels_last) +([0-9.]+) img/s", out, re.M)}
    best = float(re.search(r"torch_img/s=([0-9.]+)", out).group(1))
    return best, max(rates, key=rates.get) if rates else None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_step_flags(p)
    p.add_argument("--variants", default="fp32", help=f"comma list of {','.join(VARIANTS)}")
    p.add_argument("--train-path", action="store_true",
                   help="also time the whole train() path with the first variant's settings")
    p.add_argument("--steps-per-epoch", type=int, default=64, help="epoch length of --train-path")
    p.add_argument("--default-run", action="store_true",
                   help="time the default `dcgan-tf train` (digits) against its bare step")
    p.add_argument("--torch-python", metavar="PY",
                   help="a Python with torch: also time the PyTorch reference step and print ratios to it")
    p.add_argument("--record", action="store_true", help="write one `train_step` record per variant")
    p.add_argument("--torch-bf16", action="store_true",
                   help="with --torch-python, time PyTorch's bf16 autocast even without native bf16")
    a = p.parse_args()

    print(machine())
    if a.default_run:
        from dcgan_tf.hardware import resolve_precision

        runs = [("today", default_run()), ("old settings", default_run(**PER_EPOCH_BEFORE))]
        _, model_cfg, train_cfg, _, _ = runs[0][1]
        bare, _ = bare_step(model_cfg.image_size, model_cfg.channels, model_cfg.ngf, train_cfg.batch_size,
                            a.steps, a.warmup, resolve_precision(train_cfg.precision), "off")
        for label, (ips, _, _, steps, seconds) in runs:
            print(f"default dcgan-tf train, {label}: {steps} steps in {seconds:.1f} s = {ips:.1f} img/s; "
                  f"bare step {bare:.1f} img/s; ratio {ips / bare:.2f}")
        return
    from dcgan_tf.hardware import cpu_kind

    names = runnable_variants(a.variants.split(","), VARIANTS)
    if not names:
        p.error("every --variants is bf16, which cannot run here; add fp32")
    rates = matmul_rates(torch_python=a.torch_python)
    ceiling = max(rates.values())
    rows = []
    for name in names:
        ips, flops = bare_step(a.size, a.channels, a.width, a.batch, a.steps, a.warmup, **VARIANTS[name])
        gflops = ips * flops / 1e9
        rows.append((name, ips, gflops, gflops / ceiling))
    base_ips = rows[0][1]
    print(f"\nDCGAN {a.size}x{a.size}x{a.channels}, ngf=ndf={a.width}, batch {a.batch}, "
          f"{flops / 1e9:.2f} GFLOP/image/step; fp32 matmul {describe_ceiling(rates)}")
    print(f"{'variant':<12}{'img/s':>10}{'GFLOP/s':>10}{'ceiling':>9}{'vs ' + rows[0][0]:>16}")
    for name, ips, gflops, ratio in rows:
        print(f"{name:<12}{ips:>10.1f}{gflops:>10.1f}{ratio:>9.2f}{ips / base_ips:>16.2f}")
    if a.train_path:
        first = {k: VARIANTS[rows[0][0]][k] for k in ("precision", "jit")}
        for label, settings in (("train()", {}), ("train() old", PER_EPOCH_BEFORE)):
            whole = train_path(a.size, a.channels, a.width, a.batch, steps_per_epoch=a.steps_per_epoch,
                               **first, **settings)
            print(f"{label:<12}{whole:>10.1f}{'':>10}{'':>9}{whole / base_ips:>16.2f}")
    if a.torch_python:
        from dcgan_tf.hardware import native_bf16

        dtypes = ("fp32", "bf16") if native_bf16() or a.torch_bf16 else ("fp32",)
        refs = {dtype: torch_reference(a.torch_python, a.size, a.channels, a.width, a.batch, a.steps,
                                       a.warmup, dtype == "bf16") for dtype in dtypes}
        for dtype, (ref, fmt) in refs.items():
            print(f"{'torch ' + dtype:<12}{ref:>10.1f}   " + ", ".join(
                f"{name} {ips / ref:.2f}x" for name, ips, _, _ in rows) + f" (PyTorch {fmt})")
    if a.record:
        from records import write_record

        for name, ips, gflops, ratio in rows:
            write_record("train_step", _record_figures(
                ips, gflops, ratio, rates, refs.get(VARIANTS[name]["precision"]) if a.torch_python
                else None), size=a.size, channels=a.channels, width=a.width, batch=a.batch,
                precision=VARIANTS[name]["precision"], kind=cpu_kind(),
                load_average=os.getloadavg()[0],
                **({"variant": name} if name != VARIANTS[name]["precision"] else {}))
    name, ips, gflops, ratio = rows[0]
    print(f"img/s={ips:.1f} gflops={gflops:.1f} ceiling_ratio={ratio:.3f}")


def _record_figures(ips, gflops, ratio, rates, torch_ref):
    """A `train_step` record's figures: one variant's step against the ceiling (`rates`, the
    matmul GFLOP/s of each library) and PyTorch's step (`(img/s, format)` or None)."""
    figures = {"img_s": ips, "gflops": gflops, "ceiling_ratio": ratio,
               "ceiling_gflops": max(rates.values()), "ceiling_library": max(rates, key=rates.get),
               "matmul_gflops": rates}
    if torch_ref:
        figures.update(torch_img_s=torch_ref[0], torch_format=torch_ref[1],
                       ours_over_torch=ips / torch_ref[0])
    return figures


if __name__ == "__main__":
    main()
