"""Each `auto` training choice against its alternative, timed on this machine, and PyTorch's step.

    python benchmarks/auto_choices.py --size 64 --batch 128 --steps 3 --windows 3
    ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 python benchmarks/auto_choices.py \\
        --size 32 --torch-python /path/to/torch/python --record

Every pair runs in alternating windows (A, B, A, B, ...), so load from other processes falls on
both alike; the ratio is the median of per-window-pair ratios. The pairs, as
`dcgan_tf.training.hardware_plan` decides them for this hardware kind (the CPU kind follows
`ONEDNN_MAX_CPU_ISA`, so a cap measures a lower kind on any x86 CPU):
- precision: bf16 mixed precision against fp32 (`auto`: bf16 on kinds with native bf16; timed
  only there, or with `--bf16`, since emulated bf16 is many times slower);
- kernel gradients of the small-image layers (`dcgan_tf.training.patch_grads`), each pair of
  `native` (oneDNN's own), `patches` and `dilated`, at the precision `auto` picks;
- batch norm: `fused_norm`'s against Keras' (`auto`: fused), at that precision;
- steps per execution: 4 steps in one `tf.function` call against 4 calls of one step.
With `--torch-python PY`: PyTorch's DCGAN step (`torch_reference.py`, in its own warm process
under the same ISA cap) in both memory formats, each alternating with ours at `auto`'s settings;
fp32, and bf16 autocast only where the kind has native bf16 (or with `--bf16`).
Prints `faster` and whether `auto` picked it; `--record` writes each row as a record
(`records.write_record`, what `auto_choice`, and `train_step_vs_torch`).
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import TorchServer, add_step_flags, machine  # noqa: E402

# Ratios this close to 1 are ties: window-to-window noise on a shared machine is about this.
TIE = 0.05


def tf_step(size, channels, width, batch, precision, kernel_grads=None, fused_bn=None, repeat=1):
    """A callable running `repeat` DCGAN train steps in one `tf.function` call, in a
    `tf.while_loop` as Keras' `steps_per_execution` runs them (not unrolled)."""
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
        for _ in tf.range(repeat - 1):
            logs = gan.train_step(x)
        return logs["d_loss"]

    return lambda: float(steps())


