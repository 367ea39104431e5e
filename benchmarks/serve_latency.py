"""p50/p99 latency of the exported signatures, loaded with plain `tf.saved_model.load`.

    python benchmarks/serve_latency.py --size 32 --width 64
    python benchmarks/serve_latency.py --size 64 --width 64 --channels 3

Compares `dcgan-tf export`'s `serving_default` (fp32, with `--jit`, and with `--precision
bf16`) with a plain `tf.saved_model.save` of the Keras generator (the baseline), all measured
in this process. Weights are untrained: latency does
not depend on their values.

`--intra-op-threads 1,0` measures each TensorFlow intra-op thread count (0: TensorFlow's
default, one per core) in a fresh process, one after the other in this command: TF Serving's
`--tensorflow_intra_op_parallelism` sets the same pool.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import _conv_flops, machine, matmul_ceiling, percentiles  # noqa: E402


def _time(fn, arg, repeats, warmup=5):
    for _ in range(warmup):
        fn(arg)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(arg)
        next(iter(out.values())).numpy()
        samples.append((time.perf_counter() - start) * 1e3)
    return percentiles(samples)


def exported(tmp, size, channels, width, jit=False, precision="fp32"):
    """Exports an untrained model through `dcgan_tf.export.savedmodel`; returns (path, generator, cfg)."""
    from dcgan_tf.training import checkpoint
    from dcgan_tf.config import ModelConfig, TrainConfig
    from dcgan_tf.export.config import ExportConfig
    from dcgan_tf.export.savedmodel import export_savedmodel
    from dcgan_tf.training.run import build_gan

    cfg = ModelConfig(image_size=size, channels=channels, ngf=width, ndf=width)
    run = os.path.join(tmp, "run")
    if not os.path.isdir(run):
        gan = build_gan(cfg, TrainConfig(out=run))
        checkpoint.write_run_config(run, cfg, TrainConfig(out=run))
        checkpoint.save(gan, run, step=0, epoch=0)
    path = export_savedmodel(run, base_path=os.path.join(tmp, "models"), name="bench",
                             config=ExportConfig(jit=jit, precision=precision))
    return path, checkpoint.load_networks(run)[2], cfg


def plain_export(tmp, generator, cfg):
    """The baseline: `tf.saved_model.save` of a module calling the Keras generator."""
    import tensorflow as tf

    module = tf.Module()
    module.generator = generator
    spec = tf.TensorSpec((None, cfg.z_dim), tf.float32, name="z")
    module.generate = tf.function(lambda z: {"images": generator(z, training=False)}, input_signature=[spec])
    path = os.path.join(tmp, "plain")
    tf.saved_model.save(module, path, signatures={"serving_default": module.generate})
    return path


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--width", type=int, default=64, help="ngf = ndf")
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--batches", default="1,64")
    p.add_argument("--intra-op-threads", default="0",
                   help="comma list; 0 = TensorFlow's default (one per core)")
    p.add_argument("--record", action="store_true", help="write records (benchmarks/results/)")
    a = p.parse_args()

    counts = [int(t) for t in a.intra_op_threads.split(",")]
    if len(counts) > 1:  # thread pools are fixed at start-up: a fresh process per count
        for count in counts:
            print(f"\n=== --intra-op-threads {count} ===", flush=True)
            # argparse keeps an option's last value: the appended count wins.
            subprocess.run([sys.executable, os.path.abspath(__file__), *sys.argv[1:],
                            f"--intra-op-threads={count}"], check=True)
        return

    import tensorflow as tf

    if counts[0]:
        tf.config.threading.set_intra_op_parallelism_threads(counts[0])
    print(machine())
    print(f"intra-op threads: {counts[0] or 'default (one per core)'}")
    ceiling = matmul_ceiling()
    from dcgan_tf.hardware import bf16_runs, cpu_kind

    bf16_here = bf16_runs()
    if not bf16_here:
        print(f"bf16 columns: not run (bf16 cannot run on this CPU, kind {cpu_kind()})")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path, generator, cfg = exported(tmp, a.size, a.channels, a.width)
        g_flops = _conv_flops(generator)
        plain = tf.saved_model.load(plain_export(tmp, generator, cfg)).signatures["serving_default"]
        ours = tf.saved_model.load(path)
        xla = tf.saved_model.load(exported(tmp, a.size, a.channels, a.width, jit=True)[0])
        bf16 = (tf.saved_model.load(exported(tmp, a.size, a.channels, a.width, precision="bf16")[0])
                if bf16_here else None)
        rng = np.random.default_rng(0)
        for batch in (int(b) for b in a.batches.split(",")):
            z = tf.constant(rng.uniform(-1, 1, (batch, cfg.z_dim)).astype("float32"))
            pixels = tf.constant(rng.integers(0, 256, (batch, a.size, a.size, a.channels), dtype=np.uint8))
            base = _time(lambda x: plain(z=x), z, a.repeats)
            gen = _time(lambda x: ours.signatures["serving_default"](z=x), z, a.repeats)
            jit = _time(lambda x: xla.signatures["serving_default"](z=x), z, a.repeats)
            half = (_time(lambda x: bf16.signatures["serving_default"](z=x), z, a.repeats)
                    if bf16 else (float("nan"), float("nan")))
            feat = _time(lambda x: ours.signatures["features"](images=x), pixels, a.repeats)
            gflops = g_flops * batch / (min(gen[0], jit[0]) / 1e3) / 1e9
            rows.append((batch, base, gen, jit, half, feat, gflops))
    print(f"\n{a.size}x{a.size}x{a.channels}, ngf=ndf={a.width}, G {g_flops / 1e9:.3f} GFLOP/image; "
          f"matmul ceiling {ceiling:.0f} GFLOP/s")
    print("generate = dcgan-tf export's serving_default; --jit = the same exported with XLA; "
          "bf16 = exported with --precision bf16 (vs generate: its speed-up); "
          "plain = tf.saved_model.save of the Keras generator; G GFLOP/s of the faster fp32 export")
    print(f"{'batch':>5} {'plain p50':>10} {'generate p50':>13} {'p99':>8} {'vs plain':>9} "
          f"{'--jit p50':>10} {'p99':>8} {'vs plain':>9} {'bf16 p50':>9} {'p99':>8} "
          f"{'vs generate':>12} {'features p50':>13} {'p99':>8} {'G GFLOP/s':>10} {'ceiling':>8}")
    for batch, base, gen, jit, half, feat, gflops in rows:
        print(f"{batch:>5} {base[0]:>8.2f}ms {gen[0]:>11.2f}ms {gen[1]:>6.2f}ms {base[0] / gen[0]:>8.2f}x "
              f"{jit[0]:>8.2f}ms {jit[1]:>6.2f}ms {base[0] / jit[0]:>8.2f}x "
              f"{half[0]:>7.2f}ms {half[1]:>6.2f}ms {gen[0] / half[0]:>11.2f}x "
              f"{feat[0]:>11.2f}ms {feat[1]:>6.2f}ms {gflops:>10.1f} {gflops / ceiling:>8.2f}")

    if a.record:
        from records import write_record

        for batch, base, gen, jit, half, feat, gflops in rows:
            write_record("serve_latency", {"plain_p50_ms": base[0], "generate_p50_ms": gen[0],
                                           "generate_p99_ms": gen[1], "jit_p50_ms": jit[0],
                                           "bf16_p50_ms": half[0] if bf16 else None,
                                           "features_p50_ms": feat[0]},
                         size=a.size, channels=a.channels, width=a.width, batch=batch,
                         intra_op_threads=counts[0])


if __name__ == "__main__":
    main()
