"""The training run behind an export: where it is, its metrics curves and its KID.

An export's metadata records the run's dataset and the checkpoint step but not its
directory (paths are left out of what trained the weights), so the run is given, or found as
`runs/<export name>` (the default `dcgan-tf train` / `dcgan-tf export` names) when that run
has the exported checkpoint's step in its `metrics.jsonl`.
"""

import json
import os

import numpy as np

from dcgan_tf.charts import line_chart

# Curves drawn, one chart each: (title, metrics).
CHARTS = (
    ("losses", ("d_loss", "g_loss")),
    ("discriminator outputs", ("d_real", "d_fake")),
    ("diversity (relative to real data)", ("diversity", "feature_diversity", "random_feature_diversity")),
    ("KID (x1000, lower is better)", ("kid",)),
)


def read_metrics(run_dir):
    """The run's `metrics.jsonl` as a list of dicts, one per logged step, in step order.

    Torn or non-JSON lines (a kill mid-write) are skipped.

    Raises:
        OSError: the run has no `metrics.jsonl`.
    """
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.isfile(path):
        raise OSError(f"{run_dir} has no metrics.jsonl: pass a run directory of `dcgan-tf train`.")
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("step"), (int, float)):
                rows.append(entry)
    return sorted(rows, key=lambda r: r["step"])


def find_run(metadata, run_dir=None, root="runs"):
    """The run directory of an export: `run_dir` when given, else `root/<export name>` if it holds
    the exported step; `None` when there is none.

    Raises:
        OSError: `run_dir` is given but is not a run directory.
    """
    if run_dir is not None:
        if not os.path.isfile(os.path.join(run_dir, "metrics.jsonl")):
            raise OSError(f"{run_dir} has no metrics.jsonl: pass a run directory of `dcgan-tf train`.")
        return run_dir
    guess = os.path.join(root, str(metadata.get("name", "")))
    if metadata.get("name") and os.path.isfile(os.path.join(guess, "metrics.jsonl")):
        if any(r["step"] == metadata.get("step") for r in read_metrics(guess)):
            return guess
    return None


def summary(metadata, rows):
    """What the run panel prints: the exported step's figures and the last logged ones.

    Args:
        metadata: The export's metadata (its `step`, `metrics`).
        rows: `read_metrics` of the run, or `[]` when the run is not at hand.

    Returns:
        Dict with `exported` (step, epoch, metrics of the exported checkpoint), `last` (the
        last logged line, or `None`), `kid` (`[(step, kid)]` of the scored steps) and
        `best_kid` (`(step, kid)` or `None`).
    """
    kid = [(int(r["step"]), float(r["kid"])) for r in rows if r.get("kid") is not None]
    if not kid and metadata.get("metrics", {}).get("kid") is not None:
        kid = [(int(metadata["step"]), float(metadata["metrics"]["kid"]))]
    return {
        "exported": {"step": metadata.get("step"), "epoch": metadata.get("epoch"),
                     "checkpoint": metadata.get("checkpoint"), "metrics": metadata.get("metrics", {})},
        "last": rows[-1] if rows else None,
        "kid": kid,
        "best_kid": min(kid, key=lambda p: p[1]) if kid else None,
    }


def curves(rows):
    """Charts of the run's metrics against the training step, stacked into one RGB image.

    Args:
        rows: `read_metrics` of the run.

    Returns:
        uint8 (H, W, 3), or `None` when no chart has data.
    """
    charts = []
    for title, names in CHARTS:
        series = []
        for name in names:
            points = [(r["step"], r[name]) for r in rows if r.get(name) is not None]
            if points:
                xs, ys = zip(*points)
                series.append((name, np.asarray(xs), np.asarray(ys, np.float64)))
        if series:
            charts.append(line_chart(series, title, "training step", "", size=(640, 220)))
    if not charts:
        return None
    return np.concatenate(charts, axis=0)