def alternate(a, b, steps, windows, warmup):
    """Median over windows of (seconds per call of `b`) / (seconds per call of `a`), and the
    per-call seconds of each (medians): `a` and `b` run in alternating windows of `steps`
    calls. A callable may instead be a `TorchServer`, which times its own window."""
    def window(fn):
        if isinstance(fn, TorchServer):
            return fn.seconds(steps) / steps
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        return (time.perf_counter() - start) / steps

    for fn in (a, b):
        if not isinstance(fn, TorchServer):
            for _ in range(warmup):
                fn()
    ratios, times_a, times_b = [], [], []
    for _ in range(windows):
        sa, sb = window(a), window(b)
        times_a.append(sa)
        times_b.append(sb)
        ratios.append(sb / sa)
    return statistics.median(ratios), statistics.median(times_a), statistics.median(times_b), ratios


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_step_flags(p)
    p.add_argument("--windows", type=int, default=3)
    p.add_argument("--torch-python", metavar="PY",
                   help="an interpreter with torch: also PyTorch's step against ours")
    p.add_argument("--bf16", action="store_true",
                   help="time bf16 even where the kind has no native bf16 (slow there)")
    p.add_argument("--pairs", default="precision,dilated,patches,dilated-patches,norm,spe")
    p.add_argument("--record", action="store_true", help="write each row as a record")
    a = p.parse_args(argv)
    from dcgan_tf import hardware
    from dcgan_tf.config import TrainConfig
    from dcgan_tf.training.hardware_plan import resolve_hardware

    print(machine(), flush=True)
    plan = resolve_hardware(TrainConfig())
    native_bf16 = plan.cpu_kind in hardware.NATIVE_BF16_KINDS
    print(f"auto here: {plan.describe()}", flush=True)
    precision, grads = plan.precision, plan.kernel_grads
    shape = (a.size, a.channels, a.width, a.batch)

    def kernel_pair(a, b):
        picked = a if grads == a else b if grads == b else f"neither ({grads})"
        return (a, b, lambda: tf_step(*shape, precision, kernel_grads=a),
                lambda: tf_step(*shape, precision, kernel_grads=b), picked)

    pairs = {
        "precision": ("bf16", "fp32", lambda: tf_step(*shape, "bf16"),
                      lambda: tf_step(*shape, "fp32"), precision),
        "dilated": kernel_pair("dilated", "native"),
        "patches": kernel_pair("patches", "native"),
        "dilated-patches": kernel_pair("dilated", "patches"),
        "norm": ("fused batch norm", "Keras batch norm",
                 lambda: tf_step(*shape, precision, kernel_grads=grads, fused_bn=True),
                 lambda: tf_step(*shape, precision, kernel_grads=grads, fused_bn=False),
                 "fused batch norm" if plan.fused_bn else "Keras batch norm"),
        "spe": ("4 steps per call", "1 step per call",
                lambda: tf_step(*shape, precision, kernel_grads=grads, repeat=4),
                lambda: _times(tf_step(*shape, precision, kernel_grads=grads), 4),
                "4 steps per call"),
    }
    names = [name for name in a.pairs.split(",") if name]
    unknown = sorted(set(names) - set(pairs))
    if unknown:
        p.error(f"unknown --pairs {','.join(unknown)}; choose from {','.join(pairs)}")
    if "precision" in names and not hardware.bf16_runs(plan.cpu_kind):
        names.remove("precision")
        print(f"precision: bf16 not timed (bf16 cannot run on this CPU, kind {plan.cpu_kind})")
    elif "precision" in names and not (native_bf16 or a.bf16):
        names.remove("precision")
        print("precision: bf16 not timed (no native bf16 on this kind; --bf16 times it)")
    print(f"\n{a.size}x{a.size}x{a.channels}, ngf = ndf = {a.width}, batch {a.batch}; "
          f"{a.windows} alternating windows of {a.steps} calls\n")
    print("| choice | A | B | A s/call | B s/call | B/A (A's speed-up) | faster | auto picks |")
    print("|---|---|---|---|---|---|---|---|", flush=True)
    # The load average says how far other processes may have skewed the ratios.
    context = dict(size=a.size, channels=a.channels, width=a.width, batch=a.batch,
                   kind=plan.cpu_kind, load_average=os.getloadavg()[0])
    for name in names:
        label_a, label_b, make_a, make_b, picked = pairs[name]
        ratio, sa, sb, ratios = alternate(make_a(), make_b(), a.steps, a.windows, a.warmup)
        faster = label_a if ratio > 1 else label_b
        verdict = "right" if picked == faster else "-" if picked.startswith("neither") else "WRONG"
        if abs(ratio - 1) < TIE:
            faster, verdict = f"tie (within {TIE:.0%})", "either"
        print(f"| {name} | {label_a} | {label_b} | {sa:.3f} | {sb:.3f} | {ratio:.2f} | "
              f"{faster} | {picked} ({verdict}) |", flush=True)
        if a.record:
            from records import write_record

            write_record("auto_choice", {
                "choice": name, "a": label_a, "b": label_b, "a_s_per_call": sa,
                "b_s_per_call": sb, "a_speedup": ratio, "window_ratios": ratios,
                "faster": faster, "auto_picks": picked, "verdict": verdict}, **context)
    if a.torch_python:
        dtypes = ["fp32"] + ["bf16"] * (native_bf16 or a.bf16)
        for dtype in dtypes:
            _against_torch(a, shape, dtype, grads if dtype == precision else None, context)


def _times(fn, count):
    def run():
        for _ in range(count):
            fn()
    return run


def _against_torch(a, shape, dtype, grads, context):
    """Ours at `dtype` (auto's kernel gradients where `dtype` is auto's precision) against
    PyTorch's step in each memory format, alternating windows; prints and records the rows."""
    ours = tf_step(*shape, dtype, kernel_grads=grads)
    rows = {}
    for fmt, last in (("NCHW", False), ("channels_last", True)):
        server = TorchServer(a.torch_python, *shape, channels_last=last, bf16=dtype == "bf16",
                             warmup=a.warmup)
        try:
            rows[fmt] = alternate(ours, server, a.steps, a.windows, a.warmup)
        finally:
            server.close()
        ratio, sa, sb, ratios = rows[fmt]
        print(f"{dtype}: ours {a.batch / sa:.1f} img/s, PyTorch {fmt} {a.batch / sb:.1f} img/s "
              f"({server.banner[6:]}): ours / PyTorch = {ratio:.2f}x (windows "
              f"{', '.join(f'{r:.2f}' for r in ratios)})", flush=True)
    best = min(rows, key=lambda fmt: rows[fmt][2])
    ratio, sa, sb, ratios = rows[best]
    print(f"{dtype}: against PyTorch's best format ({best}): ours / PyTorch = {ratio:.2f}x",
          flush=True)
    if a.record:
        from records import write_record

        write_record("train_step_vs_torch", {
            "precision": dtype, "ours_img_s": a.batch / sa, "torch_img_s": a.batch / sb,
            "torch_format": best, "ours_over_torch": ratio, "window_ratios": ratios,
            **{f"ours_over_torch_{fmt}": rows[fmt][0] for fmt in rows}}, **context)


if __name__ == "__main__":
    main()
