"""What a run shows in TensorBoard: scalars and sample grids on the step, hparams with metrics."""

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


def test_scalars_share_the_step_axis_of_the_sample_grids(digits_export):
    import tensorflow as tf

    run, _ = digits_export
    with open(os.path.join(run, "metrics.jsonl"), encoding="utf-8") as f:
        epochs = [json.loads(line) for line in f]
    events = list(_events(os.path.join(run, "logs", "samples")))
    image_steps = [step for step, v in events if v.tag == "samples"]
    d_loss = {step: v for step, v in events if v.tag == "d_loss"}
    # One d_loss point per metrics line, at its step, with its value; every grid sits on one.
    assert sorted(d_loss) == [e["step"] for e in epochs] and len(epochs) > 1
    for e in epochs:
        assert tf.make_ndarray(d_loss[e["step"]].tensor) == np.float32(e["d_loss"])
    assert image_steps and set(image_steps) <= set(d_loss)
    # Keras' TensorBoard callback (scalars against the epoch) no longer writes logs/train.
    assert not os.path.exists(os.path.join(run, "logs", "train"))


def test_hparams_tab_lists_final_losses_and_kid_as_metrics(digits_export):
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    run, _ = digits_export
    experiments = []
    for _, value in _events(os.path.join(run, "logs", "samples")):
        if value.metadata.plugin_data.plugin_name == "hparams":
            data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
            if data.HasField("experiment"):
                experiments.append(data.experiment)
    assert len(experiments) == 1
    tags = [m.name.tag for m in experiments[0].metric_infos]
    assert {"d_loss", "g_loss", "kid"} <= set(tags)
    with open(os.path.join(run, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    assert {h.name for h in experiments[0].hparam_infos} == {
        k for k, v in {**config["model"], **config["train"]}.items()
        if k not in ("out", "data_dir") and isinstance(v, (bool, int, float, str))}
    # The metric columns read scalars of these tags from the same run.
    acc = event_accumulator.EventAccumulator(
        os.path.join(run, "logs", "samples"), size_guidance={event_accumulator.TENSORS: 0})
    acc.Reload()
    assert {"d_loss", "g_loss"} <= set(acc.Tags()["tensors"])
