"""Quality benchmark: recipes side by side under one training budget, probed and scored.

For each `--variant NAME="TRAIN FLAGS"`: `dcgan-tf train` (the flags passed through, so any
recipe flag works) for the same budget of minutes or steps, `export`, `probe` at each label
count (mean +- std over repeats), and `score` (KID, FID in the classifier space). Once per
architecture: the untrained-D, raw-pixel and supervised baselines. Every stage runs the CLI in
a subprocess (memory is freed between them) and leaves a JSON in --out; a variant or baseline
whose JSON exists is not rerun, so a study can be stopped and continued.

    python benchmarks/quality.py --dataset npz --data-dir ../shared/data/cifar10_train_dev20k.npz \\
        --variant paper="--recipe paper" --variant default="" --budget-minutes 30 --labels 1000,4000 --repeats 3 --out quality/dev
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

CLI = [sys.executable, "-c", "from cli.main import main; main()"]
BASELINES = ("random", "pixels", "supervised")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True)
    p.add_argument("--data-dir")
    p.add_argument("--variant", action="append", required=True, metavar='NAME="TRAIN FLAGS"',
                   help="Repeatable; the flags go to `dcgan-tf train` as they are.")
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
    args = p.parse_args(argv)
    args.labels = [int(v) for v in args.labels.split(",")]
    args.baselines = [] if args.baselines == "none" else args.baselines.split(",")
    unknown = set(args.baselines) - set(BASELINES)
    if unknown:
        p.error(f"unknown --baselines {sorted(unknown)}; expected {','.join(BASELINES)}")
    args.variant = [_variant(p, v) for v in args.variant]
    return args


def _variant(parser, text):
    name, sep, flags = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        parser.error(f'expected --variant NAME="TRAIN FLAGS" (NAME of letters, digits, _.-), got {text!r}')
    return name, shlex.split(flags)


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
    return {"accuracy_mean": report["accuracy_mean"], "accuracy_std": report["accuracy_std"]}


def run_variant(args, name, flags):
    """Train, export, probe and score one variant; returns its result dict."""
    run, work = os.path.join(args.out, "runs", name), os.path.join(args.out, "work", name)
    budget = (["--max-minutes", str(args.budget_minutes), "--epochs", "1000000"]
              if args.budget_minutes else ["--max-steps", str(args.budget_steps)])
    start = time.perf_counter()
    out = _cli("train", *_data_args(args), "--out", run, *flags, *budget)
    wall = time.perf_counter() - start
    trained = re.search(r"Trained steps (\d+)\.\.(\d+) in ([\d.]+)s", out)
    seconds = float(trained.group(3)) if trained else wall
    config = _read(os.path.join(run, "config.json"))
    with open(os.path.join(run, "metrics.jsonl"), encoding="utf-8") as f:
        steps = json.loads(f.readlines()[-1])["step"]
    base = os.path.join(args.out, "savedmodels")
    model = _cli("export", run, "--base-path", base, "--name", name, "--version", "1",
                 "--overwrite").splitlines()[0].strip()
    probes = {str(n): _probe(args, model, n, os.path.join(work, f"probe-{n}.json"))
              for n in args.labels}
    score_path = os.path.join(work, "score.json")
    _cli("score", "--model", model, *_data_args(args), "--n", str(args.n_score),
         "--classifier-epochs", str(args.classifier_epochs), "--json", score_path, "--quiet")
    score = _read(score_path)
    batch = config["train"]["batch_size"]
    return {
        "variant": name, "flags": flags, "steps": steps, "train_seconds": seconds,
        "wall_seconds": time.perf_counter() - start,
        "images_per_sec": (int(trained.group(2)) - int(trained.group(1))) * batch / seconds
        if trained else None,
        "probe": probes, "kid": score["kid"], "kid_std": score["kid_std"], "fid": score["fid"],
        "precision": score["precision"], "recall": score["recall"],
        "feature_space": score["feature_space"], "n_score": score["n"], "model": model,
        "model_config": config["model"],
    }


def run_baselines(args, result):
    """Baselines for one architecture (pixels: once per dataset); cached like variants."""
    arch = hashlib.sha1(json.dumps(result["model_config"], sort_keys=True).encode()).hexdigest()[:10]
    found = {}
    for name in args.baselines:
        key = "pixels" if name == "pixels" else f"{name}-{arch}"
        work = os.path.join(args.out, "baselines", key)
        found[key] = {str(n): _probe(args, result["model"], n, os.path.join(work, f"probe-{n}.json"),
                                     baseline=name) for n in args.labels}
    return found


def _pm(mean, std, scale=100, digits=1):
    return f"{scale * mean:.{digits}f} +- {scale * std:.{digits}f}"


def table(args, results, baselines):
    """The Markdown tables: variants, then baselines."""
    heads = ["variant", "steps", "minutes", "img/s"] + [f"probe acc % @{n}" for n in args.labels]
    heads += ["KID x1e3", "FID"]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for r in results:
        cells = [r["variant"], str(r["steps"]), f"{r['train_seconds'] / 60:.1f}",
                 f"{r['images_per_sec']:.0f}" if r["images_per_sec"] else "-"]
        cells += [_pm(r["probe"][str(n)]["accuracy_mean"], r["probe"][str(n)]["accuracy_std"])
                  for n in args.labels]
        cells += [_pm(r["kid"], r["kid_std"], 1000, 2), f"{r['fid']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    if baselines:
        lines += ["", "| baseline | " + " | ".join(f"probe acc % @{n}" for n in args.labels) + " |",
                  "|---|" + "---|" * len(args.labels)]
        for key, probes in sorted(baselines.items()):
            cells = [_pm(probes[str(n)]["accuracy_mean"], probes[str(n)]["accuracy_std"])
                     for n in args.labels]
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    print(machine(), flush=True)
    results, baselines = [], {}
    for name, flags in args.variant:
        path = os.path.join(args.out, "variants", f"{name}.json")
        if os.path.isfile(path):
            print(f"{name}: result exists ({path}), not rerun", flush=True)
        else:
            print(f"{name}: train {' '.join(flags) or '(defaults)'} ...", flush=True)
            _write(path, run_variant(args, name, flags))
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
    print(f"\nwall time: {wall / 60:.1f} min (this invocation; finished variants are not rerun)")
    print(f"JSON: {os.path.join(args.out, 'quality.json')}")


if __name__ == "__main__":
    main()
