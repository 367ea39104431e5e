"""The GAN's training fits fed by the in-memory pipeline: autotuned against one private thread.

    python benchmarks/pipeline_threads.py --dataset digits --processes 3 --fits 4 --steps 44
    python benchmarks/pipeline_threads.py --dataset npz --data-dir cifar10_train_dev20k.npz

On a 2-core VM some fits of the same step run at exactly half speed; for the classifier space
that mode never appeared with a one-thread, non-autotuned stream (benchmarks/README.md, issue
29). Here each process builds the default DCGAN under the training strategy and the pipeline
`data.datasets.train_dataset` builds (`threads=None`, autotuned, or `threads=1`), then runs
`--fits` fits of `--steps` steps and prints each fit's img/s. Processes alternate between the
two settings so that the machine's other load falls on both alike. A fit is counted slow below
0.7 of the fastest fit of the whole run. `--record` writes one `pipeline_fits` record per
setting (`records.write_record`): its median img/s, its slow fits, and its median's ratio to
autotune's.
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from records import add_record_flags  # noqa: E402
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SETTINGS = {"autotune": None, "one-thread": 1}


def one_process(a):
    """Runs the fits of one setting in this process; prints one JSON line of img/s per fit."""
    import keras

    from dcgan_tf.config import ModelConfig, TrainConfig
    from dcgan_tf.data import datasets
    from dcgan_tf.data.registry import NATIVE_SHAPES
    from dcgan_tf.training import distribute
    from dcgan_tf.training.run import build_gan

    channels = a.channels or NATIVE_SHAPES.get(a.dataset, (32, 3))[1]
    cfg = ModelConfig(image_size=32, channels=channels)
    strategy = distribute.get_strategy()
    with strategy.scope():
        gan = build_gan(cfg, TrainConfig(batch_size=a.batch))
    pipeline = datasets.PipelineConfig(seed=0, data_dir=a.data_dir, threads=SETTINGS[a.one])
    ds, _ = datasets.train_dataset(a.dataset, 32, channels, a.batch, pipeline, strategy=strategy)
    keras.utils.set_random_seed(0)
    gan.fit(ds, steps_per_epoch=4, epochs=1, verbose=0)  # Builds and traces the step.
    rates = []
    for _ in range(a.fits):
        start = time.perf_counter()
        gan.fit(ds, steps_per_epoch=a.steps, epochs=1, verbose=0)
        rates.append(a.steps * a.batch / (time.perf_counter() - start))
    print(json.dumps({"setting": a.one, "img_s": rates}), flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="digits")
    p.add_argument("--data-dir")
    p.add_argument("--channels", type=int)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--processes", type=int, default=3, help="Processes per setting.")
    p.add_argument("--fits", type=int, default=4, help="Fits per process.")
    p.add_argument("--steps", type=int, default=44, help="Steps per fit.")
    add_record_flags(p, "one `pipeline_fits` record per setting")
    p.add_argument("--one", choices=tuple(SETTINGS), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.one:
        return one_process(a)
    from common import machine

    print(machine(), flush=True)
    child = [sys.executable, os.path.abspath(__file__), "--dataset", a.dataset,
             "--batch", str(a.batch), "--fits", str(a.fits), "--steps", str(a.steps)]
    child += ["--data-dir", a.data_dir] if a.data_dir else []
    child += ["--channels", str(a.channels)] if a.channels else []
    rates = {name: [] for name in SETTINGS}
    for _ in range(a.processes):
        for name in SETTINGS:
            out = subprocess.run(child + ["--one", name], capture_output=True, text=True,
                                 check=True).stdout
            fits = json.loads(out.strip().splitlines()[-1])["img_s"]
            rates[name].append(fits)
            print(f"{name:>10}: " + " ".join(f"{r:.0f}" for r in fits), flush=True)
    fastest = max(r for runs in rates.values() for fits in runs for r in fits)
    print(f"\n| pipeline | img/s per fit (processes separated by /) | slow fits (< 0.7 x {fastest:.0f}) "
          "| median img/s |")
    print("|---|---|---|---|")
    medians, slow = {}, {}
    for name, runs in rates.items():
        flat = sorted(r for fits in runs for r in fits)
        slow[name] = sum(r < 0.7 * fastest for r in flat)
        medians[name] = flat[len(flat) // 2]
        shown = " / ".join(" ".join(f"{r:.0f}" for r in fits) for fits in runs)
        print(f"| {name} | {shown} | {slow[name]} of {len(flat)} | {medians[name]:.0f} |")
    print(f"\none-thread / autotune (medians): {medians['one-thread'] / medians['autotune']:.2f}x")
    if a.record:
        from records import write_record

        for name, runs in rates.items():
            figures = {"median_img_s": round(medians[name], 1), "slow_fits": slow[name],
                       "fits": sum(len(fits) for fits in runs),
                       "fastest_img_s": round(fastest, 1),
                       "vs_autotune": round(medians[name] / medians["autotune"], 3),
                       "img_s": [[round(r, 1) for r in fits] for fits in runs]}
            print("record:", write_record(
                "pipeline_fits", figures, setting=name, dataset=a.dataset, data_dir=a.data_dir,
                batch=a.batch, processes=a.processes, steps=a.steps,
                note=a.note))


if __name__ == "__main__":
    main()
