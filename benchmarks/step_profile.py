"""Where the DCGAN step's time goes: each layer of G and D, forward and backward, timed alone,
and with `--torch-python` the same layers of PyTorch's step beside them.

    python benchmarks/step_profile.py --size 64 --batch 128 --precision bf16
    ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 python benchmarks/step_profile.py \\
        --size 32 --precision fp32 --torch-python /path/to/torch/python --rounds 5 --record

Each layer of the models `build_gan` builds (at `auto`'s settings for this CPU unless
`--precision`/`--kernel-grads` say otherwise) runs in its own `tf.function`: the forward pass
and the gradients of its input and weights for an all-ones output gradient, on a batch of its
real input shape; the whole training step is timed too. With `--torch-python PY`, PyTorch's
network (`torch_reference.py --profile-layers`, the same layers and shapes, in its own warm
processes under the same ISA cap, channels-last and NCHW) is timed layer by layer the same way.
Every layer and step runs once per round, ours and each PyTorch format in turn, `--rounds`
rounds, median kept, so load from other processes spreads over all of them.

The table gives each layer's milliseconds, PyTorch's in its faster format (by the whole step),
ours' speed over PyTorch's, the passes a step makes through the layer (G's once, D's three
times: real and fake for D's update, fake for G's), and passes x milliseconds as a share of our
whole step and as the gap to PyTorch per step. The sum of passes x milliseconds stands against
the whole step: what it misses is the optimizers, the loss and the step's glue (and it counts D's
weight gradients in G's pass, which our step skips and PyTorch's computes).
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import TorchServer, add_step_flags, machine  # noqa: E402

# Passes one training step makes through each network's layers: G forward and backward once;
# D on the real and the fake batch for its update, and on the fake batch for G's.
PASSES = {"generator": 1, "discriminator": 3}
FORMATS = {"channels_last": True, "NCHW": False}


def passes(name):
    """Forward + backward passes one step makes through the layer `name` (`net/layer`)."""
    return PASSES[name.split("/", 1)[0]]


def layer_timers(model, batch):
    """`[(name, description, callable)]`: each layer's forward pass and the gradients of its
    input and weights, on a random input of its shape."""
    import tensorflow as tf

    timers = []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        shape = (batch,) + tuple(layer.input.shape[1:])
        x = tf.random.uniform(shape, -1, 1, dtype=layer.compute_dtype)
        dy = tf.ones((batch,) + tuple(layer.output.shape[1:]), dtype=layer.compute_dtype)

        @tf.function
        def run(layer=layer, x=x, dy=dy):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=True)
            return tape.gradient(y, [x] + layer.trainable_weights, output_gradients=dy)

        timers.append((f"{model.name}/{layer.name}",
                       f"{type(layer).__name__}, in {shape[1:]}", run))
    return timers


def step_timer(gan, size, channels, batch):
    """One whole training step of `gan` on a batch held in memory, as a callable."""
    import tensorflow as tf

    step = tf.function(gan.train_step)
    x = tf.random.uniform((batch, size, size, channels), -1, 1)
    return lambda: float(step(x)["d_loss"])


def best_format(torch_ms):
    """PyTorch's faster memory format by its whole step (`torch_ms[format]["step"]`)."""
    return min(torch_ms, key=lambda fmt: torch_ms[fmt]["step"])


def comparison(ours_ms, torch_ms=None):
    """The per-layer rows and totals of ours against PyTorch (pure: from medians).

    Args:
        ours_ms: `{layer: ms}` with `"step"`, the whole step.
        torch_ms: `{format: {layer: ms}}` with each format's `"step"`, or None.

    Returns:
        `(rows, totals)`: rows `{layer, passes, ours_ms, torch_ms, speed, share, gap_ms}` in
        ours' order (PyTorch's figures None where it has no such layer, or no PyTorch), and
        totals `{ours_sum_ms, ours_step_ms, torch_sum_ms, torch_step_ms, torch_format}`.
    """
    fmt = best_format(torch_ms) if torch_ms else None
    theirs = torch_ms[fmt] if fmt else {}
    step = ours_ms["step"]
    rows = []
    for name, ms in ours_ms.items():
        if name == "step":
            continue
        n, other = passes(name), theirs.get(name)
        rows.append({"layer": name, "passes": n, "ours_ms": ms, "torch_ms": other,
                     "speed": other / ms if other is not None else None,
                     "share": n * ms / step,
                     "gap_ms": n * (ms - other) if other is not None else None})
    totals = {"ours_sum_ms": sum(r["passes"] * r["ours_ms"] for r in rows), "ours_step_ms": step,
              "torch_format": fmt, "torch_step_ms": theirs.get("step"),
              "torch_sum_ms": sum(passes(name) * ms for name, ms in theirs.items()
                                  if name != "step") if fmt else None}
    return rows, totals


def _ms(value, digits=1):
    return "-" if value is None else f"{value:.{digits}f}"


