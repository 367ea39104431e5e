"""Renders docs/results.md (and its plots) from the benchmark records in benchmarks/results/.

Every figure the page shows comes from a record (`benchmarks/records.py: write_record`); rerun
this after adding records. `tests/test_results.py` fails when the page is out of date.

    python benchmarks/render_results.py            # writes docs/results.md and docs/images/results-*.png
    python benchmarks/render_results.py --check    # exit 1 if docs/results.md is out of date

What each section reads (records of other kinds are listed at the end, by name):
- `train_step`: figures `img_s`, and where measured `torch_img_s` (+ `torch_format`),
  `ceiling_ratio`, `ceiling_library`; context `size`, `channels`, `precision`, `width`, `batch`.
- `step_profile`: figures `layers` (`{layer: {passes, ours_ms, torch_ms: {format: ms}}}`),
  `ours_step_ms`, `ours_sum_ms`, `torch_format`, `torch_step_ms`, `torch_sum_ms`; context as
  `train_step`'s, and `kernel_grads`.
- `default_run`: figures `seconds`, `steps` (the default `dcgan-tf train`).
- `quality`: figures `steps`, `minutes`, `probe_accuracy_<labels>` (+ `_std`), `classify_<labels>`,
  `kid_x1e3` (+ `_std`), `fid`; context `dataset`, `recipe`.
- `probe_time`, `score_time`: figures `seconds` (+ any stage times); context `what_ran`.
- `portable_latency`: figures `g_bytes`, `g_p50_ms`, `g_vs_savedmodel`, `max_d_images`,
  `max_d_pixels`, and where the runtime has a features model `f_p50_ms`, `f_vs_savedmodel`,
  `max_rel_d_features`, `f_bytes`; context `runtime`, `size`, `channels`, `width`.
- `serve_latency`: figures `generate_p50_ms`, `generate_p99_ms`, `jit_p50_ms`, `bf16_p50_ms`
  (where the CPU runs bf16), `features_p50_ms`; context `size`, `channels`, `width`, `batch`.
- `install_size`: figures `total_gb`, `tensorflow_gb`, `distributions`; context `extras`,
  `python`, `platform`.
- `recipe_step`: figures `img_s`, `vs_baseline`; context `variant`, `baseline`, and
  `train_step`'s.
- `pipeline_fits`: figures `median_img_s`, `vs_autotune`, `slow_fits`, `fits`; context `setting`,
  `dataset`, `batch`, `steps`.
- `probe_all_labels`: figures `seconds`, `cpu_s`, `C`, `test_error_pct`, `peak_rss_gb`; context
  `train`, `test`, `features`, `solver`. `probe_solver_subset`: figures `seconds`, `vs_primal`,
  `C`, `test_error_pct`; context `solver`, `train`, `features`.
- `explore_latency`: figures `start_s` (and its stages), `walk_first_ms`, `walk_median_ms`,
  `walk_frame_median_ms`, `explorer_walk_median_ms`, `walk_vs_explorer`; context `size`,
  `channels`.
"""

import argparse
import glob
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # Run as a script from a checkout: the package beside it.

from dcgan_tf import hardware  # noqa: E402
RESULTS_DIR = os.path.join(ROOT, "benchmarks", "results")
PAGE = os.path.join(ROOT, "docs", "results.md")
IMAGES = os.path.join(ROOT, "docs", "images")
PLOTS = {"accuracy": "results-accuracy-vs-minutes.png", "fid_kid": "results-fid-kid-vs-steps.png"}


def load_records(results_dir=RESULTS_DIR):
    """Every record in `results_dir`, oldest first (by date, then file name)."""
    records = []
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json"))):
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        record["_file"] = os.path.basename(path)
        records.append(record)
    return sorted(records, key=lambda r: (r.get("date", ""), r["_file"]))


_KIND_NAMES = {"amx": "AMX", "avx512_bf16": "AVX512-BF16", "avx512": "AVX-512", "avx2": "AVX2"}


def cpu_kind(cpu):
    """A short name of the record's machine: `GPU`, `AMX`, `AVX512-BF16`, `AVX-512` or `AVX2`
    (`dcgan_tf.hardware.cpu_kind_of` of its flags), with any ISA cap in force named after it."""
    if cpu.get("kind"):
        kind = cpu["kind"]
    else:
        flags = set(cpu.get("flags", []))
        kind = _KIND_NAMES[hardware.cpu_kind_of(flags)] if "avx2" in flags else "other"
    cap = (cpu.get("caps") or {}).get("ONEDNN_MAX_CPU_ISA")
    return f"{kind} (oneDNN capped at {cap})" if cap else kind


