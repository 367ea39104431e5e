"""The probe's SVM solvers against each other over the number of labels N, and `auto`'s pick.

    python benchmarks/probe_solvers.py --features 7168 --sizes 100,500,1000,2000,4000,10000
    python benchmarks/probe_solvers.py --features 9408 --sizes 2000,4000,10000 --no-draw
    python benchmarks/probe_solvers.py --export-images 10000 --size 32 --width 64 --sizes 1000

For each N and F: the whole C search (the 6-value grid, warm-started where the solver allows)
of `gram`, `primal` and `newton` on the same standardised synthetic features (CIFAR-10-like
correlated conv features, `probe_all_labels.synthetic_features`), their seconds, each one's
ratio to `auto`'s pick, the process's CPU seconds for `auto`'s pick (on one BLAS thread, as
`gram` runs, about its wall time on an idle machine: a figure that other load does not
inflate), and the test accuracy each reaches at the C the validation set picks
(all solve one objective: the accuracies must agree). A solver whose predicted time is far
beyond the others' is skipped and says so (`newton` above 4,000, `primal` below 1,000, `gram`
above 10,000). Then one draw of the protocol itself at `--draw-labels` (default 4000: the
paper's 400 per class) with a 10,000-example validation set, as `dcgan-tf probe` runs it.

`--export-images N` first times the other half of a probe: N random images through the
`features` signature of an untrained export (`--size`, `--width`), images/s after a warm-up
batch, and then takes F from that export (the read-out's width) unless `--features` is given.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from probe_all_labels import synthetic_features  # noqa: E402

# Solvers' ranges: outside them a solver is predicted to take many times auto's time.
LIMITS = {"newton": (0, 4000), "primal": (1000, 10**9), "gram": (0, 10_000)}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--features", type=int, default=None,
                   help="F. Default: the export's width with --export-images, else 7168")
    p.add_argument("--sizes", default="100,500,1000,2000,4000,10000", help="N values")
    p.add_argument("--solvers", default="gram,primal,newton")
    p.add_argument("--all", action="store_true", help="Run every solver at every N.")
    p.add_argument("--draw-labels", type=int, default=4000)
    p.add_argument("--no-draw", action="store_true", help="Skip the protocol draw.")
    p.add_argument("--export-images", type=int, default=0,
                   help="Time this many images through an export's `features` signature first.")
    p.add_argument("--size", type=int, default=32, help="image size of --export-images' export")
    p.add_argument("--width", type=int, default=64, help="ngf = ndf of --export-images' export")
    p.add_argument("--batch", type=int, default=256, help="feature batch of --export-images")
    p.add_argument("--record", action="store_true",
                   help="Write the protocol draw's time as a record (benchmarks/results/).")
    return p.parse_args(argv)


def time_solver(solver, x, y, val_x, val_y, test_x, test_y):
    from dcgan_tf.probe.protocol import SvmConfig, fit_svm

    start, cpu = time.perf_counter(), time.process_time()
    clf, c, _, _ = fit_svm(x, y, (val_x, val_y), SvmConfig(solver=solver))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return seconds, c, float(np.mean(clf.predict(test_x) == test_y)), cpu


def time_features(images, size, width, batch):
    """Images/s through the `features` signature of an untrained export; returns it and F."""
    import tempfile

    from dcgan_tf.probe.run import extract_features
    from serve_latency import exported

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        path, _, _ = exported(tmp, size, 3, width)
        x = rng.integers(0, 256, (images, size, size, 3), dtype=np.uint8)
        extract_features(path, x[:batch], batch)  # trace and warm up
        start = time.perf_counter()
        feats = extract_features(path, x, batch)
        seconds = time.perf_counter() - start
    return images / seconds, int(feats.shape[1])


def main(argv=None):
    from benchmarks.common import machine
    from dcgan_tf.probe.protocol import ProbeConfig, choose_solver, evaluate_features

    args = parse_args(argv)
    print(machine(), flush=True)
    dim = args.features or 7168
    if args.export_images:
        rate, width = time_features(args.export_images, args.size, args.width, args.batch)
        dim = args.features or width
        print(f"\nfeature extraction: {args.export_images} images {args.size}x{args.size}x3 -> "
              f"{width} features, batch {args.batch}: {rate:.0f} img/s", flush=True)
        if args.record:
            from benchmarks.records import write_record

            write_record("probe_features", {"images_per_s": rate}, benchmark="probe_solvers.py",
                         size=args.size, width=args.width, feature_dim=width)
    sizes = [int(s) for s in args.sizes.split(",")]
    solvers = args.solvers.split(",")
    val_x, val_y = synthetic_features(10_000, dim, seed=2)
    test_x, test_y = synthetic_features(10_000, dim, seed=3)
    rows = []
    print(f"\n| N | F | auto | auto CPU s | " + " | ".join(f"{s} s" for s in solvers)
          + " | " + " | ".join(f"{s} / auto" for s in solvers) + " | test acc. (C) |", flush=True)
    print("|---" * (4 + 2 * len(solvers) + 1) + "|", flush=True)
    for n in sizes:
        x, y = synthetic_features(n, dim, seed=1)
        pick = choose_solver("auto", n, dim)
        result = {}
        for solver in solvers:
            low, high = LIMITS[solver]
            if solver != pick and not args.all and not low <= n <= high:
                continue
            result[solver] = time_solver(solver, x, y, val_x, val_y, test_x, test_y)
        auto_s = result[pick][0]
        seconds = [f"{result[s][0]:.1f}" if s in result else "skipped" for s in solvers]
        ratios = [f"{result[s][0] / auto_s:.2f}" if s in result else "-" for s in solvers]
        accs = ", ".join(f"{s} {100 * result[s][2]:.2f} ({result[s][1]:g})" for s in result)
        print(f"| {n} | {dim} | {pick} | {result[pick][3]:.1f} | " + " | ".join(seconds) + " | " + " | ".join(ratios)
              + f" | {accs} |", flush=True)
        rows.append((n, pick, result))
    if not args.no_draw:
        num = args.draw_labels + 10_000
        train_x, train_y = synthetic_features(num, dim, seed=4)
        cfg = ProbeConfig(labels=args.draw_labels, validation=10_000, repeats=1, cache=False)
        cpu = time.process_time()
        report = evaluate_features(train_x, train_y, test_x, test_y, 10, cfg)
        cpu = time.process_time() - cpu
        draw = report["draws"][0]
        print(f"\nOne protocol draw at {args.draw_labels} labels, F = {dim}, validation 10,000, "
              f"test 10,000: solver {draw['solver']}, C = {draw['C']:g}, "
              f"{draw['seconds']:.1f} s, {cpu:.1f} CPU s (test accuracy "
              f"{100 * draw['accuracy']:.2f}%)", flush=True)
        if args.record:
            from benchmarks.records import write_record

            write_record("probe_time", {"seconds": draw["seconds"], "cpu_seconds": cpu,
                                        "accuracy": draw["accuracy"]},
                         benchmark="probe_solvers.py", solver=draw["solver"],
                         what_ran=f"one draw at {args.draw_labels:,} labels, {dim:,} features "
                                  "(synthetic), C search")
    return rows


if __name__ == "__main__":
    main()
