"""Images/s of the training step under each recipe option, as a ratio to the paper recipe.

    python benchmarks/recipe_throughput.py --size 32 --channels 3 --steps 10

All variants run in one process on the same in-memory batch, alternating, so that the
machine's other load slows them alike; each figure is the best of `--rounds` windows.
Ends with `paper_img/s=<N>` and one `ratio_<variant>=<R>` per variant. `--record` writes one
`recipe_step` record per variant (`records.write_record`): its img/s and its ratio to the
baseline's (the paper recipe, or the first variant when the paper recipe is not run).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from records import add_record_flags  # noqa: E402
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import machine  # noqa: E402

# Recipe options alone, then the presets that combine them (see dcgan_tf.recipes).
VARIANTS = {
    "paper": {},
    "rotation-d": {"train": {"rotation_weight": 1.0}},
    "rotation-d+g": {"train": {"rotation_weight": 1.0, "rotation_weight_g": 0.2}},
    "contrastive": {"train": {"contrastive_weight": 1.0}},
    "diffaugment": {"train": {"diffaugment": "translation,cutout,color"}},
    "spectral-norm": {"model": {"spectral_norm": True}},
    "ssgan-da": {"train": {"rotation_weight": 1.0, "rotation_weight_g": 0.2,
                           "diffaugment": "translation,cutout,color"}},
    # Semi-supervised D (K+1 classes, feature matching; batches of unlabelled, labelled, labels).
    "semi": {"model": {"labels": 1000, "label_classes": 10}},
    "g-ema": {"train": {"g_ema": 0.999}},
}


def build_step(name, size, channels, width, batch, precision):
    """Builds a variant's `DCGAN` and its traced `train_step`."""
    import tensorflow as tf

    from dcgan_tf.config import ModelConfig, TrainConfig
    from dcgan_tf.training.run import build_gan

    spec = VARIANTS[name]
    cfg = ModelConfig(image_size=size, channels=channels, ngf=width, ndf=width, **spec.get("model", {}))
    train = TrainConfig(precision=precision, jit="off", batch_size=batch, **spec.get("train", {}))
    gan = build_gan(cfg, train)
    return tf.function(gan.train_step)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--width", type=int, default=64, help="ngf = ndf")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=10, help="steps per timed window")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--precision", default="fp32")
    p.add_argument("--variants", default=",".join(VARIANTS))
    add_record_flags(p, "one `recipe_step` record per variant")
    a = p.parse_args()

    import tensorflow as tf

    print(machine())
    names = a.variants.split(",")
    x = tf.random.uniform((a.batch, a.size, a.size, a.channels), -1, 1)
    labelled = (x, tf.random.uniform((a.batch, a.size, a.size, a.channels), -1, 1),
                tf.random.uniform((a.batch,), 0, 10, dtype=tf.int32))
    inputs = {name: labelled if VARIANTS[name].get("model", {}).get("labels") else x
              for name in names}
    steps = {}
    for name in names:
        steps[name] = build_step(name, a.size, a.channels, a.width, a.batch, a.precision)
        for _ in range(2):  # Trace and warm up.
            float(steps[name](inputs[name])["d_loss"])
    best = {name: float("inf") for name in names}
    for _ in range(a.rounds):
        for name in names:
            start = time.perf_counter()
            for _ in range(a.steps):
                logs = steps[name](inputs[name])
            float(logs["d_loss"])
            best[name] = min(best[name], time.perf_counter() - start)
    rate = {name: a.batch * a.steps / best[name] for name in names}
    baseline = "paper" if "paper" in rate else names[0]
    base = rate[baseline]
    print(f"\nDCGAN {a.size}x{a.size}x{a.channels}, ngf=ndf={a.width}, batch {a.batch}, {a.precision}")
    print(f"{'variant':<16}{'img/s':>10}{'vs paper':>10}")
    for name in names:
        print(f"{name:<16}{rate[name]:>10.1f}{rate[name] / base:>10.2f}")
    if a.record:
        from records import write_record

        for name in names:
            figures = {"img_s": round(rate[name], 1), "vs_baseline": round(rate[name] / base, 3)}
            print("record:", write_record(
                "recipe_step", figures, variant=name, baseline=baseline, size=a.size,
                channels=a.channels, width=a.width, batch=a.batch, precision=a.precision,
                steps=a.steps, rounds=a.rounds, note=a.note))
    print(f"paper_img/s={base:.1f} " + " ".join(f"ratio_{n}={rate[n] / base:.3f}" for n in names))


if __name__ == "__main__":
    main()
