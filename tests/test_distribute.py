"""Training under tf.distribute: MirroredStrategy on 2 logical CPUs, multi-worker on loopback."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, numpy as np, tensorflow as tf
    from dcgan_tf.training.distribute import split_cpu
    devices = split_cpu(2)
    from dcgan_tf.config import ModelConfig, TrainConfig
    from dcgan_tf.training.run import build_gan

    strategy = tf.distribute.MirroredStrategy(devices)
    cfg = ModelConfig(image_size=32, channels=1, ngf=8, ndf=8)
    with strategy.scope():
        gan = build_gan(cfg, TrainConfig(batch_size=16))
    before = [v.numpy().copy() for v in gan.generator.trainable_variables]
    x = np.random.default_rng(0).uniform(-1, 1, (32, 32, 32, 1)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices(x).batch(16, drop_remainder=True)
    history = gan.fit(ds, epochs=1, verbose=0).history

    @tf.function
    def draw():
        return strategy.run(lambda: gan.sample_z(4))
    zs = strategy.experimental_local_results(draw())
    g = gan.generator.trainable_variables[0]
    per_device = [t.numpy() for t in strategy.experimental_local_results(g.value)]
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "losses": [history["d_loss"][-1], history["g_loss"][-1]],
        "changed": any(not np.allclose(b, v.numpy()) for b, v in zip(before, gan.generator.trainable_variables)),
        "replicas_equal": all(np.array_equal(per_device[0], p) for p in per_device),
        "z_differ": not np.allclose(zs[0].numpy(), zs[1].numpy()),
        "step": int(gan.g_optimizer.iterations.numpy()),
    }))
    """
)


def _run_python(code, env=None, timeout=300):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_mirrored_step_on_two_logical_cpus():
    result = _run_python(MIRRORED_SCRIPT)
    assert result["replicas"] == 2
    assert all(abs(v) < 1e6 for v in result["losses"])
    assert result["changed"] and result["replicas_equal"]
    assert result["step"] == 2
    # Each replica must draw its own z, or the fake batch is half as diverse.
    assert result["z_differ"]


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_multiworker_run_on_loopback_writes_one_checkpoint(tmp_path):
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(tf_config), "TF_CPP_MIN_LOG_LEVEL": "2"}
        cmd = [
            sys.executable, "-m", "dcgan_tf_cli.main", "train", "--strategy", "multiworker",
            "--max-steps", "3", "--batch-size", "32", "--ngf", "8", "--ndf", "8",
            str(tmp_path / f"run{index}"),
        ]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]
    chief_ckpts = os.listdir(tmp_path / "run0" / "checkpoints")
    assert chief_ckpts == ["ckpt-000000003"]
    assert not (tmp_path / "run1" / "checkpoints").exists()
    assert (tmp_path / "run0" / "metrics.jsonl").exists()
