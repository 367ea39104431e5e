"""One meaning per flag across commands, the old spellings' notices, and `--data-dir FILE.npz`."""

import importlib
import json
import os
import pkgutil

import click
import numpy as np
import pytest
from click.testing import CliRunner

import dcgan_tf
from dcgan_tf_cli.main import cli


class Captured(ValueError):
    """Raised by a stand-in library function: the CLI turns it into exit code 1."""


def _import_library():
    """Imports every library module, so that none is first imported while a function is
    patched: its module-top `from ... import` would keep the stand-in for later tests."""
    for info in pkgutil.walk_packages(dcgan_tf.__path__, "dcgan_tf."):
        try:
            importlib.import_module(info.name)
        except ImportError:  # An optional extra that is not installed.
            pass


@pytest.fixture
def capture(monkeypatch):
    """Replaces a library function by one that records its arguments and stops the command."""
    _import_library()
    calls = []

    def patch(module, name):
        def fake(*args, **kwargs):
            calls.append((args, kwargs))
            raise Captured("captured")

        monkeypatch.setattr(module, name, fake)
        return calls

    return patch


def _invoke(args):
    return CliRunner().invoke(cli, args)


def _notices(result):
    return [line for line in result.output.splitlines() if line.startswith("Deprecated:")]


def _commands():
    return sorted(cli.commands.items())


def test_json_is_a_path_everywhere():
    for name, command in _commands():
        for param in command.params:
            if "--json" in getattr(param, "opts", ()):
                assert not param.is_flag and param.flag_value == "-", name
                assert param.name == "json_path", name


def test_n_is_one_count_of_images_everywhere():
    for name, command in _commands():
        for param in command.params:
            if "--n" in getattr(param, "opts", ()) and not param.hidden:
                assert isinstance(param.type, click.types.IntRange), name


def test_a_run_is_the_positional_run_everywhere():
    taking_a_run = set()
    for name, command in _commands():
        for param in command.params:
            if isinstance(param, click.Option) and "--run" in param.opts:
                assert param.hidden, f"{name}: --run must be the deprecated spelling only"
            if isinstance(param, click.Argument) and param.name == "run_dir":
                taking_a_run.add(name)
    assert taking_a_run == {"export", "forget", "nn-classify", "visualize"}


def test_data_dir_accepts_a_file_everywhere():
    for name, command in _commands():
        for param in command.params:
            if "--data-dir" in getattr(param, "opts", ()):
                assert isinstance(param.type, click.Path), name
                assert param.type.file_okay and param.type.dir_okay, name


def test_no_flag_is_accepted_and_ignored():
    # `probe --svm` used to be `expose_value=False`: every option must reach the command.
    for name, command in _commands():
        for param in command.params:
            assert param.expose_value or param.name in ("help", "version"), (name, param.name)


def test_interpolate_new_and_old_spellings(capture, tmp_path):
    from dcgan_tf.investigations import latent

    calls = capture(latent, "interpolate")
    model = str(tmp_path)
    new = _invoke(["interpolate", "--model", model, "--out", "o", "--walk-indices", "3,17",
                   "--walk-indices", "5,9,12", "--num-walks", "2"])
    old = _invoke(["interpolate", "--model", model, "--out", "o", "--walk", "3,17",
                   "--walk", "5,9,12", "--walks", "2"])
    assert new.exit_code == old.exit_code == 1 and "captured" in old.output
    assert calls[0][1]["walks"] == calls[1][1]["walks"] == [[3, 17], [5, 9, 12]]
    assert calls[0][1]["num_walks"] == calls[1][1]["num_walks"] == 2
    assert _notices(new) == []
    assert _notices(old) == [
        "Deprecated: --walk is now --walk-indices; --walk will be removed in the next release.",
        "Deprecated: --walks is now --num-walks; --walks will be removed in the next release."]
    both = _invoke(["interpolate", "--model", model, "--out", "o", "--num-walks", "3",
                    "--walks", "2"])
    assert both.exit_code == 2 and "--num-walks or its old spelling --walks" in both.output


def test_visualize_d_channels_and_positional_run(capture, tmp_path):
    from dcgan_tf.investigations import visualize

    calls = capture(visualize, "visualize")
    run = str(tmp_path)
    new = _invoke(["visualize", run, "--out", "o", "--d-channels", "0,3", "--num-d-channels", "2"])
    old = _invoke(["visualize", "--run", run, "--out", "o", "--channels", "0,3",
                   "--num-channels", "2"])
    assert new.exit_code == old.exit_code == 1, old.output
    assert calls[0] == calls[1]
    assert calls[0][0][0] == run and calls[0][1]["channels"] == [0, 3]
    assert calls[0][1]["num_channels"] == 2
    assert len(_notices(old)) == 3 and _notices(new) == []
    assert "the positional RUN" in _notices(old)[0]
    missing = _invoke(["visualize", "--out", "o"])
    assert missing.exit_code == 2 and "Missing argument 'RUN'" in missing.output


