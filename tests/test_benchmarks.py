"""Each benchmark runs one tiny iteration, so they never rot (the figures come from real runs)."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from dcgan_tf import hardware

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")


def _run(script, *args, env=None):
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", script), *args],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("machine: ")
    return proc.stdout


def _run_recording(tmp_path, script, *args):
    """Runs `script ... --record` with its records sent to a temporary folder.

    Returns:
        `(stdout, records)`: the records in the order written, each checked to name what was
        measured, its figures, this command and the CPU; none was written to benchmarks/results/.
    """
    before = set(os.listdir(RESULTS))
    folder = tmp_path / "records"
    out = _run(script, *args, "--record", env={"BENCHMARK_RESULTS_DIR": str(folder)})
    assert set(os.listdir(RESULTS)) == before, "a smoke run wrote into benchmarks/results/"
    paths = [line.split("record: ", 1)[1] for line in out.splitlines() if line.startswith("record: ")]
    assert paths and sorted(os.path.basename(p) for p in paths) == sorted(os.listdir(folder))
    records = [json.loads(open(p, encoding="utf-8").read()) for p in paths]
    for record in records:
        assert record["benchmark"] == script and record["figures"]
        assert f"benchmarks/{script} " in record["command"] and record["command"].endswith("--record")
        assert record["cpu"]["model"] and record["cpu"]["cores"] == os.cpu_count()
        assert isinstance(record["cpu"]["flags"], list) and record["date"]
    return out, records


@pytest.mark.slow
def test_train_throughput_smoke():
    out = _run("train_throughput.py", "--size", "32", "--width", "8", "--batch", "8", "--steps", "2",
               "--warmup", "1", "--variants", "fp32,bf16", "--train-path", "--steps-per-epoch", "2")
    assert re.fullmatch(r"img/s=[\d.]+ gflops=[\d.]+ ceiling_ratio=[\d.]+", out.strip().splitlines()[-1])
    assert "train()" in out and "bf16" in out


@pytest.mark.slow
def test_serve_latency_smoke():
    out = _run("serve_latency.py", "--size", "32", "--width", "8", "--repeats", "2", "--batches", "1,4",
               "--intra-op-threads", "1")
    assert "features p50" in out and len(out.strip().splitlines()[-1].split()) >= 10
    assert "intra-op threads: 1" in out


@pytest.mark.slow
def test_probe_solvers_feature_extraction_smoke():
    out = _run("probe_solvers.py", "--export-images", "64", "--width", "8", "--batch", "32",
               "--sizes", "30", "--no-draw")
    assert "feature extraction: 64 images 32x32x3 -> " in out
    # F is the export's read-out width.
    width = int(out.split(" -> ")[1].split()[0])
    assert f"| 30 | {width} | gram |" in out


@pytest.mark.slow
def test_recipe_throughput_smoke(tmp_path):
    out, records = _run_recording(
        tmp_path, "recipe_throughput.py", "--width", "8", "--batch", "8", "--steps", "1",
        "--rounds", "1", "--variants", "paper,rotation-d+g,diffaugment,spectral-norm")
    last = out.strip().splitlines()[-1]
    assert last.startswith("paper_img/s=") and "ratio_paper=1.000" in last and "ratio_spectral-norm=" in last
    # One record per variant, with the img/s and the ratio the last line prints.
    printed = dict(item.split("=") for item in last.split())
    assert [r["variant"] for r in records] == ["paper", "rotation-d+g", "diffaugment", "spectral-norm"]
    for r in records:
        assert r["what"] == "recipe_step" and r["baseline"] == "paper"
        assert (r["width"], r["batch"], r["size"], r["channels"]) == (8, 8, 32, 3)
        assert r["figures"]["vs_baseline"] == pytest.approx(float(printed[f"ratio_{r['variant']}"]), abs=1e-3)
    assert records[0]["figures"]["img_s"] == pytest.approx(float(printed["paper_img/s"]), abs=0.05)


def test_quality_smoke_and_resume(tmp_path):
    args = ["--dataset", "digits", "--variant", "tiny=--recipe paper --ngf 8 --ndf 8 --batch-size 64",
            "--budget-steps", "3", "--labels", "50", "--repeats", "2", "--n-score", "100",
            "--classifier-epochs", "1", "--baselines", "pixels,random", "--out", str(tmp_path),
            "--readout", "pyr=tiny:--feature-pooling pyramid"]
    out = _run("quality.py", *args)
    row = r"\| {} \| 3 \| [\d.]+ \| \d+ \| {} \| [\d.]+ \+- [\d.]+ \| [\d.]+ \+- [\d.]+ \| [\d.]+ \|"
    # ndf 8 at 32x32: blocks of 8, 16 and 32 channels; a 4x4 grid 16 x 56, the pyramid 21 x 56.
    assert re.search(row.format("tiny", 896), out) and re.search(row.format("pyr", 1176), out), out
    # The untrained D once per read-out, named by it.
    assert "| pixels | 64 |" in out and "-4x4 | 896 |" in out and "-pyramid | 1176 |" in out
    assert "wall time:" in out
    report = json.loads((tmp_path / "quality.json").read_text())
    tiny, pyr = report["variants"]
    assert tiny["steps"] == 3 and tiny["n_score"] == 100 and pyr["readout_of"] == "tiny"
    assert pyr["kid"] == tiny["kid"]  # the same generator
    # Resumable: the finished variant is not trained again, and a label count added later is
    # only probed.
    more = list(args)
    more[more.index("--labels") + 1] = "50,100"
    added = _run("quality.py", *more)
    assert "tiny: result exists" in added and re.search(r"\| tiny \| 3 \|.*\|.*\+-.*\|.*\+-.*\|.*\+-", added)


def test_probe_all_labels_smoke(tmp_path):
    out, records = _run_recording(
        tmp_path, "probe_all_labels.py", "--train", "600", "--test", "200", "--features", "40",
        "--validation", "100", "--subset-train", "400", "--subset-features", "30")
    assert "liblinear / primal time" in out and "solver primal" in out and "peak RSS" in out
    # The comparison's solvers, then the full-size probe.
    primal, liblinear, full = records
    assert [r["what"] for r in records] == ["probe_solver_subset"] * 2 + ["probe_all_labels"]
    assert (primal["solver"], liblinear["solver"]) == ("primal", "liblinear")
    assert (primal["train"], primal["features"]) == (400, 30) and primal["figures"]["vs_primal"] == 1
    ratio = float(re.search(r"liblinear / primal time: ([\d.]+)x", out).group(1))
    assert liblinear["figures"]["vs_primal"] == pytest.approx(ratio, abs=0.051)
    gap = float(re.search(r"test error gap ([\d.]+) points", out).group(1))
    assert abs(liblinear["figures"]["test_error_vs_primal_points"]) == pytest.approx(gap, abs=0.01)
    assert (full["train"], full["features"], full["labelled"]) == (600, 40, 600)
    f = full["figures"]
    assert f"peak RSS {f['peak_rss_gb']:.2f} GB" in out and f"C {f['C']:g}, test error" in out
    assert f["hessian_calls"] > 0 and {"seconds", "cpu_s", "test_error_pct", "eigenbasis_s"} <= f.keys()


@pytest.mark.slow
def test_pipeline_threads_smoke(tmp_path):
    out, records = _run_recording(tmp_path, "pipeline_threads.py", "--processes", "1", "--fits",
                                  "2", "--steps", "2", "--batch", "8")
    assert "| autotune |" in out and "| one-thread |" in out
    ratio = float(re.search(r"one-thread / autotune \(medians\): ([\d.]+)x", out).group(1))
    autotune, one = records
    assert [r["setting"] for r in records] == ["autotune", "one-thread"]
    assert all(r["what"] == "pipeline_fits" and r["batch"] == 8 and r["dataset"] == "digits"
               for r in records)
    assert autotune["figures"]["vs_autotune"] == 1 and one["figures"]["vs_autotune"] == pytest.approx(ratio, abs=0.006)
    for r in records:
        f = r["figures"]
        assert f["fits"] == 2 and len(f["img_s"]) == 1 and len(f["img_s"][0]) == 2
        median = re.search(rf"\| {r['setting']} \| .* \| {f['slow_fits']} of 2 \| (\d+) \|", out)
        assert median and f["median_img_s"] == pytest.approx(int(median.group(1)), abs=0.51)


@pytest.mark.slow
def test_explore_latency_smoke(tmp_path, digits_export):
    pytest.importorskip("gradio")
    _, model = digits_export
    out, (record,) = _run_recording(tmp_path, "explore_latency.py", "--model", model,
                                    "--repeats", "2")
    assert record["what"] == "explore_latency" and (record["size"], record["channels"]) == (32, 1)
    f = record["figures"]
    walk = re.search(r"/walk \(8 frames \+ frame\) +first +([\d.]+) ms, median of next 2 +([\d.]+) ms", out)
    assert (f["walk_first_ms"], f["walk_median_ms"]) == pytest.approx(
        (float(walk.group(1)), float(walk.group(2))), abs=0.051)
    assert f["start_s"] == pytest.approx(sum(f[k] for k in ("import_tensorflow_s", "import_gradio_s", "open_s",
                                                           "build_s", "serve_s")), abs=0.05)
    ratio = float(re.search(r"/walk over Explorer.walk \(medians\) +([\d.]+)x", out).group(1))
    assert f["walk_vs_explorer"] == pytest.approx(ratio, abs=0.006) and f["walk_frame_median_ms"] > 0


@pytest.mark.slow
def test_score_time_smoke(digits_export):
    _, model = digits_export
    out = _run("score_time.py", "--model", model, "--dataset", "digits", "--n", "200",
               "--inception-images", "4")
    assert "| classifier trained afresh |" in out and "| classifier from the cache |" in out
    assert "Inception-v3 at 299x299:" in out


@pytest.mark.slow
def test_portable_latency_smoke():
    out = _run("portable_latency.py", "--width", "8", "--calls", "2", "--rounds", "1",
               "--no-browser")
    generator, features = out.split("\nfeatures ")
    rows = {line.split()[0]: line.split() for line in generator.splitlines()[-3:]}
    assert set(rows) == {"savedmodel", "litert", "onnxruntime"}
    assert float(rows["litert"][-2]) < 1e-4 and int(rows["onnxruntime"][-1]) <= 1
    assert float(features.splitlines()[-1].split()[-1]) < 1e-4  # onnxruntime's relative error.


def test_probe_solvers_smoke():
    out = _run("probe_solvers.py", "--features", "40", "--sizes", "30,1000", "--all",
               "--draw-labels", "100")
    rows = [line for line in out.splitlines() if line.startswith("| 30 |") or
            line.startswith("| 1000 |")]
    assert "| 30 | 40 | gram |" in rows[0] and "| 1000 | 40 | primal |" in rows[1]
    assert "skipped" not in out and "One protocol draw at 100 labels" in out


@pytest.mark.slow
def test_auto_choices_and_step_profile_smoke():
    out = _run("auto_choices.py", "--size", "32", "--width", "8", "--batch", "8", "--steps", "1",
               "--windows", "1", "--warmup", "1", "--pairs", "precision,dilated-patches", "--bf16")
    assert "| dilated-patches | dilated | patches |" in out
    if hardware.bf16_runs(hardware.cpu_kind()):
        assert "| precision | bf16 | fp32 |" in out
    else:
        assert "precision: bf16 not timed (bf16 cannot run on this CPU, kind avx2)" in out


def test_step_profile_smoke():
    out = _run("step_profile.py", "--size", "32", "--width", "8", "--batch", "8", "--rounds", "1",
               "--warmup", "1")
    assert "generator/project (Dense" in out and "| sum (passes x ms) |" in out
    assert "| whole step |" in out and "oneDNN ISA cap" in out
    assert re.fullmatch(r"step_ms=[\d.]+ sum_ms=[\d.]+", out.strip().splitlines()[-1])


def _torch_python():
    """An interpreter that imports torch (the given one, PyTorch's own venv, or this one)."""
    for python in (os.environ.get("DCGAN_TORCH_PYTHON"), "/work/torchenv/bin/python",
                   sys.executable):
        if python and os.path.exists(python) and subprocess.run(
                [python, "-c", "import torch"], capture_output=True).returncode == 0:
            return python
    return None


@pytest.mark.slow
def test_step_profile_against_torch_smoke():
    python = _torch_python()
    if python is None:
        pytest.skip("no interpreter here imports torch")
    out = _run("step_profile.py", "--size", "32", "--width", "8", "--batch", "8", "--rounds", "1",
               "--warmup", "1", "--precision", "fp32", "--torch-python", python)
    assert "PyTorch channels_last: torch " in out and "PyTorch NCHW: torch " in out
    assert re.search(r"\| discriminator/conv1 \(\w+, in \(16, 16, 8\)\) \| 3 \| [\d.]+ \| [\d.]+ \|",
                     out), out
    assert "| discriminator/flatten (Flatten, in (4, 4, 32)) | 3 |" in out  # no PyTorch layer
    assert "PyTorch's whole step, ms:" in out


def test_the_layer_comparison_weighs_each_layer_by_its_passes():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import step_profile

    ours = {"generator/deconv1": 20.0, "discriminator/conv1": 10.0, "discriminator/flatten": 0.5,
            "step": 100.0}
    torch = {"NCHW": {"generator/deconv1": 30.0, "discriminator/conv1": 9.0, "step": 130.0},
             "channels_last": {"generator/deconv1": 25.0, "discriminator/conv1": 8.0,
                               "step": 120.0}}
    rows, totals = step_profile.comparison(ours, torch)
    assert totals == {"ours_sum_ms": 51.5, "ours_step_ms": 100.0, "torch_format": "channels_last",
                      "torch_step_ms": 120.0, "torch_sum_ms": 49.0}
    conv = rows[1]
    assert conv["passes"] == 3 and conv["gap_ms"] == pytest.approx(6.0)
    assert conv["speed"] == pytest.approx(0.8) and conv["share"] == pytest.approx(0.3)
    assert rows[2]["torch_ms"] is None and rows[2]["gap_ms"] is None
    lines = step_profile.table(rows, totals, {"discriminator/conv1": "Conv2D, in (16, 16, 8)"})
    assert lines[0] == ("| layer | passes | ours ms | torch ms (channels_last) | ours speed / torch "
                        "| gap ms per step | share of our step |")
    assert lines[2] == "| discriminator/conv1 (Conv2D, in (16, 16, 8)) | 3 | 10.00 | 8.00 | 0.80 | 6.00 | 30.0% |"
    assert lines[-2] == "| sum (passes x ms) | | 51.5 | 49.0 | 0.95 | 2.5 | 51.5% |"
    assert lines[-1] == "| whole step | | 100.0 | 120.0 | 1.20 | -20.0 | 100% |"
    # Ours alone: no PyTorch columns.
    rows, totals = step_profile.comparison(ours)
    lines = step_profile.table(rows, totals)
    assert lines[0] == "| layer | passes | ours ms | share of our step |"
    assert lines[2:4] == ["| discriminator/conv1 | 3 | 10.00 | 30.0% |",
                          "| generator/deconv1 | 1 | 20.00 | 20.0% |"]
    assert lines[-1] == "| whole step | | 100.0 | 100% |"


def test_step_trace_smoke(tmp_path):
    out, records = _run_recording(tmp_path, "step_trace.py", "--size", "32", "--width", "8",
                                  "--batch", "8", "--steps", "1", "--warmup", "1")
    assert "| convolution |" in out and "| batch norm |" in out and "| optimizers (Adam) |" in out
    last = re.fullmatch(r"traced_ms=([\d.]+) ops=(\d+)", out.strip().splitlines()[-1])
    assert last
    (record,) = records
    assert record["what"] == "step_trace" and record["size"] == 32 and record["width"] == 8
    figures = record["figures"]
    assert figures["ops"] == int(last[2]) and abs(figures["traced_ms"] - float(last[1])) < 0.06
    for group, ms in figures["group_ms"].items():
        assert f"| {group} | {ms:.2f} |" in out


def test_the_step_trace_splits_overlapping_ops_and_reads_the_compute_threads():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import step_trace
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    plane = space.planes.add(name="/host:CPU")
    names = {1: "d/conv1/Conv2D:_MklNativeConv2D", 2: "adam_1/Sub:Sub",
             3: "ExecutorState::Process"}
    for key, name in names.items():
        plane.event_metadata[key].name = name
    for thread, events in (("tf_Compute/1", [(1, 0, 10), (3, 0, 40)]),
                           ("tf_Compute/2", [(2, 5, 10), (2, 30, 10)]),
                           ("python", [(1, 0, 99)])):
        line = plane.lines.add(name=thread, timestamp_ns=2)
        for key, start, duration in events:
            line.events.add(metadata_id=key, offset_ps=start, duration_ps=duration)
    intervals = step_trace.op_intervals(space)
    assert sorted(intervals) == [(2000, 2010, "_MklNativeConv2D", "d/conv1/Conv2D"),
                                 (2005, 2015, "Sub", "adam_1/Sub"),
                                 (2030, 2040, "Sub", "adam_1/Sub")]
    shares, busy, span = step_trace.wall_shares(intervals)
    # 0-5 the convolution alone, 5-10 both, 10-15 the Sub alone, 15-30 nothing, 30-40 the Sub.
    assert shares == {("_MklNativeConv2D", "d/conv1/Conv2D"): 7.5, ("Sub", "adam_1/Sub"): 17.5}
    assert (busy, span) == (25, 40)
    assert step_trace.wall_shares([]) == ({}, 0, 0)
    groups = {op: step_trace.group_of(*op, {"adam", "adam_1"}) for op in shares}
    assert groups == {("_MklNativeConv2D", "d/conv1/Conv2D"): "convolution",
                      ("Sub", "adam_1/Sub"): step_trace.OPTIMIZER}
    assert step_trace.group_of("LeakyReluGrad", "grad/lrelu", {"adam"}) == "activation"
    assert step_trace.group_of("_MklTranspose", "transpose_3", {"adam"}) == \
        "transpose, pad, slice"
    assert step_trace.group_of("Log1p", "Log1p", {"adam"}) == step_trace.OTHER


def test_a_train_step_record_per_variant_holds_the_ceiling_and_pytorch():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import train_throughput

    rates = {"TensorFlow": 90.0, "NumPy (OpenBLAS)": 184.0}
    figures = train_throughput._record_figures(389.2, 120.0, 0.65, rates, (346.8, "channels_last"))
    assert figures["ceiling_library"] == "NumPy (OpenBLAS)" and figures["ceiling_gflops"] == 184.0
    assert figures["torch_format"] == "channels_last"
    assert figures["ours_over_torch"] == pytest.approx(389.2 / 346.8)
    assert "torch_img_s" not in train_throughput._record_figures(1.0, 1.0, 0.1, rates, None)


def _common():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import common

    return common


def test_the_ceiling_names_the_fastest_library():
    common = _common()
    rates = {"TensorFlow": 90.4, "NumPy (OpenBLAS)": 184.2, "PyTorch": 174.0}
    assert common.describe_ceiling(rates) == (
        "ceiling 184 GFLOP/s (NumPy (OpenBLAS); TensorFlow 90, PyTorch 174)")
    assert common.describe_ceiling({"TensorFlow": 90.0}) == "ceiling 90 GFLOP/s (TensorFlow)"


def test_other_libraries_run_under_the_same_isa_cap(monkeypatch):
    common = _common()
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    monkeypatch.setattr("dcgan_tf.hardware.cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    env = common._capped_env()
    assert env["OPENBLAS_CORETYPE"] == "Haswell" and env["ATEN_CPU_CAPABILITY"] == "avx2"
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    env = common._capped_env()
    assert "OPENBLAS_CORETYPE" not in env and "ATEN_CPU_CAPABILITY" not in env


NEEDS_GXX = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ builds the native op")


@NEEDS_GXX
def test_native_norm_smoke(tmp_path):
    out, records = _run_recording(tmp_path, "native_norm.py", "--size", "32", "--width", "8",
                                  "--batch", "8", "--steps", "1", "--rounds", "2")
    (record,) = records
    figures = record["figures"]
    assert record["what"] == "native_norm" and record["size"] == 32 and record["width"] == 8
    assert figures["max_rel_error"] < 1e-4
    # Every batch norm of G and D, each with the activation that reads it.
    assert sorted(figures["layers"]) == ["conv1_bn + conv1_lrelu", "conv2_bn + conv2_lrelu",
                                         "deconv1_bn + deconv1_relu", "deconv2_bn + deconv2_relu",
                                         "project_bn + project_relu"]
    for name, ms in figures["layers"].items():
        assert f"| {name} | {ms['onednn_ms']:.2f} | {ms['native_ms']:.2f} |" in out
    assert out.strip().splitlines()[-1] == f"step_ratio={figures['step_ratio']:.3f}"


@NEEDS_GXX
def test_the_native_op_matches_numpy_and_gives_d_the_same_gradients(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import keras
    import native_norm
    import numpy as np
    import tensorflow as tf
    from keras import layers

    from dcgan_tf.config import ModelConfig, TrainConfig
    from dcgan_tf.fused_norm import FusedBatchNormalization
    from variants import build_variant

    lib = native_norm.load(native_norm.build(str(tmp_path)))
    assert native_norm.check(lib) < 1e-4
    # Moments by NumPy's own mean and var, independent of the reference's gradient algebra.
    x = np.random.default_rng(1).normal(3, 2, (64, 5)).astype("float32")
    y, mean, var, _ = lib.native_norm_act(x, np.ones(5, "float32"), np.zeros(5, "float32"), alpha=0.0)
    np.testing.assert_allclose(mean, x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(var, x.var(0), rtol=1e-4)
    np.testing.assert_allclose(y, np.maximum((x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), 0), atol=1e-5)

    cfg = ModelConfig(image_size=32, channels=1, ngf=4, ndf=4, z_dim=8)
    keras.utils.set_random_seed(0)
    gan = build_variant(cfg, TrainConfig(precision="fp32", jit="off", batch_size=8))
    d = gan.discriminator
    pairs = native_norm.norm_pairs(d)
    assert [(n.name, a.name, alpha) for n, a, alpha in pairs] == [("conv1_bn", "conv1_lrelu", 0.2),
                                                                  ("conv2_bn", "conv2_lrelu", 0.2)]
    assert [alpha for _, _, alpha in native_norm.norm_pairs(gan.generator)] == [0.0, 0.0, 0.0]
    images = tf.random.stateless_uniform((8, 32, 32, 1), (1, 2), -1, 1)

    def logits_and_grads():
        with tf.GradientTape() as tape:
            logits = d(images, training=True)
        return [logits, *tape.gradient(logits, d.trainable_weights)]

    # D through TensorFlow's own batch norm and leaky ReLU, then through the native op.
    originals = (FusedBatchNormalization.call, layers.ReLU.call, layers.LeakyReLU.call)
    library = logits_and_grads()
    with native_norm.native_norms(lib, [d]):
        native = logits_and_grads()
    assert (FusedBatchNormalization.call, layers.ReLU.call, layers.LeakyReLU.call) == originals
    for want, got in zip(library, native):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-3, atol=1e-6)
