"""The probe at all labels (the paper's CIFAR-10 setting): time and peak memory of the SVM.

    python benchmarks/probe_all_labels.py --train 45000 --features 7168
    python benchmarks/probe_all_labels.py --skip-full --subset-train 6000 --subset-features 1024

Runs `dcgan_tf.probe.protocol.evaluate_features` with `ProbeConfig(labels=None, repeats=1)` (C
searched over the 6-value grid on a held-out validation set, then refitted on the whole training
split) on synthetic features of CIFAR-10's size: correlated like conv features (a 256-factor
low-rank part plus noise) with a weak class signal, so the SVM is neither trivial nor hopeless.
Then the baseline: the same protocol with `--solver primal` and `--solver liblinear` (scikit-learn's
LinearSVC) on a subset both can solve, in the same process: time ratio, chosen C, test errors.
Peak RSS is the process's maximum resident set (`getrusage`), features included. `--record`
writes one `probe_solver_subset` record per solver of the comparison (its time, and its ratio to
the primal solver's) and one `probe_all_labels` record of the full-size probe
(`records.write_record`).
"""

import argparse
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from records import add_record_flags  # noqa: E402
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def synthetic_features(n, dim, seed, classes=10, factors=256, chunk=4096):
    """float32 (n, dim) features and labels: low-rank correlated part + noise + class means."""
    rng = np.random.default_rng(1234)  # the same feature "model" for every split
    loadings = rng.standard_normal((factors, dim)).astype(np.float32)
    loadings *= np.linspace(3.0, 0.1, factors, dtype=np.float32)[:, None]
    # Class means of a size that leaves the classes equally separable at any width.
    means = rng.standard_normal((classes, dim)).astype(np.float32) * (3.4 / np.sqrt(dim))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = np.empty((n, dim), np.float32)
    for i in range(0, n, chunk):
        rows = slice(i, min(i + chunk, n))
        m = rows.stop - rows.start
        x[rows] = rng.standard_normal((m, factors), dtype=np.float32) @ loadings
        x[rows] += rng.standard_normal((m, dim), dtype=np.float32)
        x[rows] += means[y[rows]]
    return x, y


def peak_rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def cpu_seconds():
    """User + system CPU time of this process: what the work cost, whatever else is running."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Costs:
    """Times the primal solver's kernels, to say where time goes: the eigendecomposition and
    rotation of the features, the conjugate gradients' Hessian products (one pass over the
    features each, all classes at once), and the other passes (gradients, outputs, diagonals)."""

    def __init__(self):
        from dcgan_tf.probe import solvers

        self.counts = {"eigenbasis + rotation": [0, 0.0], "Hessian products": [0, 0.0],
                       "other passes": [0, 0.0]}
        problems = solvers._RotatedProblems
        for name, key in (("__init__", "eigenbasis + rotation"),
                          ("_masked_gram_times", "Hessian products"),
                          ("_times", "other passes"), ("_transpose_times", "other passes"),
                          ("_squares", "other passes")):
            setattr(problems, name, self._timed(getattr(problems, name), key))

    def _timed(self, function, key):
        def timed(*args):
            start = time.perf_counter()
            try:
                return function(*args)
            finally:
                self.counts[key][0] += 1
                self.counts[key][1] += time.perf_counter() - start
        return timed

    def __str__(self):
        return ", ".join(f"{k}: {n} in {t:.1f} s" for k, (n, t) in self.counts.items())

    def figures(self):
        """Each kernel's calls and seconds, as record figures."""
        out = {}
        for key, name in (("eigenbasis + rotation", "eigenbasis"),
                          ("Hessian products", "hessian"), ("other passes", "other_passes")):
            calls, seconds = self.counts[key]
            out.update({f"{name}_calls": calls, f"{name}_s": round(seconds, 1)})
        return out


def probe(train, test, solver, validation):
    from dcgan_tf.probe.protocol import ProbeConfig, evaluate_features

    cfg = ProbeConfig(labels=None, validation=validation, repeats=1, solver=solver)
    start, cpu = time.perf_counter(), cpu_seconds()
    report = evaluate_features(*train, *test, 10, cfg)
    report["cpu_s"] = cpu_seconds() - cpu
    return report, time.perf_counter() - start