def _fmt(value, digits=1):
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return f"{value:,.{digits}f}"


def _pm(figures, key, digits=1, scale=1.0):
    value = figures.get(key)
    if value is None:
        return ""
    std = figures.get(f"{key}_std")
    text = f"{value * scale:.{digits}f}"
    return f"{text} +- {std * scale:.{digits}f}" if std is not None else text


def _date(record):
    return record.get("date", "")[:10]


def _link(record):
    digest = os.path.splitext(record["_file"])[0].rsplit("-", 1)[-1]
    return f"[{digest}](../benchmarks/results/{record['_file']})"


def _in_order(values):
    """A sort key of a record's key values: numbers in numeric order beside text."""
    return tuple(str(v).zfill(8) for v in values)


def _latest(records, key):
    """The newest record per `key(record)`, in first-seen key order."""
    out = {}
    for record in records:
        out[key(record)] = record
    return list(out.values())


def _machine(record):
    cpu = record.get("cpu", {})
    return cpu_kind(cpu) if "device" not in record else record["device"]



def _alternating_section(records):
    """Ours against PyTorch in alternating windows of one command (`auto_choices.py`)."""
    rows = _latest([r for r in records if r["what"] == "train_step_vs_torch"],
                   lambda r: (_machine(r), r.get("size"), r["figures"].get("precision")))
    if not rows:
        return []
    lines = ["", "Against PyTorch in alternating windows of one command "
             "(`benchmarks/auto_choices.py --torch-python`; the load average says how quiet the "
             "machine was):", "",
             "| machine | step | precision | ours img/s | PyTorch img/s (format) | ours / PyTorch "
             "| windows | load | date | record |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (_machine(r), r.get("size", 0))):
        f = r["figures"]
        windows = f.get("window_ratios") or []
        spread = f"{min(windows):.2f}-{max(windows):.2f}" if windows else ""
        lines.append(
            f"| {_machine(r)} | {r.get('size')}x{r.get('size')}x{r.get('channels', 3)}, batch "
            f"{r.get('batch', 128)}, width {r.get('width', 64)} | {f.get('precision', '')} | "
            f"{_fmt(f['ours_img_s'])} | {_fmt(f['torch_img_s'])} ({f.get('torch_format', '')}) | "
            f"**{f['ours_over_torch']:.2f}x** | {spread} | {_fmt(r.get('load_average'))} | "
            f"{_date(r)} | {_link(r)} |")
    return lines


def _auto_choice_section(records):
    """Each `auto` choice against its alternative, per machine kind (`auto_choices.py`)."""
    rows = _latest([r for r in records if r["what"] == "auto_choice"],
                   lambda r: (_machine(r), r.get("size"), r["figures"].get("choice")))
    if not rows:
        return []
    lines = ["", "Each `auto` choice against its alternative (`benchmarks/auto_choices.py`; "
             "the verdict is the benchmark's, for the rule of the commit it ran at):", "",
             "| machine | size | A vs B | A's speed-up | auto picked | verdict | load | record |",
             "|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (_machine(r), r.get("size", 0),
                                         r["figures"].get("choice", ""))):
        f = r["figures"]
        lines.append(f"| {_machine(r)} | {r.get('size')} | {f.get('a')} vs {f.get('b')} | "
                     f"{_fmt(f.get('a_speedup'), 2)} | {f.get('auto_picks', '')} | "
                     f"{f.get('verdict', '')} | {_fmt(r.get('load_average'))} | {_link(r)} |")
    return lines

