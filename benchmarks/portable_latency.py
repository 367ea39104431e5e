"""File size, batch-1 latency and error of each export format, measured in one process.

    python benchmarks/portable_latency.py --size 32 --channels 1 --width 64
    python benchmarks/portable_latency.py --run runs/digits

Exports a run (an untrained one of --size/--channels/--width with batch-norm statistics moved
off (0, 1) when --run is not given; latency does not depend on the weights) as a SavedModel and
as tflite, onnx and web, then times batch-1 generation in each runtime: the SavedModel's
`serving_default` through `tf.saved_model.load`, the TFLite file in LiteRT, the ONNX file in
onnxruntime, and the web page in headless Chromium (onnxruntime-web, wasm, one thread), timed
by the page itself (`performance.now()` around `session.run`). Timings run in --rounds rounds,
each runtime in turn inside a round, so a neighbour's load hits all of them alike; each
figure is the median over every call, with the spread of the round medians. Max error: against
the SavedModel's outputs for the same 64 z (images) and images (features, relative to their
largest magnitude).
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import machine  # noqa: E402


def _untrained_run(root, size, channels, width):
    from dcgan_tf.config import ModelConfig, TrainConfig
    from dcgan_tf.training import checkpoint
    from dcgan_tf.training.run import build_gan

    cfg = ModelConfig(image_size=size, channels=channels, ngf=width, ndf=width)
    run = os.path.join(root, "run")
    train_cfg = TrainConfig(out=run)
    gan = build_gan(cfg, train_cfg)
    rng = np.random.default_rng(1)
    for v in [*gan.generator.variables, *gan.discriminator.variables]:
        if v.path.endswith("moving_mean"):
            v.assign(rng.normal(0, 0.2, v.shape).astype("float32"))
        elif v.path.endswith("moving_variance"):
            v.assign(rng.uniform(0.5, 2.0, v.shape).astype("float32"))
    checkpoint.write_run_config(run, cfg, train_cfg)
    checkpoint.save(gan, run, step=1, epoch=1)
    return run


def _bytes(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


class _Browser:
    """The web export open in headless Chromium, served by `python -m http.server`."""

    def __init__(self, directory):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.server = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
             "--directory", directory], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
            options.add_argument(arg)
        self.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        self.driver.get(f"http://127.0.0.1:{port}/index.html")
        for _ in range(240):
            status = self.driver.execute_script("return document.getElementById('status').textContent")
            if status != "Loading the model...":
                break
            time.sleep(0.25)
        if status != "Ready.":
            raise RuntimeError(f"The page did not load: {status}")

    def time(self, z):
        """The page's own per-image latencies (ms) for batch-1 runs on the rows of `z`."""
        return self.driver.execute_async_script(
            "const [rows, done] = arguments; const d = window.dcgan; d.latencies.length = 0;"
            "(async () => { for (const r of rows) await d.generate(new Float32Array(r)); })()"
            ".then(() => done(Array.from(d.latencies)), e => done(String(e)));", z.tolist())

    def close(self):
        self.driver.quit()
        self.server.terminate()
        self.server.wait()


def _timer(fn):
    def run(rows):
        samples = []
        for row in rows:
            start = time.perf_counter()
            fn(row[None])
            samples.append((time.perf_counter() - start) * 1e3)
        return samples
    return run


