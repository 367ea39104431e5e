"""Training runs: resume, repeatability, NaN handling, checkpoints and the files a user reads."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from dcgan_tf_cli.main import cli
from dcgan_tf.training import checkpoint
from dcgan_tf.training import losses
from dcgan_tf.config import ModelConfig, TrainConfig
from dcgan_tf.training.losses import generator_loss
from dcgan_tf.training.run import TrainingError, build_gan, train
from dcgan_tf.training.segments import plan_segments

TINY = ModelConfig(image_size=32, channels=1, ngf=8, ndf=8)


def _cfg(out, **kw):
    return TrainConfig(out=str(out), batch_size=32, **kw)


def _metrics(run):
    with open(os.path.join(run, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def test_plan_segments_cover_every_step_once():
    for done, total, spe in [(0, 100, 11), (5, 12, 11), (11, 33, 11), (7, 7, 3), (3, 40, 40)]:
        segments = plan_segments(done, total, spe)
        steps = [(e, s) for first, n, s in segments for e in range(first, first + n)]
        assert sum(s for _, s in steps) == total - done
        # Epoch boundaries stay on multiples of steps_per_epoch.
        position = done
        for epoch, s in steps:
            assert epoch == position // spe and (position % spe) + s <= spe
            position += s


def test_train_writes_samples_metrics_checkpoints_and_resumes(tmp_path):
    run = tmp_path / "run"
    first = train(_cfg(run, max_steps=5), TINY, verbose=0)
    assert first["step"] == 5 and first["resumed_from"] is None
    assert [s for s, _ in checkpoint.list_checkpoints(run)] == [5]

    # Re-running resumes: same total, step count continues, Adam moments are restored.
    second = train(_cfg(run, max_steps=50), TINY, verbose=0)
    assert second["start_step"] == 5 and second["step"] == 50
    assert second["resumed_from"].endswith("ckpt-000000005")
    steps = [s for s, _ in checkpoint.list_checkpoints(run)]
    assert steps[-1] == 50 and len(steps) <= 6

    lines = _metrics(run)
    assert [l["step"] for l in lines][-1] == 50
    assert all(np.isfinite(l["d_loss"]) and np.isfinite(l["g_loss"]) for l in lines)
    assert {"d_real", "d_fake", "diversity", "images_per_sec"} <= set(lines[-1])
    grid = Image.open(run / "samples" / "latest.png")
    assert grid.size[0] > 32 * 8
    # TensorBoard: scalars and sample grids share one writer on the training step (issue 26).
    assert any(name.startswith("events") for name in os.listdir(run / "logs" / "samples"))

    # The restored optimizer state equals what was saved, not fresh zeros.
    gan = build_gan(TINY, _cfg(run))
    checkpoint.restore(gan, checkpoint.select(run, "last"))
    assert int(gan.g_optimizer.iterations.numpy()) == 50
    saved = checkpoint.read_arrays(checkpoint.select(run, "last"))
    moments = [v for k, v in saved.items() if k.startswith("d_optimizer/_variables/")]
    assert moments and any(np.abs(m).sum() > 0 for m in moments)

    again = train(_cfg(run, max_steps=50), TINY, verbose=0)
    assert again["start_step"] == again["step"] == 50


def test_same_seed_gives_same_first_losses(tmp_path):
    a = train(_cfg(tmp_path / "a", max_steps=3, seed=7), TINY, verbose=0)
    b = train(_cfg(tmp_path / "b", max_steps=3, seed=7), TINY, verbose=0)
    c = train(_cfg(tmp_path / "c", max_steps=3, seed=8), TINY, verbose=0)
    la, lb, lc = (_metrics(r["run_dir"])[0] for r in (a, b, c))
    assert la["d_loss"] == pytest.approx(lb["d_loss"], rel=1e-5)
    assert la["g_loss"] == pytest.approx(lb["g_loss"], rel=1e-5)
    assert la["g_loss"] != pytest.approx(lc["g_loss"], rel=1e-5)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    run = tmp_path / "run"
    train(_cfg(run, max_steps=4), TINY, verbose=0)
    good = checkpoint.select(run, "last")
    diverge = lambda logits: float("nan") * generator_loss(logits)  # noqa: E731
    monkeypatch.setattr(losses, "generator_loss", diverge)
    with pytest.raises(TrainingError, match=r"NaN/inf at steps 5-\d+ "):
        train(_cfg(run, max_steps=400), TINY, verbose=0)
    assert checkpoint.select(run, "last") == good
    state = checkpoint.read_arrays(good)
    assert all(np.isfinite(v).all() for v in state.values() if v.dtype.kind == "f")


def test_checkpoint_ignores_partial_writes_and_keeps_last_n(tmp_path):
    run = tmp_path / "run"
    gan = build_gan(TINY, _cfg(run))
    for step in range(1, 6):
        checkpoint.save(gan, str(run), step, step, {"diversity_score": -step}, keep=2)
    # A crash mid-write leaves only a hidden temp dir, which is never picked up.
    os.makedirs(run / "checkpoints" / ".tmp-ckpt-crashed")
    steps = [s for s, _ in checkpoint.list_checkpoints(run)]
    assert steps == [1, 4, 5]  # last 2, plus the best-scoring one
    assert checkpoint.select(run, "best").endswith("ckpt-000000001")
    with pytest.raises(checkpoint.CheckpointError, match="Available steps: 1, 4, 5"):
        checkpoint.select(run, 3)


def test_resume_with_other_model_flags_is_refused(tmp_path):
    run = tmp_path / "run"
    train(_cfg(run, max_steps=2), TINY, verbose=0)
    with pytest.raises(TrainingError, match="different model"):
        train(_cfg(run, max_steps=4), ModelConfig(image_size=32, channels=1, ngf=16, ndf=8))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--image-size", "48"], "power of 2"),
        (["--dataset", "imagenet"], "imagenet"),
        (["--batch-size", "0"], "batch-size"),
        (["--lr", "-1"], "lr"),
        (["--z-dist", "cauchy"], "z-dist"),
        (["--strategy", "tpu"], "strategy"),
    ],
)
def test_bad_flags_are_usage_errors(args, message):
    result = CliRunner().invoke(cli, ["train", *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_cli_train_dry_run_and_missing_data_error(tmp_path):
    runner = CliRunner()
    dry = runner.invoke(cli, ["train", "--dry-run", "--ngf", "32"])
    assert dry.exit_code == 0 and json.loads(dry.output)["model"]["ngf"] == 32
    missing = runner.invoke(
        cli, ["train", "--dataset", "svhn", "--data-dir", str(tmp_path), str(tmp_path / "r")]
    )
    assert missing.exit_code == 1
    assert "train_32x32.mat" in missing.output and "Traceback" not in missing.output
    assert len(missing.output.strip().splitlines()) == 1


def test_checkpointed_generator_samples_alike_in_inference_and_training_mode(tmp_path):
    # Inference-mode batch norm must not change what the generator draws (dcgan.torch #19):
    # compare pixel statistics and the discriminator's score of both modes' samples.
    run = tmp_path / "run"
    train(_cfg(run, max_steps=30), ModelConfig(image_size=32, channels=1, ngf=16, ndf=16), verbose=0)
    _, _, generator, discriminator, _ = checkpoint.load_networks(str(run))
    z = np.random.default_rng(0).uniform(-1, 1, (256, 100)).astype("float32")
    inference = generator(z, training=False).numpy()
    training = generator(z, training=True).numpy()
    assert inference.std() == pytest.approx(training.std(), rel=0.1)
    assert inference.mean() == pytest.approx(training.mean(), abs=0.02)
    score = lambda x: (1 / (1 + np.exp(-discriminator(x, training=False).numpy()))).mean()  # noqa: E731
    assert score(inference) == pytest.approx(score(training), abs=0.05)


def test_collapse_monitor_warns_when_samples_lose_diversity(tmp_path, caplog):
    from dcgan_tf.training.monitor import RunMonitor

    gan = build_gan(TINY, _cfg(tmp_path))
    real = np.random.default_rng(0).uniform(-1, 1, (32, 32, 32, 1)).astype("float32")
    monitor = RunMonitor(str(tmp_path), _cfg(tmp_path), TINY, real, writer=None)
    monitor.set_model(gan)
    healthy = monitor._diversity(gan.generator(monitor.fixed_z).numpy())
    assert healthy["feature_diversity"] > 0 and not healthy["collapse_warning"]

    # Collapse every z onto one image: the output layer ignores its input.
    to_image = gan.generator.get_layer("to_image")
    to_image.kernel.assign(np.zeros(to_image.kernel.shape, "float32"))
    with caplog.at_level("WARNING", logger="dcgan_tf"):
        collapsed = monitor._diversity(gan.generator(monitor.fixed_z).numpy())
    assert collapsed["random_feature_diversity"] == pytest.approx(0, abs=1e-6)
    assert collapsed["diversity"] == pytest.approx(0, abs=1e-6) and collapsed["collapse_warning"]
    assert "mode collapse" in caplog.text


@pytest.mark.parametrize("precision, jit", [pytest.param("bf16", "off", marks=pytest.mark.bf16),
                                            ("fp16", "off"), ("fp32", "on")])
def test_gpu_path_flags_train_and_resume_on_cpu(tmp_path, precision, jit):
    # The GPU settings (mixed precision, loss scaling, XLA) run the same code path on the CPU.
    run = tmp_path / "run"
    train(_cfg(run, max_steps=2, precision=precision, jit=jit), TINY, verbose=0)
    again = train(_cfg(run, max_steps=4, precision=precision, jit=jit), TINY, verbose=0)
    assert again["start_step"] == 2 and again["step"] == 4
    line = _metrics(run)[-1]
    assert np.isfinite(line["d_loss"]) and np.isfinite(line["g_loss"])
    _, _, generator, _, _ = checkpoint.load_networks(str(run))
    assert generator.get_layer("project").kernel.dtype == "float32"


def test_auto_precision_follows_the_hardware():
    from dcgan_tf.training.run import native_bf16, resolve_precision

    assert resolve_precision("auto") == ("bf16" if native_bf16() else "fp32")
    assert resolve_precision("fp16") == "fp16"


def test_epoch_end_work_follows_its_cost_schedule(tmp_path):
    """Samples, figures and checkpoints run once training time reaches 50x their cost."""
    from dcgan_tf.training.monitor import MONITOR_SHARE, RunMonitor

    gan = build_gan(TINY, _cfg(tmp_path))
    real = np.zeros((4, 32, 32, 1), "float32")
    monitor = RunMonitor(str(tmp_path), _cfg(tmp_path), TINY, real, writer=None, final_step=100)
    monitor.set_model(gan)  # gan.step is 0: not the final step.
    assert MONITOR_SHARE == 0.02
    assert monitor._due(epoch=0, step=0)  # Nothing measured yet: the first epoch always.
    monitor._cost = 0.5
    monitor._trained = 24.9
    assert not monitor._due(epoch=3, step=40)
    monitor._trained = 25.0  # 0.5 s is 2% of 25 s.
    assert monitor._due(epoch=3, step=40)
    monitor._trained = 0.0
    assert monitor._due(epoch=9, step=100)  # The last epoch always.
    gan.stop_training = True  # Stopped early (--max-minutes): its epoch is the last.
    assert monitor._due(epoch=4, step=50)
    gan.stop_training = False
    every = RunMonitor(str(tmp_path), _cfg(tmp_path, monitor_every=3), TINY, real, None, final_step=100)
    every.set_model(gan)
    every._cost = 1e9
    assert [e for e in range(9) if every._due(e, 10 * e)] == [2, 5, 8]


def test_short_epochs_sample_on_schedule_and_checkpoint_the_end(tmp_path):
    # Epochs of 2 steps take well under a second; the scheduled work does not run after each.
    summary = train(TrainConfig(out=str(tmp_path / "run"), epochs=12, batch_size=64), TINY, verbose=0)
    lines = _metrics(tmp_path / "run")
    sampled = [m["epoch"] for m in lines if "diversity" in m]
    assert [m["epoch"] for m in lines] == list(range(1, 13))
    assert sampled[0] == 1 and sampled[-1] == 12 and len(sampled) < 12
    pngs = sorted(os.listdir(tmp_path / "run" / "samples"))
    assert pngs == [f"epoch-{e:04d}.png" for e in sampled] + ["latest.png"]
    assert summary["checkpoint"].endswith(f"ckpt-{summary['step']:09d}")
