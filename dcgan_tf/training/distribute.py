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
        cluster = json.loads(raw).get("cluster", {})
    except ValueError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON ({e}). Fix or unset the TF_CONFIG variable.")
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
