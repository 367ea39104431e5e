import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_collection_modifyitems(config, items):
    """Skips the tests marked `bf16` on a CPU where bf16 cannot run (`hardware.bf16_runs`)."""
    from dcgan_tf import hardware

    if hardware.bf16_runs(hardware.cpu_kind()):
        return
    skip = pytest.mark.skip(reason=f"bf16 cannot run on this CPU (kind {hardware.cpu_kind()}); "
                                   "test_hardware_plan.py checks its one-line refusal")
    for item in items:
        if "bf16" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def digits_export(tmp_path_factory):
    """A digits run trained 60 steps and its export, made once per test session.

    Returns:
        `(run_dir, savedmodel_path)`.
    """
    from dcgan_tf.config import ModelConfig, TrainConfig
    from dcgan_tf.export.savedmodel import export_savedmodel
    from dcgan_tf.training.run import train

    root = tmp_path_factory.mktemp("digits-model")
    run, base = str(root / "run"), str(root / "savedmodels")
    train(TrainConfig(out=run, max_steps=60, batch_size=64, recipe="paper"),
          ModelConfig(image_size=32, channels=1, ngf=16, ndf=16), verbose=0)
    return run, export_savedmodel(run, base_path=base, name="digits")