def test_nn_classify_sizes_and_positional_run(capture, tmp_path):
    from dcgan_tf.investigations import nn_classify

    calls = capture(nn_classify, "nn_classify")
    run = str(tmp_path)
    new = _invoke(["nn-classify", run, "--sizes", "10,20"])
    old = _invoke(["nn-classify", "--run", run, "--n", "10,20"])
    assert new.exit_code == old.exit_code == 1, old.output
    assert calls[0][0][0] == calls[1][0][0] == run
    assert calls[0][0][2].sizes == calls[1][0][2].sizes == (10, 20)
    assert len(_notices(old)) == 2 and _notices(new) == []


def test_sample_request_format(capture, tmp_path):
    from dcgan_tf.serving import clients

    calls = capture(clients, "open_client")
    new = _invoke(["sample", "--model", str(tmp_path), "--request-format", "columnar"])
    old = _invoke(["sample", "--model", str(tmp_path), "--format", "columnar"])
    assert new.exit_code == old.exit_code == 1, old.output
    assert calls[0][1]["request_format"] == calls[1][1]["request_format"] == "columnar"
    assert _notices(old) == ["Deprecated: --format is now --request-format; --format will be "
                             "removed in the next release."]


def test_export_jit_is_the_choice_train_has(capture, tmp_path):
    from dcgan_tf.export import savedmodel

    calls = capture(savedmodel, "export_savedmodel")
    run = str(tmp_path)
    results = [_invoke(["export", run, *flags]) for flags in
               ([], ["--jit", "on"], ["--jit", "off"], ["--jit", "auto"], ["--jit"])]
    assert all(r.exit_code == 1 for r in results), results[-1].output
    assert [kwargs["jit"] for _, kwargs in calls] == [False, True, False, False, True]
    assert _notices(results[-1]) == ["Deprecated: a bare --jit is now --jit on; a bare --jit will "
                                     "be removed in the next release."]
    assert all(_notices(r) == [] for r in results[:-1])
    bad = _invoke(["export", run, "--jit", "maybe"])
    assert bad.exit_code == 2 and "auto, on, off" in bad.output


def test_probe_svm_is_the_svm_classifier(capture):
    from dcgan_tf.probe import run as probe_run

    calls = capture(probe_run, "run_probe")
    common = ["probe", "--model", ".", "--dataset", "digits"]
    results = [_invoke(common + flags) for flags in ([], ["--svm"], ["--classifier", "svm"])]
    assert [r.exit_code for r in results] == [1, 1, 1], results[1].output
    assert calls[0] == calls[1] == calls[2]
    bad = _invoke(common + ["--classifier", "knn"])
    assert bad.exit_code == 2 and "svm" in bad.output


def test_score_json_to_stdout(monkeypatch):
    from dcgan_tf.scoring import score

    monkeypatch.setattr(score, "score_savedmodel", lambda *a, **k: {"fid": 1.5, "n": 4})
    monkeypatch.setattr(score, "format_report", lambda report: "FID 1.5")
    result = CliRunner().invoke(cli, ["score", "--model", ".", "--dataset", "digits", "--json", "-"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"fid": 1.5, "n": 4}
    assert "FID 1.5" in result.stderr


def test_inspect_json_path_stdout_and_bare(digits_export, tmp_path):
    model = digits_export[1]
    out = tmp_path / "inspect.json"
    to_file = _invoke(["inspect", model, "--json", str(out)])
    assert to_file.exit_code == 0, to_file.output
    written = json.loads(out.read_text())
    assert written["metadata"]["dataset"] == "digits"
    to_stdout = _invoke(["inspect", model, "--json", "-"])
    bare = _invoke(["inspect", model, "--json"])
    assert json.loads(to_stdout.output) == json.loads(bare.output) == written


def _digits_npz(path):
    from dcgan_tf.data.datasets import load_split

    train, test = load_split("digits", "train"), load_split("digits", "test")
    np.savez(path, x=train.images, y=train.labels, x_test=test.images, y_test=test.labels)
    return str(path)


@pytest.mark.slow
def test_data_dir_takes_an_npz_file(digits_export, tmp_path):
    """`--dataset npz --data-dir FILE.npz` was rejected as "a file" by nearest and visualize."""
    run, model = digits_export
    npz = _digits_npz(tmp_path / "digits.npz")
    result = _invoke(["nearest", "--model", model, "--out", str(tmp_path / "nn"), "--dataset", "npz",
                      "--data-dir", npz, "--n", "16", "--max-train", "100", "--show", "2"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "nn" / "nearest.json").read_text())
    assert report["dataset"] == "npz" and report["train_images"] == 100
    result = _invoke(["visualize", run, "--out", str(tmp_path / "vis"), "--dataset", "npz",
                      "--data-dir", npz, "--num-d-channels", "2", "--top", "2", "--images", "100"])
    assert result.exit_code == 0, result.output
    assert os.path.isfile(tmp_path / "vis" / "visualize.png")
    # nn-classify reaches the library (which wants a conditional run) instead of a usage error.
    result = _invoke(["nn-classify", run, "--dataset", "npz", "--data-dir", npz])
    assert result.exit_code == 1 and "--conditional" in result.output
