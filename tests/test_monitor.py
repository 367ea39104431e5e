"""What a run shows in TensorBoard besides Keras' scalars: sample grids and hparams."""

import glob
import json
import os

import numpy as np


def _events(log_dir):
    import tensorflow as tf

    for path in sorted(glob.glob(os.path.join(log_dir, "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                yield event.step, value


def test_sample_grids_are_tensorboard_images(digits_export):
    import tensorflow as tf
    from PIL import Image

    run, _ = digits_export
    with open(os.path.join(run, "metrics.jsonl"), encoding="utf-8") as f:
        epochs = [json.loads(line) for line in f]
    images = [(step, v) for step, v in _events(os.path.join(run, "logs", "samples")) if v.tag == "samples"]
    sampled = [e for e in epochs if "diversity" in e]  # The epochs the schedule sampled.
    assert sampled[0] == epochs[0] and sampled[-1] == epochs[-1]
    assert [step for step, _ in images] == [e["step"] for e in sampled]
    for (_, value), epoch in zip(images, sampled):
        # tf.summary.image stores [width, height, encoded PNG...] in a string tensor.
        encoded = tf.make_ndarray(value.tensor)[2]
        logged = tf.io.decode_png(encoded).numpy()
        with Image.open(os.path.join(run, "samples", f"epoch-{epoch['epoch']:04d}.png")) as png:
            written = np.asarray(png)
        assert np.array_equal(logged[..., 0], written)


def test_hparams_are_the_runs_config(digits_export):
    from tensorboard.plugins.hparams import plugin_data_pb2

    run, _ = digits_export
    with open(os.path.join(run, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    expected = {**config["model"], **config["train"]}
    sessions = []
    for _, value in _events(os.path.join(run, "logs", "samples")):
        if value.metadata.plugin_data.plugin_name == "hparams":
            data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
            if data.HasField("session_start_info"):
                sessions.append(data.session_start_info.hparams)
    assert sessions
    logged = {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind")) for k, v in sessions[0].items()}
    assert logged["ngf"] == expected["ngf"] == 16 and logged["batch_size"] == expected["batch_size"] == 64
    assert logged["lr"] == expected["lr"] and logged["z_dist"] == expected["z_dist"]
    assert logged["verify"] is expected["verify"] is True
    assert "out" not in logged and "data_dir" not in logged
    assert set(logged) == {k for k, v in expected.items()
                           if k not in ("out", "data_dir") and isinstance(v, (bool, int, float, str))}
