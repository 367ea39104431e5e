"""A run's record across launches: segments of training in config.json, one metrics line per step.

Each `dcgan-tf train` launch on a run directory is a segment: the step it started from and
the flags it trained with. Export metadata reports the segments behind a checkpoint, so what
is recorded is what trained. `metrics.jsonl` is reconciled with the checkpoint a launch resumes
from, so that kills at any moment leave exactly one line per logged step.
"""

import datetime
import json
import os

# Paths and machine-specific settings: not part of what trained the weights.
_NOT_RECORDED = ("out", "data_dir")


def new_segment(segments, train_cfg, start_step, resumed_from):
    """Returns `segments` with this launch appended, dropping launches that left no checkpoint.

    Args:
        segments: The run's earlier segments (`checkpoint.read_segments`).
        train_cfg: This launch's `TrainConfig`.
        start_step: The step it resumes from (0 for a new run).
        resumed_from: The checkpoint path it resumed from, or `None`.
    """
    # A launch that started at or after this resume point contributed nothing that survives.
    kept = [s for s in segments if s["start_step"] < start_step]
    if start_step and not kept:
        kept = [{"start_step": 0, "train": None, "note": "trained before dcgan-tf kept segments"}]
    train = {k: v for k, v in train_cfg.to_dict().items() if k not in _NOT_RECORDED}
    return kept + [{
        "start_step": int(start_step),
        "resumed_from": os.path.basename(resumed_from) if resumed_from else None,
        "train": train,
        "data_dir": train_cfg.data_dir,  # Where this launch read its data (a swap shows here).
        "started_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }]


def trained_segments(segments, step):
    """What trained the weights of step `step`: each launch with the step range it contributed.

    A launch ends where the next one resumed (steps after the last checkpoint were lost), so
    ranges never overlap; launches that contributed no step are left out.

    Returns:
        List of `{"steps": [first, end], "train": {...}}`, `end` exclusive.
    """
    out = []
    for i, segment in enumerate(segments):
        first = segment["start_step"]
        end = segments[i + 1]["start_step"] if i + 1 < len(segments) else step
        end = min(end, step)
        if end > first:
            out.append({"steps": [first, end], "train": segment["train"]})
    return out


def reconcile_metrics(run_dir, step, record=None):
    """Rewrites `metrics.jsonl` to hold one line per logged step up to `step`, in order.

    Lines after `step` (logged by a launch killed before its next checkpoint, and about to be
    replayed), repeated steps and a torn last line are dropped; `record`, the metrics stored
    with the checkpoint at `step`, is put back if a kill came between the checkpoint and its
    line. Call it under the run's lock.

    Args:
        run_dir: The run directory.
        step: The step training resumes from.
        record: The checkpoint's logged metrics dict (with `step`), or `None`.
    """
    path = os.path.join(run_dir, "metrics.jsonl")
    lines = {}
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # A line torn by a kill.
                if isinstance(entry, dict) and isinstance(entry.get("step"), (int, float)):
                    lines.setdefault(int(entry["step"]), line if line.endswith("\n") else line + "\n")
    if record and record.get("step") == step and step not in lines:
        record = {**record, "step": int(step), "epoch": int(record.get("epoch") or 0)}
        lines[step] = json.dumps(record) + "\n"
    kept = [lines[s] for s in sorted(lines) if s <= step]
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(kept)
    os.replace(tmp, path)
