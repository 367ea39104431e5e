"""Choosing the `tf.distribute` strategy every model is built and trained under."""

import json
import os

import tensorflow as tf


def get_strategy(name="auto"):
    """Returns the strategy for `name`.

    `"auto"` picks MultiWorkerMirroredStrategy when `TF_CONFIG` names a cluster with more than
    one task, MirroredStrategy when more than one GPU is visible, else the default strategy.

    Args:
        name: `"auto"`, `"default"`, `"mirrored"` or `"multiworker"`.

    Returns:
        A `tf.distribute.Strategy`. Create it before any other TensorFlow op runs: the
        multi-worker strategy needs to set up the collective runtime first.
    """
    if name == "auto":
        if _cluster_size() > 1:
            name = "multiworker"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if _cluster_size() < 1:
            raise ValueError(
                "Expected `TF_CONFIG` to describe the cluster for strategy='multiworker'. "
                "Set TF_CONFIG='{\"cluster\": {\"worker\": [...]}, \"task\": {...}}' on every worker."
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(
        "Expected `strategy` in ('auto', 'default', 'mirrored', 'multiworker'). "
        f"Received: strategy={name!r}"
    )


def _cluster_size():
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return 0
    try:
        config = json.loads(raw)
    except ValueError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON ({e}). Fix or unset the TF_CONFIG variable.")
    shape = ('{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": i}}')
    cluster = config.get("cluster", {}) if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not all(
            isinstance(v, list) and all(isinstance(a, str) for a in v) for v in cluster.values()):
        raise ValueError(f"Expected TF_CONFIG of the form {shape}. Received: {raw[:200]}")
    task = config.get("task")
    if task is not None:
        jobs = cluster.get(task.get("type")) if isinstance(task, dict) else None
        index = task.get("index", 0) if isinstance(task, dict) else None
        if jobs is None or not isinstance(index, int) or not 0 <= index < len(jobs):
            raise ValueError(f"Expected TF_CONFIG's task to name a type of its cluster and an "
                             f"index in it ({shape}). Received: task={task}")
    return sum(len(v) for v in cluster.values())


def is_chief(strategy):
    """True for the one worker that writes checkpoints, samples and logs."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def split_cpu(n=2):
    """Splits the CPU into `n` logical devices, for testing mirrored training without GPUs.

    Must run before TensorFlow initialises its devices.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    return [d.name for d in tf.config.list_logical_devices("CPU")]
