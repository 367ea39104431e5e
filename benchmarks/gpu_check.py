"""The GPU path end to end: training steps under MirroredStrategy, export, serving; img/s and ratios.

Run by `benchmarks/gpu_check.sh` (which installs `.[cuda]` first) on a machine with NVIDIA GPUs:

    python benchmarks/gpu_check.py                       # 32 and 64 px, fp32/bf16, XLA off/on
    python benchmarks/gpu_check.py --sizes 64 --variants bf16,bf16-xla --steps 50
    python benchmarks/gpu_check.py --dry-run             # the plan, no TensorFlow

Each variant builds the DCGAN under `tf.distribute.MirroredStrategy` over every visible GPU
(`--devices` picks others, e.g. `CPU:0,CPU:1` after splitting the CPU, as the tests do), feeds a
batch of `--batch` images per replica from memory through Keras' `fit` and times its epochs (best
of `--windows`). Then one short real training run (`dcgan_tf.training.run.train`) per size
exports a SavedModel, loads it with plain `tf.saved_model.load` and calls every signature. The
last line is `gpu_check: key=value ...`; `--record` writes one record per row
(`benchmarks/records.py`).
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

VARIANTS = {
    "fp32": dict(precision="fp32", jit="off"),
    "fp32-xla": dict(precision="fp32", jit="on"),
    "bf16": dict(precision="bf16", jit="off"),
    "bf16-xla": dict(precision="bf16", jit="on"),
}
SIZES = (32, 64)


def parse_args(argv=None):
    """The checked arguments; raises `SystemExit` (argparse's one-line error) on bad ones."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="32,64", help="image sizes, comma list of 32, 64")
    p.add_argument("--variants", default=",".join(VARIANTS),
                   help=f"comma list of {', '.join(VARIANTS)}")
    p.add_argument("--channels", type=int, default=3, choices=(1, 3))
    p.add_argument("--width", type=int, default=64, help="ngf = ndf")
    p.add_argument("--batch", type=int, default=128, help="images per replica per step")
    p.add_argument("--steps", type=int, default=20, help="steps per timed window")
    p.add_argument("--windows", type=int, default=3)
    p.add_argument("--devices", default="", help="comma list for MirroredStrategy; default all GPUs")
    p.add_argument("--serve-steps", type=int, default=20,
                   help="training steps of the run that is exported and served (0: skip)")
    p.add_argument("--record", action="store_true", help="write records to benchmarks/results/")
    p.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    args = p.parse_args(argv)
    try:
        args.sizes = [int(s) for s in args.sizes.split(",") if s]
    except ValueError:
        p.error(f"--sizes takes a comma list of integers. Received: {args.sizes!r}")
    bad = [s for s in args.sizes if s not in SIZES]
    if bad or not args.sizes:
        p.error(f"--sizes takes {' and '.join(map(str, SIZES))}. Received: {bad or 'nothing'}")
    args.variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown or not args.variants:
        p.error(f"Unknown --variants {unknown or 'nothing'}: expected a comma list of "
                f"{', '.join(VARIANTS)}")
    for name in ("width", "batch", "steps", "windows"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1. Received: {getattr(args, name)}")
    args.devices = [d for d in args.devices.split(",") if d]
    return args


def plan(args):
    """The (size, variant) pairs to time, in order."""
    return [(size, variant) for size in args.sizes for variant in args.variants]


def format_row(size, variant, replicas, img_s, base_img_s):
    """One result line; `parse_rows` reads it back."""
    return (f"row size={size} variant={variant} replicas={replicas} img_s={img_s:.1f} "
            f"per_replica={img_s / replicas:.1f} vs_fp32={img_s / base_img_s:.2f}")


def parse_rows(text):
    """The result rows of a `gpu_check.py` output, as dicts of typed values.

    Args:
        text: The script's stdout (other lines are ignored).

    Returns:
        A list of dicts with `size`, `variant`, `replicas`, `img_s`, `per_replica`, `vs_fp32`.
    """
    rows = []
    for line in text.splitlines():
        if not line.startswith("row "):
            continue
        fields = dict(item.split("=", 1) for item in line.split()[1:])
        rows.append({"size": int(fields["size"]), "variant": fields["variant"],
                     "replicas": int(fields["replicas"]), "img_s": float(fields["img_s"]),
                     "per_replica": float(fields["per_replica"]),
                     "vs_fp32": float(fields["vs_fp32"])})
    return rows


def time_variant(strategy, size, channels, width, batch, steps, windows, precision, jit):
    """Images/s of Keras' `fit` on a repeated in-memory batch under `strategy`, best window."""
    import keras
    import tensorflow as tf

    from dcgan_tf.config import ModelConfig, TrainConfig
    from dcgan_tf.training.run import build_gan

    global_batch = batch * strategy.num_replicas_in_sync
    cfg = ModelConfig(image_size=size, channels=channels, ngf=width, ndf=width)
    with strategy.scope():
        gan = build_gan(cfg, TrainConfig(precision=precision, jit=jit, batch_size=global_batch))
    x = tf.random.uniform((global_batch, size, size, channels), -1, 1)
    data = tf.data.Dataset.from_tensors(x).repeat()

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)

    timer = Timer()
    # The first epoch traces and compiles; the windows after it are timed.
    gan.fit(data, epochs=windows + 1, steps_per_epoch=steps, verbose=0, callbacks=[timer])
    return global_batch * steps / min(timer.seconds[1:])


def export_and_serve(size, channels, width, batch, steps, precision, jit):
    """Trains `steps` steps for real, exports, loads with plain TensorFlow and calls every
    signature; returns a dict of timings (s) and the batch-64 `serving_default` latency (ms)."""
    import numpy as np
    import tensorflow as tf

    from dcgan_tf.config import ModelConfig, TrainConfig
    from dcgan_tf.export.savedmodel import export_savedmodel
    from dcgan_tf.training.run import train

    out = tempfile.mkdtemp(prefix="gpu-check-")
    data = os.path.join(out, "images.npz")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (batch * 4, size, size, channels), dtype=np.uint8)
    np.savez(data, x=images)
    run_dir = os.path.join(out, "run")
    start = time.perf_counter()
    train(TrainConfig(out=run_dir, dataset="npz", data_dir=data, epochs=max(1, steps // 4),
                      batch_size=batch, precision=precision, jit=jit),
          ModelConfig(image_size=size, channels=channels, ngf=width, ndf=width), verbose=0)
    trained = time.perf_counter()
    version = export_savedmodel(run_dir, base_path=os.path.join(out, "savedmodels"), name="gpu")
    exported = time.perf_counter()
    served = tf.saved_model.load(version)
    z = tf.random.uniform((64, 100), -1, 1)
    pixels = served.signatures["serving_default"](z=z)["pixels"]
    for name in ("discriminate", "features"):
        served.signatures[name](images=pixels)
    served.signatures["sample"](seed=tf.range(4, dtype=tf.int64))
    latencies = []
    for _ in range(20):
        t = time.perf_counter()
        served.signatures["serving_default"](z=z)["pixels"].numpy()
        latencies.append((time.perf_counter() - t) * 1e3)
    return {"train_s": trained - start, "export_s": exported - trained,
            "serve_p50_ms": float(np.median(latencies)), "version": version}


def main(argv=None):
    args = parse_args(argv)
    if args.dry_run:
        for size, variant in plan(args):
            print(f"plan size={size} variant={variant} batch/replica={args.batch}")
        return 0
    import tensorflow as tf

    from common import machine, runnable_variants

    print(machine())
    gpus = tf.config.list_physical_devices("GPU")
    devices = args.devices or [f"GPU:{i}" for i in range(len(gpus))]
    if not devices:
        print("gpu_check: no GPU visible to TensorFlow (is `.[cuda]` installed? nvidia-smi?); "
              "use --devices CPU:0 to run the check on the CPU", file=sys.stderr)
        return 2
    if any(d.startswith("CPU:") for d in devices) and len(devices) > 1:
        from dcgan_tf.training.distribute import split_cpu

        split_cpu(len(devices))
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, True)
    strategy = tf.distribute.MirroredStrategy(devices)
    replicas = strategy.num_replicas_in_sync
    print(f"MirroredStrategy over {', '.join(devices)} ({replicas} replicas)")
    kept = runnable_variants(args.variants, VARIANTS)
    if not kept:
        print("gpu_check: every --variants is bf16, which cannot run here; add fp32",
              file=sys.stderr)
        return 2
    runs = [(s, v) for s, v in plan(args) if v in kept]
    results, base = [], {}
    for size, variant in runs:
        ips = time_variant(strategy, size, args.channels, args.width, args.batch, args.steps,
                           args.windows, **VARIANTS[variant])
        base.setdefault(size, ips)  # The first variant of each size is the ratios' base.
        print(format_row(size, variant, replicas, ips, base[size]), flush=True)
        results.append((size, variant, ips))
    serving = {}
    if args.serve_steps:
        for size in args.sizes:
            serving[size] = export_and_serve(size, args.channels, args.width, args.batch,
                                             args.serve_steps, **VARIANTS[runs[0][1]])
            s = serving[size]
            print(f"serve size={size}: trained {s['train_s']:.1f} s, exported {s['export_s']:.1f} s, "
                  f"serving_default batch 64 p50 {s['serve_p50_ms']:.2f} ms, every signature ran")
    if args.record:
        from records import write_record

        for size, variant, ips in results:
            write_record("train_step", {"img_s": ips, "per_replica_img_s": ips / replicas,
                                        "vs_first_variant": ips / base[size]},
                         size=size, channels=args.channels, width=args.width, batch=args.batch,
                         precision=VARIANTS[variant]["precision"], variant=variant,
                         replicas=replicas, device=", ".join(
                             tf.config.experimental.get_device_details(g).get("device_name", "GPU")
                             for g in gpus) or "CPU")
        for size, s in serving.items():
            write_record("gpu_serving", {k: v for k, v in s.items() if k != "version"}, size=size)
    summary = " ".join(f"{v}@{s}={ips:.1f}" for s, v, ips in results)
    print(f"gpu_check: replicas={replicas} {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