def _profile_section(records):
    """Each layer's forward + backward, ours against PyTorch's (`step_profile.py`)."""
    rows = _latest([r for r in records if r["what"] == "step_profile"],
                   lambda r: (_machine(r), r.get("size"), r.get("precision")))
    lines = []
    for r in sorted(rows, key=lambda r: (_machine(r), r.get("size", 0))):
        f = r["figures"]
        fmt = f.get("torch_format")
        step = f["ours_step_ms"]
        lines += ["", f"Each layer alone, forward + backward, on {_machine(r)}: {r.get('size')}x"
                  f"{r.get('size')}x{r.get('channels', 3)}, batch {r.get('batch')}, width "
                  f"{r.get('width')}, {r.get('precision')}, kernel gradients "
                  f"{r.get('kernel_grads')} (`benchmarks/step_profile.py`, median of "
                  f"{r.get('rounds')} alternating rounds, load {_fmt(r.get('load_average'))}, "
                  f"{_date(r)}, record {_link(r)}; passes: a step's passes through the layer; "
                  "gap: passes x (ours - PyTorch's) ms):", "",
                  f"| layer | passes | ours ms | PyTorch ms ({fmt or 'not run'}) | ours speed / "
                  "PyTorch | gap ms per step | share of our step |", "|---|---|---|---|---|---|---|"]
        layers = sorted(f["layers"].items(), key=lambda kv: -kv[1]["passes"] * kv[1]["ours_ms"])
        for name, layer in layers:
            theirs = (layer.get("torch_ms") or {}).get(fmt)
            n, ours = layer["passes"], layer["ours_ms"]
            speed = f"{theirs / ours:.2f}" if theirs else ""
            gap = f"{n * (ours - theirs):.1f}" if theirs else ""
            lines.append(f"| {name} | {n} | {ours:.2f} | {_fmt(theirs, 2)} | {speed} | {gap} | "
                         f"{n * ours / step:.1%} |")
        for label, ours, theirs in (("sum (passes x ms)", f["ours_sum_ms"], f.get("torch_sum_ms")),
                                    ("whole step", step, f.get("torch_step_ms"))):
            speed = f"**{theirs / ours:.2f}**" if theirs else ""
            gap = f"{ours - theirs:.1f}" if theirs else ""
            lines.append(f"| {label} | | {ours:.1f} | {_fmt(theirs)} | {speed} | {gap} | "
                         f"{ours / step:.0%} |")
    return lines


def _anatomy_section(records):
    """Where the whole step's time goes (`step_trace.py`), and what a native batch norm
    would save of it (`native_norm.py`)."""
    traces = _latest([r for r in records if r["what"] == "step_trace"],
                     lambda r: (_machine(r), r.get("size"), r.get("precision")))
    lines = []
    for r in traces:
        groups = sorted(r["figures"]["group_ms"].items(), key=lambda kv: -kv[1])
        total = sum(ms for _, ms in groups)
        lines += ["", f"The whole step traced on {_machine(r)}: {_step_text(r)}, "
                  f"{r.get('precision')}, kernel gradients {r.get('kernel_grads')} "
                  f"(`benchmarks/step_trace.py`, {_date(r)}, record {_link(r)}; the profiler slows "
                  "small ops most, so read the shares):", "",
                  "| group | ms per traced step | share |", "|---|---|---|"]
        lines += [f"| {group} | {ms:.1f} | {ms / total:.1%} |" for group, ms in groups]
    for r in _latest([r for r in records if r["what"] == "native_norm"],
                     lambda r: (_machine(r), r.get("size"))):
        f = r["figures"]
        lines += ["", f"A native batch norm + activation op against oneDNN's on {_machine(r)}, "
                  f"{_step_text(r)}, fp32 (`benchmarks/native_norm.py`, {_date(r)}, record "
                  f"{_link(r)}; forward + backward per layer, median of alternating rounds):", "",
                  "| layer | oneDNN + TF activation ms | native ms | native speed-up |",
                  "|---|---|---|---|"]
        for name, ms in f["layers"].items():
            lines.append(f"| {name} | {ms['onednn_ms']:.2f} | {ms['native_ms']:.2f} | "
                         f"{ms['onednn_ms'] / ms['native_ms']:.2f}x |")
        lines.append(f"| whole step, img/s | {_fmt(f['library_img_s'])} | {_fmt(f['native_img_s'])} "
                     f"| **{f['step_ratio']:.3f}x** |")
    return lines


def _step_text(r):
    return (f"{r.get('size')}x{r.get('size')}x{r.get('channels', 3)}, batch {r.get('batch', 128)}"
            f", width {r.get('width', 64)}")


