"""Feature extraction images/s through the `features` signature, and the L2-SVM fit time.

    python benchmarks/probe_throughput.py --images 10000 --labels 1000

The SVM is timed on the probe's C grid with `dcgan_tf.probe.protocol.fit_svm` (its default solver: an
exact Newton method in the dual, same objective as LinearSVC) against the baseline of a plain primal
`LinearSVC` on the same standardised features, at one C, in the same process.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import machine  # noqa: E402
from serve_latency import exported  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--width", type=int, default=64, help="ngf = ndf")
    p.add_argument("--images", type=int, default=10000)
    p.add_argument("--labels", type=int, default=1000)
    p.add_argument("--validation", type=int, default=1000)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--skip-primal", action="store_true", help="skip the (slow) primal baseline")
    p.add_argument("--record", action="store_true", help="write a record (benchmarks/results/)")
    a = p.parse_args()

    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from dcgan_tf.probe.run import extract_features
    from dcgan_tf.probe.protocol import DEFAULT_C_GRID, fit_svm

    print(machine())
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        path, _, _ = exported(tmp, a.size, 3, a.width)
        images = rng.integers(0, 256, (a.images, a.size, a.size, 3), dtype=np.uint8)
        extract_features(path, images[: a.batch], a.batch)  # trace and warm up
        start = time.perf_counter()
        feats = extract_features(path, images, a.batch)
        extract_s = time.perf_counter() - start

    # Features with class structure, so the SVM has something to learn.
    n = a.labels + a.validation
    labels = rng.integers(0, 10, n)
    x = feats[:n] + 0.5 * np.eye(10)[labels] @ rng.standard_normal((10, feats.shape[1]))
    train_x, train_y, val_x, val_y = x[: a.labels], labels[: a.labels], x[a.labels :], labels[a.labels :]
    start = time.perf_counter()
    _, c, err, _ = fit_svm(train_x, train_y, val_x, val_y)
    grid_s = time.perf_counter() - start
    primal_s = None
    if not a.skip_primal:
        z = StandardScaler().fit_transform(train_x)
        start = time.perf_counter()
        LinearSVC(C=c, dual=False, max_iter=2000).fit(z, train_y)
        primal_s = time.perf_counter() - start

    print(f"\nfeatures: {a.images} images {a.size}x{a.size}x3 -> {feats.shape[1]} dims, batch {a.batch}")
    print(f"{'what':<44}{'seconds':>10}{'rate':>18}")
    print(f"{'feature extraction':<44}{extract_s:>10.2f}{a.images / extract_s:>13.0f} img/s")
    print(f"{f'fit_svm, {len(DEFAULT_C_GRID)} C values, {a.labels} labels':<44}{grid_s:>10.2f}"
          f"{grid_s / len(DEFAULT_C_GRID):>14.2f} s/C")
    if primal_s is not None:
        print(f"{'baseline: primal LinearSVC, 1 C':<44}{primal_s:>10.2f}"
              f"{primal_s / (grid_s / len(DEFAULT_C_GRID)):>12.1f}x per C")
    if a.record:
        from records import write_record

        write_record("probe_features", {"images_per_s": a.images / extract_s,
                                        "svm_seconds_per_c": grid_s / len(DEFAULT_C_GRID)},
                     size=a.size, width=a.width, feature_dim=int(feats.shape[1]),
                     labels=a.labels)


if __name__ == "__main__":
    main()
