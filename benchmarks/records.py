"""Benchmark results as records: one JSON file per result in `benchmarks/results/`.

Each record holds what was measured, its figures, the command that measured it, the commit, the
CPU (model, SIMD flags, any ISA cap in force) and the date, so that `docs/results.md` can be
rendered from the records instead of quoting figures by hand.
"""

import datetime
import hashlib
import json
import os
import platform
import re
import shlex
import subprocess
import sys

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
# Where records go instead of RESULTS_DIR when set (the smoke tests point it at a temporary folder).
RESULTS_DIR_ENV = "BENCHMARK_RESULTS_DIR"
# Environment variables that change which code paths a run takes; recorded when set.
ISA_CAPS = ("ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS", "TF_ENABLE_ONEDNN_OPTS")


def cpu():
    """The CPU's model name, its SIMD flags and the ISA caps set in the environment."""
    model, flags = platform.processor() or "?", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    simd = sorted(f for f in flags if f.startswith(("avx512", "avx2", "amx", "fma")))
    caps = {name: os.environ[name] for name in ISA_CAPS if name in os.environ}
    return {"model": model, "cores": os.cpu_count(), "flags": simd, "caps": caps}


def _commit():
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=os.path.dirname(RESULTS_DIR), check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def add_record_flags(parser, what):
    """Adds `--record` (write `what` to the results) and `--note` (kept in each record).

    Args:
        parser: The benchmark's `argparse.ArgumentParser`.
        what: What `--record` writes, for its help, e.g. "one `recipe_step` record per variant".
    """
    parser.add_argument("--record", action="store_true", help=f"write {what} (benchmarks/results/)")
    parser.add_argument("--note", default="",
                        help="a note kept in each record (e.g. how busy the machine was)")


def write_record(what, figures, *, benchmark=None, command=None, results_dir=None, note="",
                 **extra):
    """Writes one result as `results_dir/<date>-<what>-<hash>.json` and returns its path.

    Args:
        what: A short stable name of the measured quantity (e.g. `"train_step"`); records
            with the same `what` are comparable and rendered together.
        figures: A dict of the measured figures (numbers or short strings).
        benchmark: The script that measured it. Defaults to the running script's name.
        command: The command line. Defaults to this process's own.
        results_dir: Where to write. Defaults to `$BENCHMARK_RESULTS_DIR` when set, else
            `benchmarks/results/`.
        note: Kept in the record when not empty (`--note`).
        **extra: Other JSON-serialisable context (sizes, variants, the device).

    Returns:
        The path of the written record.
    """
    results_dir = results_dir or os.environ.get(RESULTS_DIR_ENV) or RESULTS_DIR
    now = datetime.datetime.now(datetime.timezone.utc)
    record = {
        "what": what,
        "figures": figures,
        "benchmark": benchmark or os.path.basename(sys.argv[0]),
        "command": command or shlex.join([os.path.relpath(sys.argv[0]), *sys.argv[1:]]),
        "commit": _commit(),
        "cpu": cpu(),
        "date": now.isoformat(timespec="seconds"),
        **extra,
        **({"note": note} if note else {}),
    }
    tf = sys.modules.get("tensorflow")  # recorded when the benchmark used it; never imported here
    if tf is not None:
        record["tensorflow"] = tf.__version__
    text = json.dumps(record, indent=1, sort_keys=True, default=float)
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    slug = re.sub(r"[^a-z0-9]+", "-", what.lower()).strip("-")
    os.makedirs(results_dir, exist_ok=True)
    path = os.path.join(results_dir, f"{now:%Y%m%d-%H%M%S}-{slug}-{digest}.json")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text + "\n")
    os.replace(path + ".tmp", path)
    return path
