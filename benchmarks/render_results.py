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


def speed_section(records):
    rows = [r for r in records if r["what"] == "train_step"]
    rows = _latest(rows, lambda r: (_machine(r), r.get("size"), r.get("channels"),
                                    r.get("precision"), r.get("variant")))
    rows.sort(key=lambda r: (_machine(r), r.get("size", 0), r.get("precision", "")))
    lines = ["## Training speed by machine", "",
             "The bare training step (batch, widths as listed), images per second; PyTorch's is the "
             "same network in its best memory format, timed in the same command; \"of ceiling\" is "
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
              + _profile_section(records))
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


def time_section(records):
    rows = [r for r in records if r["what"] in ("probe_time", "score_time")]
    if not rows:
        return []
    lines = ["## Probe and score times", "",
             "| command | what ran | seconds | machine | date | record |", "|---|---|---|---|---|---|"]
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
    return lines


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
    for r in sorted(_latest(rows, key), key=lambda r: tuple(str(v).zfill(8) for v in key(r))):
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
             "portable_latency", "serve_latency"}
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
                    install_section(records),
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