def portable_records(samples, feature_samples, sizes, feature_sizes, errors):
    """`{runtime: figures}`: each runtime's file bytes, batch-1 p50 (ms) and its ratio to the
    SavedModel's, and its largest difference from the SavedModel's outputs, generator and
    features apart (a runtime without a features model has no `f_` figures)."""
    base, fbase = np.median(samples["savedmodel"]), np.median(feature_samples["savedmodel"])
    found = {}
    for name, s in samples.items():
        d_images, d_pixels, d_features = errors.get(name, (0.0, 0, 0.0))
        figures = {"g_bytes": sizes[name], "g_p50_ms": round(float(np.median(s)), 3),
                   "g_vs_savedmodel": round(float(np.median(s) / base), 3), "max_d_pixels": d_pixels}
        if d_images is not None:
            figures["max_d_images"] = d_images
        if name in feature_samples:
            f = feature_samples[name]
            figures.update({"f_p50_ms": round(float(np.median(f)), 3),
                            "f_vs_savedmodel": round(float(np.median(f) / fbase), 3),
                            "max_rel_d_features": d_features})
            if name in feature_sizes:
                figures["f_bytes"] = feature_sizes[name]
        found[name] = figures
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="A run directory; default: an untrained run of the flags below.")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--width", type=int, default=64, help="ngf = ndf")
    parser.add_argument("--calls", type=int, default=50, help="batch-1 calls per runtime per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1,
                        help="Threads of every runtime (TF intra- and inter-op, LiteRT, "
                             "onnxruntime); the page runs one. Default 1: batch 1 on a shared CPU.")
    parser.add_argument("--no-browser", action="store_true", help="Skip the web page's latency.")
    parser.add_argument("--record", action="store_true",
                        help="write one `portable_latency` record per runtime (benchmarks/results/)")
    args = parser.parse_args()
    print(machine())

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from dcgan_tf.export.portable import export_portable
    from dcgan_tf.export.portable_runtime import INTERPRETER, LiteRTModel, OnnxModel
    from dcgan_tf.export.savedmodel import export_savedmodel

    with tempfile.TemporaryDirectory() as tmp:
        run = args.run or _untrained_run(tmp, args.size, args.channels, args.width)
        saved = export_savedmodel(run, base_path=os.path.join(tmp, "savedmodels"), name="m")
        out = export_portable(run, os.path.join(tmp, "portable"))
        loaded = tf.saved_model.load(saved)
        generate, features = loaded.signatures["serving_default"], loaded.signatures["features"]
        litert = LiteRTModel(out["tflite"], threads=args.threads)
        onnx = OnnxModel(out["onnx"], threads=args.threads)
        z_dim = litert.contract["z_dim"]
        z = np.random.default_rng(0).uniform(-1, 1, (64, z_dim)).astype(np.float32)

        # Errors against the SavedModel.
        want = generate(z=tf.constant(z))
        images = want["pixels"].numpy()
        want_f = features(images=tf.constant(images))["features"].numpy()
        scale = np.abs(want_f).max()
        errors = {}
        for name, model in (("litert", litert), ("onnxruntime", onnx)):
            got = model.generate(z)
            errors[name] = (float(np.abs(got["images"] - want["images"].numpy()).max()),
                            int(np.abs(got["pixels"].astype(int) - images.astype(int)).max()),
                            float(np.abs(model.features(images)["features"] - want_f).max() / scale))

        timers = {
            "savedmodel": _timer(lambda x: generate(z=tf.constant(x))["pixels"].numpy()),
            "litert": _timer(litert.generate),
            "onnxruntime": _timer(onnx.generate),
        }
        browser = None
        if not args.no_browser:
            browser = _Browser(out["web"])
            got = browser.driver.execute_async_script(
                "const [rows, done] = arguments; window.dcgan.generate(new Float32Array(rows))"
                ".then(p => done(Array.from(p)));", z[:8].ravel().tolist())
            errors["browser (Chromium)"] = (None, int(np.abs(np.array(got).reshape(images[:8].shape)
                                                  - images[:8].astype(int)).max()), None)
            timers["browser (Chromium)"] = browser.time
        feature_timers = {
            "savedmodel": _timer(lambda x: features(images=tf.constant(x))["features"].numpy()),
            "litert": _timer(litert.features),
            "onnxruntime": _timer(onnx.features),
        }
        samples = {k: [] for k in timers}
        feature_samples = {k: [] for k in feature_timers}
        rounds = {k: [] for k in [*timers, *("f:" + k for k in feature_timers)]}
        for fn in [*timers.values(), *feature_timers.values()]:  # Warm-up.
            fn(z[:5] if fn not in feature_timers.values() else images[:5])
        for _ in range(args.rounds):
            for name, fn in timers.items():
                s = fn(np.tile(z, (args.calls // len(z) + 1, 1))[:args.calls])
                samples[name] += s
                rounds[name].append(np.median(s))
            for name, fn in feature_timers.items():
                s = fn(np.tile(images, (args.calls // len(images) + 1, 1, 1, 1))[:args.calls])
                feature_samples[name] += s
                rounds["f:" + name].append(np.median(s))
        if browser:
            browser.close()

        sizes = {
            "savedmodel": _bytes(saved),
            "litert": _bytes(os.path.join(out["tflite"], "generator.tflite")),
            "onnxruntime": _bytes(os.path.join(out["onnx"], "generator.onnx")),
            "browser (Chromium)": _bytes(out["web"]),
        }
        feature_sizes = {"litert": _bytes(os.path.join(out["tflite"], "features.tflite")),
                         "onnxruntime": _bytes(os.path.join(out["onnx"], "features.onnx"))}
        print(f"model: {litert.contract['image_size']}x{litert.contract['image_size']}x"
              f"{litert.contract['channels']}, z_dim {z_dim}, feature_dim "
              f"{litert.contract['feature_dim']}; LiteRT interpreter from {INTERPRETER}; "
              f"{args.rounds} rounds x {args.calls} batch-1 calls per runtime, medians; "
              f"{args.threads} thread(s) per runtime")
        print(f"savedmodel size: {sizes['savedmodel']:,} bytes (all signatures, G and D); web "
              f"folder: {sizes['browser (Chromium)']:,} bytes (generator.onnx + onnxruntime-web)")
        base = np.median(samples["savedmodel"])
        print(f"{'runtime':20} {'G file bytes':>13} {'G p50 ms':>9} {'round p50s':>13} "
              f"{'x SavedModel':>12} {'max |d images|':>14} {'max |d pixels|':>14}")
        for name, s in samples.items():
            err = errors.get(name, (0.0, 0, 0.0))
            spread = f"{min(rounds[name]):.2f}-{max(rounds[name]):.2f}"
            d_images = "-" if err[0] is None else f"{err[0]:.1e}"
            print(f"{name:20} {sizes[name]:>13,} {np.median(s):>9.3f} {spread:>13} "
                  f"{np.median(s) / base:>12.3f} {d_images:>14} {err[1]:>14}")
        fbase = np.median(feature_samples["savedmodel"])
        print(f"{'features':20} {'F file bytes':>13} {'F p50 ms':>9} {'round p50s':>13} "
              f"{'x SavedModel':>12} {'max rel |d F|':>14}")
        for name, s in feature_samples.items():
            spread = f"{min(rounds['f:' + name]):.2f}-{max(rounds['f:' + name]):.2f}"
            size = f"{feature_sizes[name]:,}" if name in feature_sizes else "(in SavedModel)"
            rel = "0" if name == "savedmodel" else f"{errors[name][2]:.1e}"
            print(f"{name:20} {size:>13} {np.median(s):>9.3f} {spread:>13} "
                  f"{np.median(s) / fbase:>12.3f} {rel:>14}")
        if args.record:
            from records import write_record

            for name, figures in portable_records(samples, feature_samples, sizes, feature_sizes,
                                                  errors).items():
                print("record:", write_record(
                    "portable_latency", figures, runtime=name, size=litert.contract["image_size"],
                    channels=litert.contract["channels"], width=args.width, threads=args.threads,
                    calls=args.calls, rounds=args.rounds))


if __name__ == "__main__":
    main()