def _recipe_section(records):
    """Each recipe option's step against the baseline recipe's (`recipe_throughput.py`)."""
    key = (lambda r: (_machine(r), r.get("size"), r.get("channels"), r.get("width"), r.get("batch"),
                      r.get("precision"), r.get("variant")))
    rows = _latest([r for r in records if r["what"] == "recipe_step"], key)
    if not rows:
        return []
    lines = ["", "Each recipe option's training step against the baseline recipe's, the variants "
             "alternating in one command (`benchmarks/recipe_throughput.py`; best of its windows):",
             "", "| machine | step | precision | recipe | img/s | x baseline | date | record |",
             "|---|---|---|---|---|---|---|---|"]
    order = (lambda r: _in_order(key(r)[:-1])
             + (r.get("variant") != r.get("baseline"), r.get("variant", "")))
    for r in sorted(rows, key=order):
        f = r["figures"]
        lines.append(f"| {_machine(r)} | {_step_text(r)} | {r.get('precision', '')} | "
                     f"{r.get('variant')} | {_fmt(f['img_s'])} | {f['vs_baseline']:.2f} "
                     f"({r.get('baseline')}) | {_date(r)} | {_link(r)} |")
    return lines


def _pipeline_section(records):
    """The GAN's fits fed by the autotuned pipeline and by one thread (`pipeline_threads.py`)."""
    key = (lambda r: (_machine(r), r.get("dataset"), r.get("batch"), r.get("setting")))
    rows = _latest([r for r in records if r["what"] == "pipeline_fits"], key)
    if not rows:
        return []
    lines = ["", "Training fits fed by the in-memory pipeline, autotuned or on one thread, the "
             "settings alternating between processes (`benchmarks/pipeline_threads.py`; a fit is "
             "slow below 0.7 of the run's fastest):", "",
             "| machine | data, batch | pipeline | median img/s | x autotune | slow fits | date "
             "| record |", "|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: _in_order(key(r))):
        f = r["figures"]
        lines.append(f"| {_machine(r)} | {r.get('dataset')}, batch {r.get('batch')} | "
                     f"{r.get('setting')} | {_fmt(f['median_img_s'], 0)} | "
                     f"{f['vs_autotune']:.2f} | {f['slow_fits']} of {f['fits']} | {_date(r)} | "
                     f"{_link(r)} |")
    return lines


def speed_section(records):
    rows = [r for r in records if r["what"] == "train_step"]
    rows = _latest(rows, lambda r: (_machine(r), r.get("size"), r.get("channels"),
                                    r.get("precision"), r.get("variant")))
    rows.sort(key=lambda r: (_machine(r), r.get("size", 0), r.get("precision", "")))
    lines = ["## Training speed by machine", "",
             "The bare training step (batch, widths as listed), images per second; PyTorch's is the "
             "same network in its best memory format, timed in the same command after ours (so a "
             "machine whose speed drifts moves this ratio; the alternating windows below are the "
             "steadier figure); \"of ceiling\" is "
             "the step's GFLOP/s over the fastest matmul the benchmark found on that machine.", "",
             "| machine | step | precision | ours img/s | PyTorch img/s | ours / PyTorch | of ceiling "
             "| date | record |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        f = r["figures"]
        torch = f.get("torch_img_s")
        ratio = f"**{f['img_s'] / torch:.2f}x**" if torch else ""
        ceiling = _fmt(f.get("ceiling_ratio"), 2)
        if ceiling and f.get("ceiling_library"):
            ceiling += f" ({f['ceiling_library']})"
        step = (f"{r.get('size')}x{r.get('size')}x{r.get('channels', 3)}, batch {r.get('batch', 128)}"
                f", width {r.get('width', 64)}" + (f", {r['variant']}" if r.get("variant") else ""))
        torch_text = _fmt(torch) + (f" ({f['torch_format']})" if f.get("torch_format") else "")
        lines.append(f"| {_machine(r)} | {step} | {r.get('precision', '')} | {_fmt(f['img_s'])} | "
                     f"{torch_text} | {ratio} | {ceiling} | {_date(r)} | {_link(r)} |")
    lines += (_alternating_section(records) + _auto_choice_section(records)
              + _profile_section(records) + _anatomy_section(records) + _recipe_section(records)
              + _pipeline_section(records))
    runs = [r for r in records if r["what"] == "default_run"]
    if runs:
        lines += ["", "The default `dcgan-tf train` (digits), start to end:", "",
                  "| machine | run | steps | seconds (wall) | KID +- std | date | record |",
                  "|---|---|---|---|---|---|---|"]
        for r in sorted(runs, key=lambda r: r["date"]):
            f = r["figures"]
            kid = f"{_fmt(f['kid'], 3)} +- {_fmt(f['kid_std'], 3)}" if "kid" in f else ""
            steps = f.get("steps", r.get("steps", ""))
            lines.append(f"| {_machine(r)} | {r.get('run', '')} | {steps} | "
                         f"{_fmt(f.get('seconds', f.get('wall_s')))} | {kid} | {_date(r)} | "
                         f"{_link(r)} |")
    return lines


def _quality_label_counts(rows):
    counts = set()
    for r in rows:
        for key in r["figures"]:
            if key.startswith("probe_accuracy_") and not key.endswith("_std"):
                counts.add(int(key.rsplit("_", 1)[1]))
    return sorted(counts)


def quality_section(records, plots):
    rows = [r for r in records if r["what"] == "quality"]
    if not rows:
        return []
    rows.sort(key=lambda r: (r.get("dataset", ""), r.get("recipe", ""), r["figures"].get("steps", 0)))
    counts = _quality_label_counts(rows)
    lines = ["## Quality against training time", "",
             "Per dataset and recipe: the linear probe's test accuracy (%) on the discriminator's "
             "features at each label count (mean +- std over draws), the semi-supervised "
             "`classify` signature's accuracy where there is one, and KID (x1000) and FID of "
             "the samples in the classifier feature space (`dcgan-tf score`; compare KID and FID "
             "only within one score space, named by its weights' hash). Minutes are training "
             "wall time on the machine named.", "",
             "| data | recipe | steps | minutes | " + " | ".join(f"probe @{c}" for c in counts)
             + " | classify | KID x1e3 | FID | score space | machine | date | record | note |",
             "|---" * (12 + len(counts)) + "|"]
    for r in rows:
        f = r["figures"]
        classify = ", ".join(f"{f[k]:.1f} @{k.rsplit('_', 1)[1]}" for k in sorted(f)
                             if k.startswith("classify_"))
        probes = " | ".join(_pm(f, f"probe_accuracy_{c}") for c in counts)
        lines.append(
            f"| {r.get('dataset', '')} | `{r.get('recipe', '')}` | {f.get('steps', ''):,} | "
            f"{_fmt(f.get('minutes'))} | {probes} | {classify} | {_pm(f, 'kid_x1e3', 2)} | "
            f"{_fmt(f.get('fid'), 2)} | {r.get('score_space', '')} | {_machine(r)} | {_date(r)} | "
            f"{_link(r)} | {r.get('note', '')} |")
    for name, caption in (("accuracy", "Probe accuracy against training minutes"),
                          ("fid_kid", "FID and KID against training steps")):
        if name in plots:
            lines += ["", f"![{caption}](images/{PLOTS[name]})"]
    return lines


def _probe_sections(records):
    """The probe at all labels and the solver comparison beside it (`probe_all_labels.py`)."""
    lines = []
    full = _latest([r for r in records if r["what"] == "probe_all_labels"],
                   lambda r: (_machine(r), r.get("train"), r.get("test"), r.get("features")))
    if full:
        lines += ["", "The probe at all labels on synthetic features of CIFAR-10's size "
                  "(`benchmarks/probe_all_labels.py`; C searched, then refitted on the whole "
                  "split; peak RSS with the features):", "",
                  "| machine | train + test x features | solver | seconds | CPU s | C | test error "
                  "% | peak RSS GB | load | date | record |", "|---" * 11 + "|"]
        for r in full:
            f = r["figures"]
            lines.append(f"| {_machine(r)} | {r.get('train'):,} + {r.get('test'):,} x "
                         f"{r.get('features'):,} | {r.get('solver')} | {_fmt(f['seconds'])} | "
                         f"{_fmt(f.get('cpu_s'))} | {f['C']:g} | {_fmt(f['test_error_pct'], 2)} | "
                         f"{_fmt(f.get('peak_rss_gb'), 2)} | {_fmt(r.get('load_average'))} | "
                         f"{_date(r)} | {_link(r)} |")
    key = (lambda r: (_machine(r), r.get("train"), r.get("features"), r.get("solver")))
    subset = _latest([r for r in records if r["what"] == "probe_solver_subset"], key)
    if subset:
        lines += ["", "Its solver against scikit-learn's LinearSVC (`liblinear`) on a subset both "
                  "solve, in one process:", "",
                  "| machine | train x features | solver | seconds | x primal | C | test error % | "
                  "date | record |", "|---|---|---|---|---|---|---|---|---|"]
        order = (lambda r: _in_order(key(r)[:-1])
                 + (r.get("solver") != "primal",))
        for r in sorted(subset, key=order):
            f = r["figures"]
            lines.append(f"| {_machine(r)} | {r.get('train'):,} x {r.get('features'):,} | "
                         f"{r.get('solver')} | {_fmt(f['seconds'])} | {f['vs_primal']:.2f} | "
                         f"{f['C']:g} | {_fmt(f['test_error_pct'], 2)} | {_date(r)} | {_link(r)} |")
    return lines


def time_section(records):
    rows = [r for r in records if r["what"] in ("probe_time", "score_time")]
    probes = _probe_sections(records)
    if not rows and not probes:
        return []
    lines = ["## Probe and score times"]
    if rows:
        lines += ["", "| command | what ran | seconds | machine | date | record |",
                  "|---|---|---|---|---|---|"]
    for r in _latest(rows, lambda r: (r["what"], r.get("what_ran"), _machine(r))):
        command = "probe" if r["what"] == "probe_time" else "score"
        lines.append(f"| `{command}` | {r.get('what_ran', '')} | {_fmt(r['figures']['seconds'])} | "
                     f"{_machine(r)} | {_date(r)} | {_link(r)} |")
    firsts = [r for r in records if r["what"] == "first_score"]
    if firsts:
        lines += ["", "The first `score` on a 50,000-image split (`benchmarks/score_time.py --tile "
                  "50000`): the classifier feature space trained afresh, then read from the cache; "
                  "the load average says how quiet the machine was:", "",
                  "| machine | afresh s | afresh CPU s | cached s | held-out accuracy | load | date "
                  "| record |", "|---|---|---|---|---|---|---|---|"]
        for r in sorted(firsts, key=lambda r: r["date"]):
            f = r["figures"]
            lines.append(f"| {_machine(r)} | {_fmt(f['total_s'])} | {_fmt(f.get('cpu_s'))} | "
                         f"{_fmt(f.get('cached_total_s'))} | {_fmt(f.get('heldout_accuracy'), 3)} | "
                         f"{_fmt(r.get('load_average'))} | {_date(r)} | {_link(r)} |")
    return lines + probes


def _sci(value):
    return "" if value is None else ("0" if value == 0 else f"{value:.1e}")


def serve_section(records):
    rows = [r for r in records if r["what"] == "serve_latency"]
    if not rows:
        return []
    lines = ["## Serving latency", "",
             "An export's signatures loaded with plain `tf.saved_model.load`, p50 (p99) in ms per call "
             "(`benchmarks/serve_latency.py`): `serving_default` as exported, XLA-compiled "
             "(`export --jit on`), with `--serving-precision bf16`, and the `features` signature; "
             "\"x\" is the export's own fp32 time over each variant's:", "",
             "| machine | model | batch | generate p50 (p99) | --jit on | x | bf16 | x | features p50 "
             "| date | record |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    key = (lambda r: (_machine(r), r.get("size"), r.get("channels"), r.get("width"), r.get("batch"),
                      r.get("intra_op_threads")))
    for r in sorted(_latest(rows, key), key=lambda r: _in_order(key(r))):
        f = r["figures"]
        gen = f["generate_p50_ms"]
        model = f"{r.get('size')}x{r.get('size')}x{r.get('channels')}, width {r.get('width')}"
        ratio = (lambda ms: f"{gen / ms:.2f}" if ms else "")
        lines.append(f"| {_machine(r)} | {model} | {r.get('batch')} | {_fmt(gen, 2)} "
                     f"({_fmt(f.get('generate_p99_ms'), 2)}) | {_fmt(f.get('jit_p50_ms'), 2)} | "
                     f"{ratio(f.get('jit_p50_ms'))} | {_fmt(f.get('bf16_p50_ms'), 2)} | "
                     f"{ratio(f.get('bf16_p50_ms'))} | {_fmt(f.get('features_p50_ms'), 2)} | "
                     f"{_date(r)} | {_link(r)} |")
    return lines


def portable_section(records):
    rows = [r for r in records if r["what"] == "portable_latency"]
    if not rows:
        return []
    lines = ["## Portable exports", "",
             "Each export format in its own runtime at batch 1, one thread, against the SavedModel "
             "in `tf.saved_model.load` timed in the same rounds (`benchmarks/portable_latency.py`); "
             "the largest difference from the SavedModel's outputs for the same z (images, uint8 "
             "pixels) and images (features, relative to their largest magnitude):", "",
             "| machine | model | runtime | G bytes | G p50 ms | x SavedModel | max d images | "
             "max d pixels | features p50 ms | x SavedModel | max rel d features | date | record |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in _latest(rows, lambda r: (_machine(r), r.get("size"), r.get("channels"), r.get("width"),
                                      r.get("runtime"))):
        f = r["figures"]
        model = f"{r.get('size')}x{r.get('size')}x{r.get('channels')}, width {r.get('width')}"
        lines.append(f"| {_machine(r)} | {model} | {r.get('runtime')} | {f['g_bytes']:,} | "
                     f"{_fmt(f['g_p50_ms'], 3)} | {_fmt(f['g_vs_savedmodel'], 2)} | "
                     f"{_sci(f.get('max_d_images'))} | {f.get('max_d_pixels', '')} | "
                     f"{_fmt(f.get('f_p50_ms'), 3)} | {_fmt(f.get('f_vs_savedmodel'), 2)} | "
                     f"{_sci(f.get('max_rel_d_features'))} | {_date(r)} | {_link(r)} |")
    return lines


