"""The README's first command: `dcgan-tf train` on digits trains 60 epochs of narrower networks
(ngf = ndf = 32), the other datasets keep 64; a width the user gives wins."""

import json

from click.testing import CliRunner


def test_digits_default_run_is_60_epochs_at_width_32(tmp_path):
    from dcgan_tf.config import TrainConfig
    from dcgan_tf.training.run import _resolve_configs

    model, train, resuming = _resolve_configs(TrainConfig(out=str(tmp_path / "d")), None)
    assert (train.epochs, model.ngf, model.ndf, resuming) == (60, 32, 32, False)
    assert (model.image_size, model.channels) == (32, 1)
    other = TrainConfig(out=str(tmp_path / "f"), dataset="fashion_mnist")
    assert other.epochs == 25


def test_cli_width_flags_win_over_the_digits_default(tmp_path):
    from dcgan_tf_cli.main import cli

    def dry(*flags):
        result = CliRunner().invoke(cli, ["train", str(tmp_path / "r"), "--dry-run",
                                          *flags])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    assert dry("--z-dim", "64")["model"]["ngf"] == 32  # other model flags: digits' width
    assert dry("--z-dim", "64")["model"]["ndf"] == 32
    assert dry("--ngf", "48")["model"]["ngf"] == 48
    assert dry()["train"]["epochs"] == 60
