"""Quality benchmark: recipes side by side under one training budget, probed and scored.

For each `--variant NAME="TRAIN FLAGS"`: `dcgan-tf train` (the flags passed through, so any
recipe flag works) for the same budget of minutes or steps, `export`, `probe` at each label
count (mean +- std over repeats), and `score` (KID, FID in the classifier space). Once per
architecture: the untrained-D, raw-pixel and supervised baselines. Every stage runs the CLI in
a subprocess (memory is freed between them) and leaves a JSON in --out; a variant or baseline
whose JSON exists is not rerun, so a study can be stopped and continued.

A `--readout NAME=BASE:"EXPORT FLAGS"` probes another read-out of variant BASE's trained network
(`dcgan-tf export` feature flags, no training): `--recipe pyramid` trains exactly as `--recipe
paper` and differs only in its export, so `--readout default=paper:"--feature-pooling pyramid
--feature-flip"` measures the default without a second training run. Training minutes and
img/s are Keras' in-epoch figures summed over the run's `metrics.jsonl` (so resumed and
finished runs report what trained them); the budget that is equal across variants is the one
given, steps or minutes.

    python benchmarks/quality.py --dataset npz --data-dir ../shared/data/cifar10_train_dev20k.npz \\
        --variant paper="--recipe paper" --readout default=paper:"--feature-pooling pyramid --feature-flip" \\
        --budget-steps 9500 --labels 1000,4000 --repeats 3 --out quality/dev
"""

import argparse
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.common import machine  # noqa: E402
from benchmarks.records import add_record_flags, write_record  # noqa: E402

CLI = [sys.executable, "-c", "from dcgan_tf_cli.main import main; main()"]
BASELINES = ("random", "pixels", "supervised")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True)
    p.add_argument("--data-dir")
    p.add_argument("--variant", action="append", required=True, metavar='NAME="TRAIN FLAGS"',
                   help="Repeatable; the flags go to `dcgan-tf train` as they are.")
    p.add_argument("--readout", action="append", default=[], metavar='NAME=BASE:"EXPORT FLAGS"',
                   help="Repeatable; variant BASE's network exported with these feature flags.")
    budget = p.add_mutually_exclusive_group(required=True)
    budget.add_argument("--budget-minutes", type=float, help="Training minutes per variant.")
    budget.add_argument("--budget-steps", type=int, help="Training steps per variant.")
    p.add_argument("--labels", default="1000,4000", help="Probe label counts, comma-separated.")
    p.add_argument("--repeats", type=int, default=3, help="Probe draws per label count.")
    p.add_argument("--n-score", type=int, default=5000, help="Images for KID/FID.")
    p.add_argument("--classifier-epochs", type=int, default=10,
                   help="Epochs of the scoring classifier (cached across variants).")
    p.add_argument("--baselines", default=",".join(BASELINES),
                   help=f"Any of {','.join(BASELINES)}, or 'none'.")
    p.add_argument("--out", required=True, help="Results directory (resumable).")
    add_record_flags(p, "one `quality` record per variant and baseline")
    args = p.parse_args(argv)
    # The CLI runs from the repository root: paths given relative to here must survive that.
    args.out = os.path.abspath(args.out)
    args.data_dir = os.path.abspath(args.data_dir) if args.data_dir else None
    args.labels = [int(v) for v in args.labels.split(",")]
    args.baselines = [] if args.baselines == "none" else args.baselines.split(",")
    unknown = set(args.baselines) - set(BASELINES)
    if unknown:
        p.error(f"unknown --baselines {sorted(unknown)}; expected {','.join(BASELINES)}")
    args.variant = [_variant(p, v) for v in args.variant]
    args.readout = [_readout(p, v, [name for name, _ in args.variant]) for v in args.readout]
    return args


def _variant(parser, text):
    name, sep, flags = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        parser.error(f'expected --variant NAME="TRAIN FLAGS" (NAME of letters, digits, _.-), got {text!r}')
    return name, shlex.split(flags)


def _readout(parser, text, variants):
    name, _ = _variant(parser, text)
    base, sep, flags = text.partition("=")[2].partition(":")
    if not sep or base not in variants:
        parser.error(f'expected --readout NAME=BASE:"EXPORT FLAGS" with BASE one of {variants}, '
                     f'got {text!r}')
    return name, base, shlex.split(flags)