def table(rows, totals, descriptions=None):
    """The markdown lines of `comparison`'s rows (heaviest share first) and totals."""
    descriptions = descriptions or {}
    torch = totals["torch_format"] is not None
    head = "| layer | passes | ours ms |" + (
        f" torch ms ({totals['torch_format']}) | ours speed / torch | gap ms per step |"
        if torch else "") + " share of our step |"
    lines = [head, "|---" * head.count(" |") + "|"]
    for r in sorted(rows, key=lambda r: -r["share"]):
        label = r["layer"] + (f" ({descriptions[r['layer']]})" if r["layer"] in descriptions else "")
        mid = (f" {_ms(r['torch_ms'], 2)} | {_ms(r['speed'], 2)} | {_ms(r['gap_ms'], 2)} |"
               if torch else "")
        lines.append(f"| {label} | {r['passes']} | {r['ours_ms']:.2f} |{mid} {r['share']:.1%} |")
    step, total = totals["ours_step_ms"], totals["ours_sum_ms"]
    if torch:
        tstep, tsum = totals["torch_step_ms"], totals["torch_sum_ms"]
        lines.append(f"| sum (passes x ms) | | {total:.1f} | {tsum:.1f} | {tsum / total:.2f} | "
                     f"{total - tsum:.1f} | {total / step:.1%} |")
        lines.append(f"| whole step | | {step:.1f} | {tstep:.1f} | {tstep / step:.2f} | "
                     f"{step - tstep:.1f} | 100% |")
    else:
        lines.append(f"| sum (passes x ms) | | {total:.1f} | {total / step:.1%} |")
        lines.append(f"| whole step | | {step:.1f} | 100% |")
    return lines


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
    p.add_argument("--torch-python", metavar="PY",
                   help="an interpreter with torch: also time PyTorch's layers (fp32)")
    p.add_argument("--record", action="store_true", help="write a `step_profile` record")
    a = p.parse_args(argv)
    print(machine(), flush=True)
    train_cfg = TrainConfig(precision=a.precision, jit="off", batch_size=a.batch)
    plan = resolve_hardware(train_cfg,
                            kernel_grads=None if a.kernel_grads == "auto" else a.kernel_grads)
    precision, grads = plan.precision, plan.kernel_grads
    if a.torch_python and precision != "fp32":
        p.error(f"--torch-python compares fp32 layers; this run is {precision} "
                "(add --precision fp32)")
    cfg = ModelConfig(image_size=a.size, channels=a.channels, ngf=a.width, ndf=a.width)
    gan = build_gan(cfg, train_cfg, plan=plan)
    timers = layer_timers(gan.generator, a.batch) + layer_timers(gan.discriminator, a.batch)
    timers.append(("step", "", step_timer(gan, a.size, a.channels, a.batch)))
    descriptions = {name: text for name, text, _ in timers if text}
    servers = {}
    try:
        if a.torch_python:
            for fmt, last in FORMATS.items():
                servers[fmt] = TorchServer(a.torch_python, a.size, a.channels, a.width, a.batch,
                                           last, warmup=a.warmup, profile_layers=True)
                print(f"PyTorch {fmt}: {servers[fmt].banner[6:]}", flush=True)
        for _ in range(a.warmup):
            for _, _, fn in timers:
                fn()
        seconds = {name: [] for name, _, _ in timers}
        torch_seconds = {fmt: {} for fmt in servers}
        for _ in range(a.rounds):
            for name, _, fn in timers:
                start = time.perf_counter()
                fn()
                seconds[name].append(time.perf_counter() - start)
            for fmt, server in servers.items():
                for name, s in server.layer_seconds(1).items():
                    torch_seconds[fmt].setdefault(name, []).extend(s)
    finally:
        for server in servers.values():
            server.close()
    ours_ms = {name: 1000 * statistics.median(s) for name, s in seconds.items()}
    torch_ms = {fmt: {name: 1000 * statistics.median(s) for name, s in layers.items()}
                for fmt, layers in torch_seconds.items()} or None
    rows, totals = comparison(ours_ms, torch_ms)
    print(f"\n{a.size}x{a.size}x{a.channels}, ngf = ndf = {a.width}, batch {a.batch}, {precision}, "
          f"kernel gradients {grads}: forward + backward of each layer alone, median of "
          f"{a.rounds} rounds" + (", PyTorch in alternating rounds" if servers else "") + "\n")
    print("\n".join(table(rows, totals, descriptions)))
    if torch_ms:
        other = {fmt: f"{ms['step']:.1f}" for fmt, ms in torch_ms.items()}
        print(f"\nPyTorch's whole step, ms: {other}; ours / PyTorch's best format (speed): "
              f"{totals['torch_step_ms'] / totals['ours_step_ms']:.2f}x")
    if a.record:
        from records import write_record

        write_record("step_profile", {
            "layers": {r["layer"]: {"passes": r["passes"], "ours_ms": r["ours_ms"],
                                    "torch_ms": {fmt: ms.get(r["layer"])
                                                 for fmt, ms in (torch_ms or {}).items()}}
                       for r in rows},
            **totals, "torch_step_ms_by_format": {fmt: ms["step"] for fmt, ms in
                                                  (torch_ms or {}).items()},
            "ours_over_torch": (totals["torch_step_ms"] / totals["ours_step_ms"]
                                if torch_ms else None)},
            size=a.size, channels=a.channels, width=a.width, batch=a.batch, precision=precision,
            kernel_grads=grads, kind=plan.cpu_kind, rounds=a.rounds,
            torch=servers and next(iter(servers.values())).banner[6:] or None,
            load_average=os.getloadavg()[0])
    print(f"step_ms={totals['ours_step_ms']:.1f} sum_ms={totals['ours_sum_ms']:.1f}", flush=True)


if __name__ == "__main__":
    main()
