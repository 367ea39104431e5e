"""docs/results.md is rendered from benchmarks/results/ and is current; the renderer reads records right."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("render_results", ROOT / "benchmarks" / "render_results.py")
render = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(render)


def test_results_page_is_current_with_the_records():
    records = render.load_records()
    assert records, "no records in benchmarks/results/"
    expected = render.render_markdown(records, render.plottable(records))
    current = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    assert current == expected, "docs/results.md is out of date: run python benchmarks/render_results.py"
    for name in render.plottable(records):
        assert (ROOT / "docs" / "images" / render.PLOTS[name]).is_file(), name
    assert len(render.plottable(records)) == 2  # accuracy vs minutes, FID/KID vs steps


def test_every_record_says_what_how_where_and_when():
    for record in render.load_records():
        assert {"what", "figures", "command", "cpu", "date", "benchmark"} <= record.keys(), record["_file"]
        assert record["command"].strip(), record["_file"]
        assert record["cpu"].get("model"), record["_file"]


def _write(tmp_path, name, record):
    (tmp_path / name).write_text(json.dumps(record))


@pytest.mark.parametrize("flags, caps, kind", [
    (["avx2", "fma", "avx512f", "amx_tile", "amx_bf16", "avx512_bf16"], {}, "AMX"),
    (["avx2", "avx512f", "avx512_bf16"], {}, "AVX512-BF16"),
    (["avx2", "avx512f"], {}, "AVX-512"),
    (["avx2", "fma"], {}, "AVX2"),
    (["avx2", "avx512f"], {"ONEDNN_MAX_CPU_ISA": "AVX2"}, "AVX-512 (oneDNN capped at AVX2)"),
])
def test_machine_kind_from_the_cpu_flags(flags, caps, kind):
    assert render.cpu_kind({"flags": flags, "caps": caps}) == kind


def test_tables_hold_the_records_figures_and_ratios(tmp_path):
    cpu = {"model": "x", "flags": ["avx2"], "caps": {}}
    base = {"command": "c", "cpu": cpu, "benchmark": "b"}
    _write(tmp_path, "a.json", {**base, "what": "train_step", "date": "2026-01-01", "size": 32,
                                "channels": 3, "precision": "fp32",
                                "figures": {"img_s": 150.0, "torch_img_s": 120.0}})
    # A newer record of the same step replaces the older one in the table.
    _write(tmp_path, "b.json", {**base, "what": "train_step", "date": "2026-01-02", "size": 32,
                                "channels": 3, "precision": "fp32",
                                "figures": {"img_s": 210.0, "torch_img_s": 168.0}})
    _write(tmp_path, "c.json", {**base, "what": "quality", "date": "2026-01-03", "dataset": "d",
                                "recipe": "r", "figures": {"steps": 1000, "minutes": 5.0,
                                "probe_accuracy_1000": 61.25, "probe_accuracy_1000_std": 0.5,
                                "kid_x1e3": 20.0, "fid": 3.0}})
    _write(tmp_path, "d.json", {**base, "what": "unknown_kind", "date": "2026-01-04", "figures": {}})
    records = render.load_records(tmp_path)
    text = render.render_markdown(records, render.plottable(records))
    assert "| 210.0 | 168.0 | **1.25x** |" in text and "150.0" not in text
    assert "| 61.25 +- 0.50 |" not in text and "| 61.2 +- 0.5 |" in text
    assert "| 1,000 | 5.0 |" in text and "`unknown_kind`" in text
    assert render.plottable(records) == ["accuracy", "fid_kid"]
    names = render.draw_plots(records, images_dir=tmp_path / "img")
    assert all((tmp_path / "img" / render.PLOTS[n]).stat().st_size > 1000 for n in names)


def test_the_layer_table_sets_ours_against_pytorchs_faster_format(tmp_path):
    cpu = {"model": "x", "flags": ["avx2", "avx512f"], "caps": {"ONEDNN_MAX_CPU_ISA": "AVX2"}}
    base = {"command": "c", "cpu": cpu, "benchmark": "step_profile.py", "size": 32, "batch": 128,
            "width": 64, "precision": "fp32", "kernel_grads": "dilated", "rounds": 5}
    layers = {"discriminator/conv1": {"passes": 3, "ours_ms": 10.0,
                                      "torch_ms": {"NCHW": 9.0, "channels_last": 8.0}},
              "generator/deconv1": {"passes": 1, "ours_ms": 20.0,
                                    "torch_ms": {"NCHW": 30.0, "channels_last": 25.0}},
              "generator/reshape": {"passes": 1, "ours_ms": 0.5, "torch_ms": {}}}
    _write(tmp_path, "p.json", {**base, "what": "step_profile", "date": "2026-01-01",
                                "figures": {"layers": layers, "ours_step_ms": 100.0,
                                            "ours_sum_ms": 50.5, "torch_format": "channels_last",
                                            "torch_step_ms": 120.0, "torch_sum_ms": 49.0}})
    _write(tmp_path, "t.json", {**base, "what": "train_step", "date": "2026-01-02",
                                "figures": {"img_s": 389.2, "torch_img_s": 346.8,
                                            "torch_format": "channels_last"}})
    text = render.render_markdown(render.load_records(tmp_path))
    assert "| 389.2 | 346.8 (channels_last) | **1.12x** |" in text
    assert "AVX-512 (oneDNN capped at AVX2): 32x32x3, batch 128, width 64, fp32" in text
    assert "| layer | passes | ours ms | PyTorch ms (channels_last) |" in text
    # Heaviest share of our step first; the gap is passes x (ours - PyTorch's).
    rows = text[text.index("| discriminator/conv1 |"):].splitlines()
    assert rows[0] == "| discriminator/conv1 | 3 | 10.00 | 8.00 | 0.80 | 6.0 | 30.0% |"
    assert rows[1] == "| generator/deconv1 | 1 | 20.00 | 25.00 | 1.25 | -5.0 | 20.0% |"
    assert rows[2] == "| generator/reshape | 1 | 0.50 |  |  |  | 0.5% |"
    assert rows[3] == "| sum (passes x ms) | | 50.5 | 49.0 | **0.97** | 1.5 | 50% |"
    assert rows[4] == "| whole step | | 100.0 | 120.0 | **1.20** | -20.0 | 100% |"
    assert "`step_profile`" not in text  # shown, not listed among the other records


def test_quality_benchmark_records_what_the_results_page_reads(tmp_path):
    import argparse
    import sys

    sys.path.insert(0, str(ROOT))
    spec = importlib.util.spec_from_file_location("quality", ROOT / "benchmarks" / "quality.py")
    quality = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quality)
    space = {"name": "classifier", "weights_sha256": "e6eec00c0a70ffff"}
    probe = {"accuracy_mean": 0.98641, "accuracy_std": 0.00331, "feature_dim": 4704,
             "labelled": 990, "seconds": 125.25, "readout": "pyramid-flip"}
    variant = {"variant": "default", "flags": [], "steps": 660, "train_seconds": 588.0,
               "recipe": "pyramid", "probe": {"1000": probe}, "kid": 0.21043, "kid_std": 0.07106,
               "fid": 7.8523, "feature_space": space, "n_score": 300, "feature_dim": 4704}
    semi = {**variant, "variant": "semi", "recipe": "semi",
            "probe": {"1000": {**probe, "classify_accuracy": 0.9712}}}
    readout = {**variant, "variant": "paper-readout", "readout_of": "default", "readout": "4x4"}
    baselines = {"random-abc-pyramid-flip": {"1000": {**probe, "accuracy_mean": 0.97}},
                 "pixels": {"1000": probe}}
    args = argparse.Namespace(dataset="digits", note="shared CPU")
    found = quality.quality_records(args, [variant, semi, readout], baselines)
    (figures, context), (semi_figures, _), (_, readout_context), (base_figures, base_context) = found
    assert figures == {"steps": 660, "minutes": 9.8, "probe_accuracy_990": 98.64,
                       "probe_accuracy_990_std": 0.33, "kid_x1e3": 210.43, "kid_x1e3_std": 71.06,
                       "fid": 7.852, "probe_seconds": 125.2}
    assert context == {"dataset": "digits", "recipe": "pyramid", "variant": "default",
                       "score_space": "e6eec00c0a70", "n_score": 300, "feature_dim": 4704,
                       "note": "shared CPU"}
    assert semi_figures["classify_990"] == 97.12
    assert readout_context["recipe"] == "pyramid read out 4x4"
    assert base_figures == {"steps": 0, "probe_accuracy_990": 97.0, "probe_accuracy_990_std": 0.33}
    assert base_context["recipe"] == "pyramid (untrained D)"
    assert len(found) == 4  # the pixel baseline has no recipe to stand beside
    # The page renders them: the variant's row, and the untrained D's at step 0.
    for i, (figs, ctx) in enumerate(found):
        record = {"what": "quality", "figures": figs, "command": "c", "benchmark": "quality.py",
                  "cpu": {"model": "x", "flags": ["avx2"], "caps": {}}, "date": f"2026-01-0{i + 1}",
                  **ctx}
        _write(tmp_path, f"q{i}.json", record)
    text = render.render_markdown(render.load_records(tmp_path))
    assert "| digits | `pyramid` | 660 | 9.8 | 98.6 +- 0.3 |" in text
    assert "| digits | `pyramid (untrained D)` | 0 |  | 97.0 +- 0.3 |" in text
    names = render.draw_plots(render.load_records(tmp_path), images_dir=tmp_path / "img")
    assert names == ["accuracy", "fid_kid"]


def test_benchmarks_run_runs_every_benchmark_the_readme_lists():
    import re
    import subprocess

    script = (ROOT / "benchmarks" / "run").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `(\w+\.(?:py|sh))` \|", (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8"),
                        re.M)
    assert len(listed) >= 12
    ran = set(re.findall(r"^\s*run (\w+\.py)", script, re.M))
    # The GPU check needs a GPU machine; the renderer is what runs after the benchmarks.
    assert set(listed) - ran == {"gpu_check.sh", "render_results.py"}
    assert "gpu_check.sh" in script
    helped = subprocess.run([str(ROOT / "benchmarks" / "run"), "--help"], capture_output=True, text=True,
                            timeout=30)
    assert helped.returncode == 0 and helped.stdout.startswith("Runs every benchmark"), helped
    refused = subprocess.run([str(ROOT / "benchmarks" / "run"), "--quick"], capture_output=True, text=True,
                             timeout=30)
    assert refused.returncode == 2 and "usage: benchmarks/run [--full]" in refused.stderr


def test_benchmarks_run_full_records_with_every_benchmark_that_offers_it():
    import re

    script = (ROOT / "benchmarks" / "run").read_text(encoding="utf-8").replace("\\\n", " ")
    full = script[script.index("if [[ $full == 1 ]]"):script.index("\nelse\n")]
    quick = script[script.index("\nelse\n"):script.index("\nfi\n")]
    after = script[script.index("\nfi\n"):]
    assert "record=(--record)" in full and "record=()" in quick
    checked = set()
    for block, mode in ((full, "full"), (quick, "quick"), (after, "both")):
        for line in re.findall(r"^\s*run (\w+\.py.*)$", block, re.M):
            name = line.split()[0]
            source = (ROOT / "benchmarks" / name).read_text(encoding="utf-8")
            offers = '"--record"' in source or "add_record_flags(" in source
            if offers:
                checked.add(name)
            if mode == "full":
                assert ("--record" in line.split()) == offers, line
            elif mode == "quick":
                assert "--record" not in line, line  # quick sizes leave no records
            else:
                assert ('"${record[@]+"${record[@]}"}"' in line) == offers, line
    assert {"explore_latency.py", "pipeline_threads.py", "probe_all_labels.py",
            "recipe_throughput.py", "portable_latency.py"} <= checked


def test_install_size_walks_the_installed_requirements_and_the_page_shows_it(tmp_path):
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("install_size", ROOT / "benchmarks" / "install_size.py")
    size = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(size)
    found, _ = size.closure("dcgan-tf")
    assert {"dcgan-tf", "tensorflow", "numpy", "keras", "click"} <= set(found)
    assert not set(found) & {"pip", "setuptools"}
    assert "pytest" not in found and "pytest" in size.closure("dcgan-tf", ["test"])[0]
    assert size.dist_bytes(found["tensorflow"]) > 100e6
    cpu = {"model": "x", "flags": ["avx2"], "caps": {}}
    for name, extras, total in (("a.json", "", 2.69), ("b.json", "test", 3.12)):
        _write(tmp_path, name, {"what": "install_size", "command": "c", "benchmark": "install_size.py",
                                "cpu": cpu, "date": "2026-01-01", "extras": extras, "python": "3.11.7",
                                "platform": "x86_64", "figures": {"total_gb": total, "tensorflow_gb": 1.93,
                                                                  "distributions": 71}})
    text = render.render_markdown(render.load_records(tmp_path))
    assert "| `pip install -e .` | 71 | 2.69 | 1.93 | 3.11.7 | x86_64 |" in text
    assert '| `pip install -e ".[test]"` | 71 | 3.12 |' in text


def test_portable_latency_records_each_runtime_and_the_page_sets_it_against_the_savedmodel(tmp_path):
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("portable_latency",
                                                  ROOT / "benchmarks" / "portable_latency.py")
    latency = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(latency)
    samples = {"savedmodel": [2.0, 2.0, 2.2], "litert": [0.5, 0.5, 0.6], "browser (Chromium)": [4.0] * 3}
    feature_samples = {"savedmodel": [3.0] * 3, "litert": [1.5] * 3}
    sizes = {"savedmodel": 7_000_000, "litert": 3_500_000, "browser (Chromium)": 17_000_000}
    errors = {"litert": (1.2e-7, 0, 3.4e-6), "browser (Chromium)": (None, 1, None)}
    found = latency.portable_records(samples, feature_samples, sizes, {"litert": 3_600_000}, errors)
    assert found["savedmodel"] == {"g_bytes": 7_000_000, "g_p50_ms": 2.0, "g_vs_savedmodel": 1.0,
                                   "max_d_pixels": 0, "max_d_images": 0.0, "f_p50_ms": 3.0,
                                   "f_vs_savedmodel": 1.0, "max_rel_d_features": 0.0}
    assert found["litert"]["g_vs_savedmodel"] == 0.25 and found["litert"]["f_bytes"] == 3_600_000
    assert "max_d_images" not in found["browser (Chromium)"] and "f_p50_ms" not in found["browser (Chromium)"]
    cpu = {"model": "x", "flags": ["avx2"], "caps": {}}
    for i, (runtime, figures) in enumerate(found.items()):
        _write(tmp_path, f"p{i}.json", {"what": "portable_latency", "command": "c", "cpu": cpu,
                                        "benchmark": "portable_latency.py", "date": "2026-01-01",
                                        "runtime": runtime, "size": 32, "channels": 1, "width": 64,
                                        "figures": figures})
    text = render.render_markdown(render.load_records(tmp_path))
    assert ("| AVX2 | 32x32x1, width 64 | litert | 3,500,000 | 0.500 | 0.25 | 1.2e-07 | 0 | 1.500 | "
            "0.50 | 3.4e-06 |") in text
    assert "| browser (Chromium) | 17,000,000 | 4.000 | 2.00 |  | 1 |  |  |  |" in text


def test_serving_latency_sets_each_variant_against_the_fp32_export(tmp_path):
    cpu = {"model": "x", "flags": ["avx2", "avx512f", "avx512_bf16"], "caps": {}}
    for batch, bf16 in ((1, 0.5), (64, None)):
        _write(tmp_path, f"s{batch}.json", {
            "what": "serve_latency", "command": "c", "cpu": cpu, "benchmark": "serve_latency.py",
            "date": "2026-01-01", "size": 32, "channels": 1, "width": 64, "batch": batch,
            "intra_op_threads": 0, "figures": {"plain_p50_ms": 1.1, "generate_p50_ms": 1.0,
                                               "generate_p99_ms": 2.0, "jit_p50_ms": 0.8,
                                               "bf16_p50_ms": bf16, "features_p50_ms": 3.0}})
    text = render.render_markdown(render.load_records(tmp_path))
    assert "| AVX512-BF16 | 32x32x1, width 64 | 1 | 1.00 (2.00) | 0.80 | 1.25 | 0.50 | 2.00 | 3.00 |" in text
    assert "| AVX512-BF16 | 32x32x1, width 64 | 64 | 1.00 (2.00) | 0.80 | 1.25 |  |  | 3.00 |" in text


def test_recipe_pipeline_probe_and_explore_records_have_their_tables(tmp_path):
    cpu = {"model": "x", "flags": ["avx2"], "caps": {}}
    base = {"command": "c", "cpu": cpu, "date": "2026-01-01"}
    step = {"size": 32, "channels": 3, "width": 64, "batch": 128, "precision": "fp32",
            "baseline": "paper"}
    # Written in an order the page must not follow: the baseline's row comes first.
    for variant, img_s, ratio in (("spectral-norm", 300.0, 0.75), ("paper", 400.0, 1.0)):
        _write(tmp_path, f"r-{variant}.json", {**base, **step, "what": "recipe_step",
                                               "benchmark": "recipe_throughput.py", "variant": variant,
                                               "figures": {"img_s": img_s, "vs_baseline": ratio}})
    for setting, median, ratio, slow in (("one-thread", 1010.4, 0.94, 0), ("autotune", 1075.0, 1.0, 2)):
        _write(tmp_path, f"p-{setting}.json", {
            **base, "what": "pipeline_fits", "benchmark": "pipeline_threads.py", "setting": setting,
            "dataset": "digits", "batch": 128, "steps": 44,
            "figures": {"median_img_s": median, "vs_autotune": ratio, "slow_fits": slow, "fits": 16}})
    _write(tmp_path, "a.json", {**base, "what": "probe_all_labels", "benchmark": "probe_all_labels.py",
                                "train": 45000, "test": 10000, "features": 7168, "solver": "primal",
                                "load_average": 2.5,
                                "figures": {"seconds": 312.4, "cpu_s": 590.0, "C": 0.01,
                                            "test_error_pct": 27.31, "peak_rss_gb": 3.12}})
    for solver, seconds, ratio in (("liblinear", 96.0, 6.4), ("primal", 15.0, 1.0)):
        _write(tmp_path, f"s-{solver}.json", {
            **base, "what": "probe_solver_subset", "benchmark": "probe_all_labels.py", "solver": solver,
            "train": 6000, "features": 1024,
            "figures": {"seconds": seconds, "vs_primal": ratio, "C": 0.001, "test_error_pct": 30.5}})
    _write(tmp_path, "e.json", {**base, "what": "explore_latency", "benchmark": "explore_latency.py",
                                "size": 32, "channels": 1,
                                "figures": {"import_tensorflow_s": 3.1, "import_gradio_s": 2.2,
                                            "open_s": 1.5, "build_s": 0.4, "serve_s": 0.3, "start_s": 7.5,
                                            "walk_first_ms": 120.0, "walk_median_ms": 60.0,
                                            "walk_frame_median_ms": 25.0, "explorer_walk_median_ms": 20.0,
                                            "walk_vs_explorer": 3.0}})
    text = render.render_markdown(render.load_records(tmp_path))
    paper = "| AVX2 | 32x32x3, batch 128, width 64 | fp32 | paper | 400.0 | 1.00 (paper) |"
    spectral = "| AVX2 | 32x32x3, batch 128, width 64 | fp32 | spectral-norm | 300.0 | 0.75 (paper) |"
    assert paper in text and spectral in text and text.index(paper) < text.index(spectral)
    autotune = "| AVX2 | digits, batch 128 | autotune | 1,075 | 1.00 | 2 of 16 |"
    one = "| AVX2 | digits, batch 128 | one-thread | 1,010 | 0.94 | 0 of 16 |"
    assert autotune in text and one in text and text.index(autotune) < text.index(one)
    assert "| AVX2 | 45,000 + 10,000 x 7,168 | primal | 312.4 | 590.0 | 0.01 | 27.31 | 3.12 | 2.5 |" in text
    primal = "| AVX2 | 6,000 x 1,024 | primal | 15.0 | 1.00 | 0.001 | 30.50 |"
    liblinear = "| AVX2 | 6,000 x 1,024 | liblinear | 96.0 | 6.40 | 0.001 | 30.50 |"
    assert primal in text and liblinear in text and text.index(primal) < text.index(liblinear)
    assert "| AVX2 | 32x32x1 | 7.5 (3.1, 2.2, 1.5, 0.4, 0.3) | 120.0 | 60.0 | 25.0 | 20.0 | 3.00 |" in text
    assert "## Explorer latency" in text and "## Probe and score times" in text
    assert "| command | what ran |" not in text  # no probe or score times: no empty table
    # Shown, so not listed among the other records.
    assert "Other records" not in text


def test_the_step_trace_and_native_norm_records_have_their_tables(tmp_path):
    cpu = {"model": "x", "flags": ["avx2"], "caps": {}}
    base = {"command": "c", "cpu": cpu, "date": "2026-01-01", "size": 32, "channels": 3,
            "width": 64, "batch": 128}
    _write(tmp_path, "t.json", {**base, "what": "step_trace", "benchmark": "step_trace.py",
                                "precision": "fp32", "kernel_grads": "auto",
                                "figures": {"traced_ms": 400.0, "ops": 900,
                                            "group_ms": {"batch norm": 20.0, "convolution": 300.0,
                                                         "activation": 80.0}}})
    _write(tmp_path, "n.json", {**base, "what": "native_norm", "benchmark": "native_norm.py",
                                "figures": {"layers": {"conv1_bn + conv1_lrelu": {"onednn_ms": 3.0,
                                                                                  "native_ms": 1.5}},
                                            "library_img_s": 350.0, "native_img_s": 357.0,
                                            "step_ratio": 1.02, "max_rel_error": 2e-6}})
    text = render.render_markdown(render.load_records(tmp_path))
    # Largest group first, shares of the traced total.
    conv, act = "| convolution | 300.0 | 75.0% |", "| activation | 80.0 | 20.0% |"
    assert conv in text and act in text and text.index(conv) < text.index(act)
    assert "| batch norm | 20.0 | 5.0% |" in text
    assert "| conv1_bn + conv1_lrelu | 3.00 | 1.50 | 2.00x |" in text
    assert "| whole step, img/s | 350.0 | 357.0 | **1.020x** |" in text
    assert "Other records" not in text