def _record_subset(a, rows, load):
    """One `probe_solver_subset` record per solver: its time, C, errors and time over primal's."""
    from records import write_record

    primal_report, primal_seconds = rows["primal"]
    for solver, (report, seconds) in rows.items():
        draw = report["draws"][0]
        gap = report["test_error_mean"] - primal_report["test_error_mean"]
        print("record:", write_record("probe_solver_subset", {
            "seconds": round(seconds, 1), "cpu_s": round(report["cpu_s"], 1), "C": draw["C"],
            "val_error_pct": round(100 * draw["val_error"], 2),
            "test_error_pct": round(100 * draw["test_error"], 2),
            "vs_primal": round(seconds / primal_seconds, 2),
            "test_error_vs_primal_points": round(100 * gap, 2)},
            solver=solver, train=a.subset_train, test=a.test, features=a.subset_features,
            validation=a.validation, load_average=load, note=a.note))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", type=int, default=45_000, help="training split (all labelled)")
    p.add_argument("--test", type=int, default=10_000)
    p.add_argument("--features", type=int, default=7168)
    p.add_argument("--validation", type=int, default=10_000, help="capped at 20%% of --train")
    p.add_argument("--subset-train", type=int, default=6000)
    p.add_argument("--subset-features", type=int, default=1024)
    p.add_argument("--skip-full", action="store_true", help="only the liblinear comparison")
    p.add_argument("--skip-liblinear", action="store_true", help="only the full-size probe")
    add_record_flags(p, "`probe_solver_subset` and `probe_all_labels` records")
    a = p.parse_args()

    # Not common.machine(): it imports TensorFlow, whose memory would count in the peak RSS.
    import platform

    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"no TensorFlow imported")
    load = round(os.getloadavg()[0], 2)
    print(f"load average at start: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    if not a.skip_liblinear:
        train = synthetic_features(a.subset_train, a.subset_features, seed=1)
        test = synthetic_features(a.test, a.subset_features, seed=2)
        rows = {}
        for solver in ("primal", "liblinear"):
            report, seconds = probe(train, test, solver, a.validation)
            rows[solver] = (report, seconds)
            draw = report["draws"][0]
            print(f"subset {a.subset_train} x {a.subset_features}, {solver:<9}: {seconds:8.1f} s "
                  f"({report['cpu_s']:.1f} s CPU),"
                  f" C {draw['C']:g}, val error {100 * draw['val_error']:.2f}%, test error "
                  f"{100 * draw['test_error']:.2f}%, converged "
                  f"{[s['converged'] for s in draw['search']]}")
        ratio = rows["liblinear"][1] / rows["primal"][1]
        gap = 100 * abs(rows["primal"][0]["test_error_mean"] - rows["liblinear"][0]["test_error_mean"])
        same_c = rows["primal"][0]["draws"][0]["C"] == rows["liblinear"][0]["draws"][0]["C"]
        print(f"liblinear / primal time: {ratio:.1f}x; same C: {same_c}; "
              f"test error gap {gap:.2f} points")
        if a.record:
            _record_subset(a, rows, load)
        del train, test
    if not a.skip_full:
        start = time.perf_counter()
        train = synthetic_features(a.train, a.features, seed=1)
        test = synthetic_features(a.test, a.features, seed=2)
        made = time.perf_counter() - start
        costs = Costs()
        report, seconds = probe(train, test, "auto", a.validation)
        draw = report["draws"][0]
        print(f"primal solver kernels: {costs}")
        print(f"features: {a.train} train + {a.test} test x {a.features} (made in {made:.1f} s)")
        print(f"search over {[s['C'] for s in draw['search']]}: val errors "
              f"{[round(100 * s['val_error'], 2) for s in draw['search']]}%, converged "
              f"{[s['converged'] for s in draw['search']]}")
        print(f"all labels ({report['sizes']['labelled']}), solver {draw['solver']}: "
              f"{seconds:.1f} s ({report['cpu_s']:.1f} s CPU), C {draw['C']:g}, test error {100 * draw['test_error']:.2f}%, "
              f"peak RSS {peak_rss_gb():.2f} GB")
        if a.record:
            from records import write_record

            print("record:", write_record("probe_all_labels", {
                "seconds": round(seconds, 1), "cpu_s": round(report["cpu_s"], 1),
                "C": draw["C"], "test_error_pct": round(100 * draw["test_error"], 2),
                "peak_rss_gb": round(peak_rss_gb(), 2), "features_made_s": round(made, 1),
                **costs.figures()}, solver=draw["solver"], train=a.train, test=a.test,
                features=a.features, validation=a.validation, labelled=report["sizes"]["labelled"],
                load_average=load, note=a.note))
    print(f"load average at end: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
