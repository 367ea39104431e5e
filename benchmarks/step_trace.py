"""Where the whole DCGAN training step's time goes, per op type, from a TensorFlow profiler trace.

    ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 python benchmarks/step_trace.py --size 32

`step_profile.py` times each layer alone; this traces the step itself (`train_step` in a
`tf.function`, at `auto`'s settings for this CPU unless `--precision`/`--kernel-grads` say
otherwise), so it also sees what no layer owns: the optimizers, the loss, z sampling, the
kernel-gradient rewrites' transposes and pads. `--steps` warm steps run under
`tf.profiler.experimental`; the host trace (`.xplane.pb`, read with the XPlane proto TensorFlow
ships) holds one event per op on the executor's threads. Where ops overlap, each instant's wall
time is split evenly among the ops running then, so the per-op figures add up to the traced
step. Ops are grouped by kind (`GROUPS`; the optimizers' ops by their name scope). The profiler
slows the many small ops most, so read the shares rather than the milliseconds.
"""

import argparse
import collections
import glob
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import add_step_flags, machine  # noqa: E402

# Op types by what they do in the step, first match wins; the optimizers' ops are told by
# their name scope instead (`group_of`).
GROUPS = (
    ("convolution", re.compile(r"Conv2D")),
    ("batch norm", re.compile(r"BatchNorm")),
    ("activation", re.compile(r"^(LeakyRelu|Relu|Tanh|Sigmoid)(Grad)?$")),
    ("matmul (dense layers)", re.compile(r"MatMul")),
    ("transpose, pad, slice", re.compile(r"Transpose|^Pad|Slice|Concat")),
)
OTHER = "other (loss, sampling, bias, sums)"
OPTIMIZER = "optimizers (Adam)"


def op_intervals(xspace):
    """`[(start_ps, end_ps, op_type, op_name)]`: the ops the executor ran in `xspace` (an
    `XSpace` proto), from its compute threads' lines; events of the runtime itself (named
    `Class::method`) are left out."""
    intervals = []
    for plane in xspace.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            base = line.timestamp_ns * 1000
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if ":" not in name or "::" in name:
                    continue
                op_name, op_type = name.rsplit(":", 1)
                start = base + event.offset_ps
                intervals.append((start, start + event.duration_ps, op_type, op_name))
    return intervals


def wall_shares(intervals):
    """`({(op_type, op_name): picoseconds}, busy_ps, span_ps)`: each instant's wall time
    split evenly among the ops running then; `busy` is when any ran, `span` first start to last
    end."""
    if not intervals:
        return {}, 0, 0
    edges = sorted([(start, 1, i) for i, (start, _, _, _) in enumerate(intervals)]
                   + [(end, -1, i) for i, (_, end, _, _) in enumerate(intervals)])
    shares, running, busy, last = collections.Counter(), set(), 0, None
    for time, kind, i in edges:
        if running and time > last:
            busy += time - last
            for j in running:
                shares[intervals[j][2:]] += (time - last) / len(running)
        if kind > 0:
            running.add(i)
        else:
            running.discard(i)
        last = time
    span = max(end for _, end, _, _ in intervals) - min(start for start, _, _, _ in intervals)
    return dict(shares), busy, span


def _scope(name):
    # TensorFlow numbers repeated name scopes: "adam", "adam_1", ...
    return re.sub(r"_\d+$", "", name.split("/", 1)[0])


def group_of(op_type, op_name, optimizer_names):
    """The `GROUPS` name of an op, `OPTIMIZER` for one under the name scope of an optimizer
    in `optimizer_names` (either numbered, as TensorFlow numbers repeated scopes), else
    `OTHER`."""
    if _scope(op_name) in {_scope(name) for name in optimizer_names}:
        return OPTIMIZER
    for group, pattern in GROUPS:
        if pattern.search(op_type):
            return group
    return OTHER


def trace_step(step, steps):
    """The `XSpace` of `steps` calls of `step` (already warm) under the TensorFlow profiler."""
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        try:
            for _ in range(steps):
                step()
        finally:
            tf.profiler.experimental.stop()
        xspace = xplane_pb2.XSpace()
        path = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)[0]
        with open(path, "rb") as f:
            xspace.ParseFromString(f.read())
    return xspace


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_step_flags(p)
    p.add_argument("--precision", default="auto", help="auto (this CPU's), fp32 or bf16")
    p.add_argument("--kernel-grads", help="native, patches or dilated (default: auto's)")
    p.add_argument("--top", type=int, default=25, help="op types to list")
    p.add_argument("--record", action="store_true",
                   help="write a `step_trace` record (ms per step of each group; benchmarks/results/)")
    a = p.parse_args(argv)
    import tensorflow as tf

    from dcgan_tf.config import ModelConfig, TrainConfig
    from variants import build_variant

    print(machine(), flush=True)
    cfg = ModelConfig(image_size=a.size, channels=a.channels, ngf=a.width, ndf=a.width)
    gan = build_variant(cfg, TrainConfig(precision=a.precision, jit="off", batch_size=a.batch),
                        kernel_grads=a.kernel_grads)
    step = tf.function(gan.train_step)
    x = tf.random.uniform((a.batch, a.size, a.size, a.channels), -1, 1)
    for _ in range(a.warmup):
        float(step(x)["d_loss"])
    shares, busy, span = wall_shares(op_intervals(
        trace_step(lambda: float(step(x)["d_loss"]), a.steps)))
    scopes = {gan.d_optimizer.name, gan.g_optimizer.name}
    per_step = 1e9 * a.steps  # picoseconds per millisecond, over the traced steps
    by_type, by_group, counts = collections.Counter(), collections.Counter(), collections.Counter()
    for (op_type, op_name), ps in shares.items():
        by_type[op_type] += ps
        by_group[group_of(op_type, op_name, scopes)] += ps
        counts[op_type] += 1
    print(f"\n{a.size}x{a.size}x{a.channels}, ngf = ndf = {a.width}, batch {a.batch}; "
          f"{a.steps} traced steps: {span / per_step:.1f} ms per step traced, ops running "
          f"{busy / max(span, 1):.0%} of it\n")
    print("| group | ms/step | share |\n|---|---|---|")
    for group, ps in by_group.most_common():
        print(f"| {group} | {ps / per_step:.2f} | {ps / max(busy, 1):.1%} |")
    print("\n| op type | ops/step | ms/step | share |\n|---|---|---|---|")
    for op_type, ps in by_type.most_common(a.top):
        print(f"| {op_type} | {counts[op_type]} | {ps / per_step:.2f} | {ps / max(busy, 1):.1%} |")
    if a.record:
        from records import write_record

        figures = {"traced_ms": round(span / per_step, 2), "ops": sum(counts.values()),
                   "group_ms": {g: round(ps / per_step, 2) for g, ps in by_group.items()}}
        print("record:", write_record("step_trace", figures, size=a.size, channels=a.channels,
                                      width=a.width, batch=a.batch, precision=a.precision,
                                      kernel_grads=a.kernel_grads or "auto"))
    print(f"traced_ms={span / per_step:.1f} ops={sum(counts.values())}")


if __name__ == "__main__":
    main()