def explore_section(records):
    rows = _latest([r for r in records if r["what"] == "explore_latency"],
                   lambda r: (_machine(r), r.get("size"), r.get("channels")))
    if not rows:
        return []
    lines = ["## Explorer latency", "",
             "`dcgan-tf explore` on an export (`benchmarks/explore_latency.py`): seconds to start "
             "(importing TensorFlow and Gradio, opening the export, building and serving the "
             "page), then ms per answer through Gradio's client, first call and median of the "
             "next: `/walk` (8 frames and one), `/walk_frame` (the slider's one frame), and the "
             "same walk by `Explorer.walk` without Gradio:", "",
             "| machine | model | start s (TF, Gradio, export, page, serve) | /walk first | /walk "
             "median | /walk_frame median | Explorer.walk median | /walk x Explorer.walk | date | "
             "record |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        f = r["figures"]
        stages = ", ".join(_fmt(f.get(k)) for k in ("import_tensorflow_s", "import_gradio_s",
                                                     "open_s", "build_s", "serve_s"))
        lines.append(f"| {_machine(r)} | {r.get('size')}x{r.get('size')}x{r.get('channels')} | "
                     f"{_fmt(f['start_s'])} ({stages}) | {_fmt(f['walk_first_ms'])} | "
                     f"{_fmt(f['walk_median_ms'])} | {_fmt(f.get('walk_frame_median_ms'))} | "
                     f"{_fmt(f['explorer_walk_median_ms'])} | {f['walk_vs_explorer']:.2f} | "
                     f"{_date(r)} | {_link(r)} |")
    return lines


def install_section(records):
    rows = [r for r in records if r["what"] == "install_size"]
    if not rows:
        return []
    lines = ["## Install size", "",
             "What `pip install -e .` (with the extras named) puts on disk: the installed files of "
             "dcgan-tf's dependency closure (`benchmarks/install_size.py`; pip and setuptools left "
             "out):", "",
             "| install | distributions | GB | of which TensorFlow GB | Python | platform | date | record |",
             "|---|---|---|---|---|---|---|---|"]
    for r in _latest(rows, lambda r: (r.get("extras", ""), r.get("platform"), r.get("python"))):
        f = r["figures"]
        extras = r.get("extras", "")
        target = f'".[{extras}]"' if extras else "."
        lines.append(f"| `pip install -e {target}` | "
                     f"{f['distributions']} | {_fmt(f['total_gb'], 2)} | {_fmt(f['tensorflow_gb'], 2)} | "
                     f"{r.get('python', '')} | {r.get('platform', '')} | {_date(r)} | {_link(r)} |")
    return lines


def sources_section(records):
    lines = ["## Records", "",
             f"{len(records)} records in `benchmarks/results/`. Each holds the command that "
             "measured it, the commit, the machine (CPU model, SIMD flags, ISA caps) and the date; "
             "records marked `source` were copied from the benchmark history "
             "([benchmarks/HISTORY.md](../benchmarks/HISTORY.md)) with their original command, "
             "date and machine."]
    shown = {"train_step", "default_run", "quality", "probe_time", "score_time", "auto_choice",
             "train_step_vs_torch", "first_score", "step_profile", "install_size",
             "portable_latency", "serve_latency", "recipe_step", "pipeline_fits",
             "probe_all_labels", "probe_solver_subset", "explore_latency", "step_trace",
             "native_norm"}
    others = sorted({r["what"] for r in records} - shown)
    if others:
        lines += ["", "Other records: " + ", ".join(f"`{w}`" for w in others) + "."]
    return lines


def render_markdown(records, plots=()):
    """The text of docs/results.md for `records`, linking the plots named in `plots`."""
    lines = ["# Results", "",
             "Rendered by `python benchmarks/render_results.py` from the records in "
             "[benchmarks/results/](../benchmarks/results/); do not edit by hand. How to add a "
             "record: [benchmarks/README.md](../benchmarks/README.md).", ""]
    for section in (speed_section(records), quality_section(records, plots),
                    time_section(records), serve_section(records), portable_section(records),
                    explore_section(records), install_section(records),
                    sources_section(records)):
        if section:
            lines += section + [""]
    return "\n".join(lines)


def plottable(records):
    """The plots `records` can fill: `accuracy` (needs minutes), `fid_kid` (needs steps)."""
    rows = [r for r in records if r["what"] == "quality"]
    out = []
    if any("minutes" in r["figures"] and any(k.startswith("probe_accuracy_") for k in r["figures"])
           for r in rows):
        out.append("accuracy")
    if any("steps" in r["figures"] and ("fid" in r["figures"] or "kid_x1e3" in r["figures"])
           for r in rows):
        out.append("fid_kid")
    return out


def _series(rows, x, y):
    groups = {}
    for r in rows:
        f = r["figures"]
        if x in f and y in f:
            space = f" (space {r['score_space'][:6]})" if r.get("score_space") and y in ("fid", "kid_x1e3") else ""
            groups.setdefault(f"{r.get('dataset')} {r.get('recipe')}{space}", []).append((f[x], f[y]))
    return {k: sorted(v) for k, v in sorted(groups.items())}


def draw_plots(records, images_dir=IMAGES):
    """Writes the PNG plots (matplotlib, Agg) and returns the names drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in records if r["what"] == "quality"]
    names = plottable(records)
    os.makedirs(images_dir, exist_ok=True)
    if "accuracy" in names:
        datasets = sorted({r.get("dataset", "") for r in rows if "minutes" in r["figures"]})
        fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 4), squeeze=False)
        for ax, dataset in zip(axes[0], datasets):
            subset = [r for r in rows if r.get("dataset", "") == dataset]
            for c in _quality_label_counts(subset):
                for label, points in _series(subset, "minutes", f"probe_accuracy_{c}").items():
                    xs, ys = zip(*points)
                    ax.plot(xs, ys, "o-", label=f"{label[len(dataset) + 1:]} @{c} labels")
            for r in subset:  # Minutes differ in machine and load: say how far each run got.
                f = r["figures"]
                if "minutes" not in f:
                    continue  # an untrained D's probe: in the table, not on a minutes axis
                for key in (k for k in f if k.startswith("probe_accuracy_") and not k.endswith("_std")):
                    ax.annotate(f"{f['steps']:,} steps", (f["minutes"], f[key]), fontsize=6,
                                textcoords="offset points", xytext=(3, 3))
            ax.set_title(dataset)
            ax.set_xlabel("training minutes")
            ax.set_ylabel("probe accuracy (%)")
            ax.legend(fontsize=6)
            ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(os.path.join(images_dir, PLOTS["accuracy"]), dpi=100, metadata={"Software": None})
        plt.close(fig)
    if "fid_kid" in names:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 4))
        for ax, key, label in ((ax1, "fid", "FID"), (ax2, "kid_x1e3", "KID x1000")):
            for name, points in _series(rows, "steps", key).items():
                xs, ys = zip(*points)
                ax.plot(xs, ys, "o-", label=name)
            ax.set_xlabel("training steps")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
        ax1.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(images_dir, PLOTS["fid_kid"]), dpi=100, metadata={"Software": None})
        plt.close(fig)
    return names


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="Only compare docs/results.md with the records; exit 1 if stale.")
    parser.add_argument("--results-dir", default=RESULTS_DIR)
    args = parser.parse_args(argv)
    records = load_records(args.results_dir)
    if args.check:
        current = open(PAGE, encoding="utf-8").read() if os.path.exists(PAGE) else ""
        if current != render_markdown(records, plottable(records)):
            print(f"{PAGE} is out of date: run python benchmarks/render_results.py")
            return 1
        print(f"{PAGE} is current ({len(records)} records)")
        return 0
    plots = draw_plots(records)
    with open(PAGE, "w", encoding="utf-8") as f:
        f.write(render_markdown(records, plots))
    print(f"wrote {PAGE} and {len(plots)} plots from {len(records)} records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