def _cli(*args):
    """Runs a dcgan-tf command; returns its stdout, or stops the benchmark with its error."""
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if proc.returncode:
        sys.exit(f"dcgan-tf {' '.join(args[:1])} failed:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}")
    return proc.stdout


def _data_args(args):
    return ["--dataset", args.dataset] + (["--data-dir", args.data_dir] if args.data_dir else [])


def _read(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _write(path, payload):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2, sort_keys=True)
    os.replace(tmp, path)  # the result file appears whole or not at all: it marks "done"


def _probe(args, model, labels, json_path, baseline=None):
    if not os.path.isfile(json_path):
        extra = ["--model", model] if model else []
        extra += ["--baseline", baseline] if baseline else []
        _cli("probe", *_data_args(args), *extra, "--labels", str(labels), "--repeats",
             str(args.repeats), "--json", json_path, "--quiet")
    report = _read(json_path)
    found = {"accuracy_mean": report["accuracy_mean"], "accuracy_std": report["accuracy_std"],
             "feature_dim": report["feature_dim"], "labelled": report["sizes"]["labelled"],
             "seconds": report["timings"]["total_s"],
             "readout": _readout_tag((report.get("metadata") or {}).get("features") or {})}
    if report.get("classify"):  # A semi-supervised export's own classifier, on the test split.
        found["classify_accuracy"] = report["classify"]["accuracy"]
        found["classify_same_draw"] = report["classify"]["same_draw"]
    return found


def _readout_tag(features):
    """A short name of an export's feature choices, e.g. `4x4` (paper) or `pyramid-flip-shift2`."""
    parts = [features.get("pooling", "4x4")]
    if features.get("layers", "all") != "all":
        parts.append("blocks" + str(features["layers"]).replace(",", ""))
    if features.get("activation", "post") == "pre":
        parts.append("pre")
    parts += ["flip"] * bool(features.get("flip")) + ["power"] * bool(features.get("power"))
    if features.get("shift"):
        parts.append(f"shift{features['shift']}")
    return "-".join(parts)


def run_variant(args, name, flags):
    """Train, export, probe and score one variant; returns its result dict."""
    run = os.path.join(args.out, "runs", name)
    budget = (["--max-minutes", str(args.budget_minutes), "--epochs", "1000000"]
              if args.budget_minutes else ["--max-steps", str(args.budget_steps)])
    start = time.perf_counter()
    _cli("train", run, *_data_args(args), *flags, *budget)
    config = _read(os.path.join(run, "config.json"))
    batch = config["train"]["batch_size"]
    steps, seconds = trained_seconds(os.path.join(run, "metrics.jsonl"), batch)
    model = _export(args, run, name, [])
    result = {"variant": name, "flags": flags, "run": run, "steps": steps,
              "train_seconds": seconds, "images_per_sec": steps * batch / seconds,
              "model_config": config["model"], "recipe": config["train"].get("recipe")}
    result.update(_evaluate(args, name, model))
    result["wall_seconds"] = time.perf_counter() - start
    return result


def run_readout(args, name, base, flags):
    """Probe variant `base`'s trained network exported with the feature flags `flags`."""
    result = {**base, "variant": name, "flags": base["flags"], "export_flags": flags,
              "readout_of": base["variant"]}
    # Another generator (`--generator ema`) is scored anew; a feature read-out shares G's score.
    same_generator = "--generator" not in flags
    result.update(_evaluate(args, name, _export(args, base["run"], name, flags),
                            score=base if same_generator else None))
    return result


def _add_label_counts(args, name, path):
    """Probes a finished variant at the label counts it has not been probed at yet."""
    result = _read(path)
    missing = [n for n in args.labels if str(n) not in result["probe"]]
    work = os.path.join(args.out, "work", name)
    for n in missing:
        result["probe"][str(n)] = _probe(args, result["model"], n,
                                         os.path.join(work, f"probe-{n}.json"))
    if missing:
        _write(path, result)


