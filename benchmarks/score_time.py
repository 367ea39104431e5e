"""How long `dcgan-tf score` takes: the classifier space trained afresh and from its cache, and
Inception-v3's embedding rate (measured on a few hundred images, the full N extrapolated).

    python benchmarks/score_time.py --model savedmodels/fashion/1 --dataset fashion_mnist --n 10000
    python benchmarks/score_time.py --model savedmodels/digits/1 --dataset npz \
        --data-dir /work/shared/data/cifar10_train_dev20k.npz --tile 50000 --inception-images 0

`--classifiers "width=32,shift=0.125;width=16,shift=0"` times instead the classifier space's
training alone for each `ClassifierConfig` given (one process, in turn) on the first `--n`
images of the `npz` split and prints each one's held-out accuracy, wall and process CPU seconds:

    python benchmarks/score_time.py --dataset npz --n 15000 \
        --data-dir /work/shared/data/cifar10_train_dev20k.npz \
        --classifiers "width=32,shift=0.125;width=16,shift=0"

`--tile N` makes a CIFAR-10-sized training split from a smaller `npz` (x, y): the images, their
mirror images, then copies shifted by 2 pixels, to N (the classifier's first call trains on
all of them; held-out accuracy on such a split counts near-duplicates, so quote accuracy from
an untiled split).

Inception runs with randomly initialised weights saved to a temporary file (ImageNet weights
cannot be downloaded here): its cost does not depend on the values of the weights.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.common import machine  # noqa: E402
from benchmarks.records import write_record  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="An exported SavedModel version directory.")
    p.add_argument("--dataset", required=True)
    p.add_argument("--data-dir")
    p.add_argument("--n", type=int, default=10_000, help="Generated and real images.")
    p.add_argument("--record", action="store_true", help="write records to benchmarks/results/")
    p.add_argument("--tile", type=int, default=0,
                   help="--dataset npz: grow the split to this many images (see above).")
    p.add_argument("--inception-images", type=int, default=200,
                   help="Images embedded to time Inception (0: skip).")
    p.add_argument("--classifiers",
                   help="Semicolon-separated ClassifierConfig fields (see above), e.g. width=16,shift=0.")
    args = p.parse_args(argv)
    if not (args.model or args.classifiers):
        p.error("give --model (a whole score) or --classifiers (the classifier space alone)")
    return args


def main(argv=None):
    from dcgan_tf.scoring.score import ScoreConfig, score_savedmodel

    args = parse_args(argv)
    print(machine(), flush=True)
    if args.classifiers:
        return compare_classifiers(args)
    with tempfile.TemporaryDirectory() as cache:
        data_dir = _tiled(args.data_dir, args.tile, cache) if args.tile else args.data_dir
        cfg = ScoreConfig(n=args.n, kid_subset_size=min(1000, args.n), cache_dir=cache)
        rows = []
        for label in ("classifier trained afresh", "classifier from the cache"):
            start, cpu = time.perf_counter(), time.process_time()
            report = score_savedmodel(args.model, args.dataset, data_dir, cfg)
            rows.append((label, time.perf_counter() - start, time.process_time() - cpu,
                         report["timings"]))
    space = report["feature_space"]
    print(f"\n`dcgan-tf score` on N = {args.n} ({args.dataset}, classifier space; held-out "
          f"accuracy of the classifier {space['heldout_accuracy']:.3f}):\n")
    print("| run | total s | process CPU s | feature space s | generate s | embed s | statistics s |")
    print("|---|---|---|---|---|---|---|")
    for label, total, cpu, t in rows:
        print(f"| {label} | {total:.1f} | {cpu:.1f} | {t['feature_space_s']:.1f} | "
              f"{t['generate_s']:.1f} | {t['features_s']:.1f} | {t['statistics_s']:.1f} |")
    (_, fresh, fresh_cpu, timings), (_, cached, cached_cpu, _) = rows
    if args.record:
        _record_first_score(args, space, fresh, fresh_cpu, cached, cached_cpu, timings)
    if args.inception_images:
        _time_inception(args)


def _record_first_score(args, space, fresh, fresh_cpu, cached, cached_cpu, timings):
    print("\n" + write_record("first_score", {
        "total_s": round(fresh, 1), "cpu_s": round(fresh_cpu, 1),
        "cached_total_s": round(cached, 1), "cached_cpu_s": round(cached_cpu, 1),
        **{k: v for k, v in timings.items() if k != "total_s"},
        "heldout_accuracy": round(space["heldout_accuracy"], 4)},
        n=args.n, dataset=args.dataset, tile=args.tile, classifier=space.get("config"),
        training_split=space.get("train_examples")))


def _classifier_config(text):
    from dcgan_tf.metrics.features import ClassifierConfig

    fields = {f: type(v) for f, v in ClassifierConfig().to_dict().items()}
    values = dict(item.split("=", 1) for item in text.split(",") if item)
    return ClassifierConfig(**{k: fields[k](v) for k, v in values.items()})


def compare_classifiers(args):
    """Held-out accuracy and training time of each `--classifiers` config on one split."""
    from dcgan_tf.data.datasets import Split
    from dcgan_tf.metrics.features import classifier_space

    with np.load(args.data_dir) as data:
        x, y = data["x"][:args.n], data["y"][:args.n].astype(np.int64)
    split = Split(x, y, int(y.max()) + 1)
    print(f"\nclassifier space trained on the first {len(x)} images of {args.data_dir} "
          "(10% held out):\n")
    print("| config | steps | held-out acc. | wall s | process CPU s |")
    print("|---|---|---|---|---|")
    for text in args.classifiers.split(";"):
        cfg = _classifier_config(text)
        start, cpu = time.perf_counter(), time.process_time()
        info = classifier_space(split, cfg, None).info
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        steps = info["epochs"] * -(-info["train_examples"] // cfg.batch_size)
        print(f"| {text} | {steps} | {info['heldout_accuracy']:.4f} | {wall:.1f} | {cpu:.1f} |",
              flush=True)
        if not args.record:
            continue
        write_record("classifier_space", {
            "heldout_accuracy": round(info["heldout_accuracy"], 4), "steps": steps,
            "wall_s": round(wall, 1), "cpu_s": round(cpu, 1)},
            config=cfg.to_dict(), data=args.data_dir, n=len(x))


def _tiled(path, n, folder):
    """An npz of `n` images grown from `path`'s: originals, mirrored, then shifted 2 pixels."""
    with np.load(path) as data:
        x, y = data["x"], data["y"]
    grown = [x, x[:, :, ::-1], np.roll(x, 2, axis=2), np.roll(x, 2, axis=1)]
    out = os.path.join(folder, f"tiled{n}.npz")
    np.savez(out, x=np.concatenate(grown)[:n], y=np.concatenate([y] * len(grown))[:n],
             x_test=x[:10_000], y_test=y[:10_000])
    print(f"training split: {n} images tiled from {len(x)} of {path}", flush=True)
    return out


def _time_inception(args):
    import keras

    from dcgan_tf.metrics.features import INCEPTION_SIZE, inception_space

    model = keras.applications.InceptionV3(include_top=False, pooling="avg", weights=None,
                                           input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "random.weights.h5")
        model.save_weights(path)
        space = inception_space(path)
    images = np.random.default_rng(0).integers(0, 256, (args.inception_images, 32, 32, 3), np.uint8)
    space.embed(images[:32])  # warm-up: graph tracing
    start = time.perf_counter()
    space.embed(images)
    rate = args.inception_images / (time.perf_counter() - start)
    print(f"\nInception-v3 at 299x299: {rate:.1f} img/s over {args.inception_images} images; "
          f"N = {args.n} generated + {args.n} real would take {2 * args.n / rate / 60:.1f} min to embed.")


if __name__ == "__main__":
    main()