def trained_seconds(metrics_path, batch_size):
    """`(steps, seconds)` of a run: its last step, and Keras' in-epoch seconds summed over its
    metrics lines (steps in the epoch x batch / the epoch's img/s), across every launch."""
    steps, seconds = 0, 0.0
    with open(metrics_path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            seconds += (row["step"] - steps) * batch_size / row["images_per_sec"]
            steps = row["step"]
    return steps, seconds


def _export(args, run, name, flags):
    base = os.path.join(args.out, "savedmodels")
    return _cli("export", run, "--base-path", base, "--name", name, "--version", "1",
                "--overwrite", *flags).splitlines()[0].strip()


def _evaluate(args, name, model, score=None):
    """Probes `model` at each label count and scores it (or copies `score`'s figures: the same
    generator)."""
    work = os.path.join(args.out, "work", name)
    probes = {str(n): _probe(args, model, n, os.path.join(work, f"probe-{n}.json"))
              for n in args.labels}
    if score is None:
        score_path = os.path.join(work, "score.json")
        if not os.path.isfile(score_path):
            _cli("score", "--model", model, *_data_args(args), "--n", str(args.n_score),
                 "--classifier-epochs", str(args.classifier_epochs), "--json", score_path, "--quiet")
        score = _read(score_path)
        score = {**score, "n_score": score["n"]}
    return {
        "model": model, "feature_dim": probes[str(args.labels[0])]["feature_dim"],
        "readout": probes[str(args.labels[0])]["readout"],
        "probe": probes, "kid": score["kid"], "kid_std": score["kid_std"], "fid": score["fid"],
        "precision": score["precision"], "recall": score["recall"],
        "feature_space": score["feature_space"], "n_score": score["n_score"],
    }


def run_baselines(args, result):
    """Baselines for one architecture (pixels: once per dataset; the untrained D once per
    read-out too, since it is read out as the variant is); cached like variants."""
    arch = hashlib.sha1(json.dumps(result["model_config"], sort_keys=True).encode()).hexdigest()[:10]
    readout = result.get("readout") or _readout_tag(
        _read(os.path.join(args.out, "work", result["variant"], f"probe-{args.labels[0]}.json"))
        ["metadata"]["features"])
    found = {}
    for name in args.baselines:
        key = {"pixels": "pixels", "supervised": f"supervised-{arch}"}.get(
            name, f"random-{arch}-{readout}")
        work = os.path.join(args.out, "baselines", key)
        found[key] = {str(n): _probe(args, result["model"], n, os.path.join(work, f"probe-{n}.json"),
                                     baseline=name) for n in args.labels}
    return found


def _pm(mean, std, scale=100, digits=1):
    return f"{scale * mean:.{digits}f} +- {scale * std:.{digits}f}"


def table(args, results, baselines):
    """The Markdown tables: variants, then baselines."""
    heads = ["variant", "steps", "minutes", "img/s", "features"]
    heads += [f"probe acc % @{n}" for n in args.labels]
    # The classify signature's accuracy (semi-supervised runs: one classifier, its labels).
    classify = any("classify_accuracy" in p for r in results for p in r["probe"].values())
    heads += ["classify acc %"] * classify
    heads += ["KID x1e3", "FID"]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for r in results:
        cells = [r["variant"], str(r["steps"]), f"{r['train_seconds'] / 60:.1f}",
                 f"{r['images_per_sec']:.0f}" if r["images_per_sec"] else "-", str(r["feature_dim"])]
        cells += [_pm(r["probe"][str(n)]["accuracy_mean"], r["probe"][str(n)]["accuracy_std"])
                  for n in args.labels]
        if classify:
            found = [p["classify_accuracy"] for p in r["probe"].values()
                     if "classify_accuracy" in p]
            cells.append(f"{100 * found[0]:.1f}" if found else "-")
        cells += [_pm(r["kid"], r["kid_std"], 1000, 2), f"{r['fid']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    if baselines:
        lines += ["", "| baseline | features | " + " | ".join(f"probe acc % @{n}" for n in args.labels)
                  + " |", "|---|---|" + "---|" * len(args.labels)]
        for key, probes in sorted(baselines.items()):
            cells = [_pm(probes[str(n)]["accuracy_mean"], probes[str(n)]["accuracy_std"])
                     for n in args.labels]
            dim = probes[str(args.labels[0])]["feature_dim"]
            lines.append(f"| {key} | {dim} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _probe_figures(probes):
    """`probe_accuracy_<labels>` (%, + `_std`) and `classify_<labels>` of one result's probes,
    keyed by the labels each draw really held (a small dataset adapts the count asked for)."""
    figures = {}
    for asked, p in probes.items():
        labels = p.get("labelled", asked)
        figures[f"probe_accuracy_{labels}"] = round(100 * p["accuracy_mean"], 2)
        figures[f"probe_accuracy_{labels}_std"] = round(100 * p["accuracy_std"], 2)
        if "classify_accuracy" in p:
            figures[f"classify_{labels}"] = round(100 * p["classify_accuracy"], 2)
    return figures


def quality_records(args, results, baselines):
    """The `quality` records of a study: `(figures, context)` per variant, and per untrained-D
    baseline (its steps are 0: the architecture, not yet trained, read out the same way).

    Args:
        args: The parsed arguments (dataset, note).
        results: The variants' result dicts.
        baselines: `{key: {labels: probe}}`, as `run_baselines` returns it.

    Returns:
        A list of `(figures, context)` pairs for `records.write_record("quality", ...)`.
    """
    found = []
    for r in results:
        first = r["probe"][min(r["probe"], key=int)]
        figures = {"steps": r["steps"], "minutes": round(r["train_seconds"] / 60, 1),
                   **_probe_figures(r["probe"]),
                   "kid_x1e3": round(1000 * r["kid"], 2), "kid_x1e3_std": round(1000 * r["kid_std"], 2),
                   "fid": round(r["fid"], 3), "probe_seconds": round(first["seconds"], 1)
                   if "seconds" in first else None}
        figures = {k: v for k, v in figures.items() if v is not None}
        recipe = r.get("recipe") or " ".join(r["flags"]) or "default"
        if r.get("readout_of"):
            recipe = f"{recipe} read out {r['readout']}"
        context = {"dataset": args.dataset, "recipe": recipe, "variant": r["variant"],
                   "score_space": r["feature_space"]["weights_sha256"][:12],
                   "n_score": r["n_score"], "feature_dim": r["feature_dim"]}
        found.append((figures, {**context, **({"note": args.note} if args.note else {})}))
    for key, probes in sorted(baselines.items()):
        if not key.startswith("random-"):
            continue  # the pixel and supervised baselines have no recipe to set them against
        recipe = next((r.get("recipe") for r in results if r.get("recipe")), None) or "default"
        context = {"dataset": args.dataset, "recipe": f"{recipe} (untrained D)", "variant": key}
        found.append(({"steps": 0, **_probe_figures(probes)},
                      {**context, **({"note": args.note} if args.note else {})}))
    return found


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    print(machine(), flush=True)
    results, baselines = [], {}
    jobs = [(name, None, flags) for name, flags in args.variant] + list(args.readout)
    for name, base, flags in jobs:
        path = os.path.join(args.out, "variants", f"{name}.json")
        if os.path.isfile(path):
            print(f"{name}: result exists ({path}), not rerun", flush=True)
            _add_label_counts(args, name, path)
        elif base is None:
            print(f"{name}: train {' '.join(flags) or '(defaults)'} ...", flush=True)
            _write(path, run_variant(args, name, flags))
        else:
            print(f"{name}: {base}'s network, export {' '.join(flags)} ...", flush=True)
            _write(path, run_readout(args, name, next(r for r in results if r["variant"] == base),
                                     flags))
        result = _read(path)
        results.append(result)
        baselines.update(run_baselines(args, result))
    budget = (f"{args.budget_minutes:g} minutes" if args.budget_minutes
              else f"{args.budget_steps} steps")
    space = results[0]["feature_space"]
    print(f"\n{args.dataset} {args.data_dir or ''}: budget {budget} per variant; probe "
          f"{args.repeats} draws per label count; KID/FID in the {space['name']} space "
          f"(weights {space['weights_sha256'][:12]}), N = {results[0]['n_score']}\n")
    print(table(args, results, baselines))
    wall = time.perf_counter() - start
    _write(os.path.join(args.out, "quality.json"), {
        "dataset": args.dataset, "data_dir": args.data_dir, "budget": budget,
        "labels": args.labels, "repeats": args.repeats, "variants": results,
        "baselines": baselines, "wall_seconds": wall, "machine": machine(),
    })
    if args.record:
        for figures, context in quality_records(args, results, baselines):
            print("record:", write_record("quality", figures, **context))
    print(f"\nwall time: {wall / 60:.1f} min (this invocation; finished variants are not rerun)")
    print(f"JSON: {os.path.join(args.out, 'quality.json')}")


if __name__ == "__main__":
    main()
