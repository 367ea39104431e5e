"""One meaning per flag across commands, every option from the schema, and `--data-dir FILE.npz`."""

import importlib
import json
import os
import pkgutil

import click
import numpy as np
from click_option_group._core import _GroupTitleFakeOption
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


def _commands():
    return sorted(cli.commands.items())


def _options(command):
    """The command's options as the user sees them (not click-option-group's section titles)."""
    return [p for p in command.params
            if isinstance(p, click.Option) and not isinstance(p, _GroupTitleFakeOption)]


# Flags that keep one name for a value whose bounds or default fit each command, with why.
EXCEPTIONS = {
    "--n": "each command's count of images, bounded by what it can make or show",
    "--jit": "export's is on|off, default off: an export cannot know its server's XLA flag",
}


def test_json_is_a_path_everywhere():
    for name, command in _commands():
        for param in _options(command):
            if "--json" in param.opts:
                assert not param.is_flag and param.flag_value == "-", name
                assert param.name == "json_path", name


def test_json_and_quiet_on_every_command_that_reports():
    reporting = {"train", "export", "probe", "score", "inspect"}
    for name in reporting:
        flags = {opt for p in _options(cli.commands[name]) for opt in p.opts}
        assert {"--json", "--quiet"} <= flags, name


def test_n_is_one_count_of_images_everywhere():
    for name, command in _commands():
        for param in _options(command):
            if "--n" in param.opts and not param.hidden:
                assert isinstance(param.type, click.types.IntRange), name


def test_a_run_is_the_positional_run_everywhere():
    taking_a_run = set()
    for name, command in _commands():
        for param in command.params:
            if isinstance(param, click.Option):
                assert "--run" not in param.opts, name
            if isinstance(param, click.Argument) and param.metavar in ("RUN", "[RUN]"):
                taking_a_run.add(name)
    assert taking_a_run == {"train", "export", "forget", "nn-classify", "visualize", "explore"}


def test_data_dir_accepts_a_file_everywhere():
    for name, command in _commands():
        for param in _options(command):
            if "--data-dir" in param.opts:
                assert isinstance(param.type, click.Path), name
                assert param.type.file_okay and param.type.dir_okay, name


def test_no_flag_is_accepted_and_ignored():
    # `probe --svm` used to be `expose_value=False`: every option must reach the command.
    for name, command in _commands():
        for param in _options(command):
            assert param.expose_value or param.name in ("help", "version"), (name, param.name)


def test_every_option_has_help_and_comes_from_the_schema():
    from dcgan_tf.options import OPTIONS

    for name, command in _commands():
        for param in _options(command):
            if param.name == "help":
                continue
            assert param.help and len(param.help) > 10, (name, param.opts)
            declared = getattr(param, "schema", None)
            assert declared is not None, f"{name} {param.opts}: declared by hand in cli/"
            assert declared.name in OPTIONS and declared.flag_name == param.opts[0], (name, param.opts)


def test_no_flag_has_two_types_defaults_or_meanings():
    """One declaration per flag: the same type, default, metavar and help in every command."""
    import dataclasses
    import re

    from click._utils import UNSET

    from dcgan_tf.options import OPTIONS

    seen = {}
    for name, command in _commands():
        for param in _options(command):
            if param.name == "help":
                continue
            declared = param.schema
            # A config field's option defaults to None in Click (so that a value not given is
            # told from one given) and shows the declared default in its help instead.
            default = param.default if param.default not in (None, UNSET) else declared.default
            shown = (type(param.type).__name__, getattr(param.type, "choices", None),
                     getattr(param.type, "min", None), getattr(param.type, "max", None),
                     param.metavar, re.sub(r"\s+\[default: [^]]*\]$", "", param.help))
            seen.setdefault(param.opts[0], {}).setdefault(
                (declared, shown, default), []).append(name)
    conflicting = {flag for flag, uses in seen.items() if len(uses) > 1}
    assert conflicting <= set(EXCEPTIONS), {f: seen[f] for f in conflicting - set(EXCEPTIONS)}
    assert len(EXCEPTIONS) <= 3
    # Each exception differs from the one declaration only where its reason says.
    for flag in EXCEPTIONS:
        declarations = {d for d, _, _ in seen.get(flag, {})}
        base = {OPTIONS[d.name] for d in declarations}
        assert len(base) == 1, flag
        fields = {f.name for d in declarations for f in dataclasses.fields(d)
                  if getattr(d, f.name) != getattr(next(iter(base)), f.name)}
        assert fields <= {"low", "high", "default", "choices"}, (flag, fields)
    # One name per meaning: each declaration has one flag, and one flag one declaration.
    flags = {}
    for opt in OPTIONS.values():
        assert opt.flag_name.startswith("--") or opt.flag_name == "RUN", opt.name
        assert flags.setdefault(opt.flag_name, opt.name) == opt.name, opt.flag_name


def test_train_help_shows_named_groups():
    result = CliRunner().invoke(cli, ["train", "--help"])
    assert result.exit_code == 0, result.output
    options = result.output.split("\nOptions:\n", 1)[1]
    sections = [line.strip().rstrip(":") for line in options.splitlines()
                if line.startswith("  ") and not line.startswith("   ") and line.strip().endswith(":")]
    assert sections[:7] == ["Data", "Model", "Recipe (presets of departures from the paper)",
                            "Optimisation", "Speed", "Output", "Run"], sections


def test_interpolate_walks(capture, tmp_path):
    from dcgan_tf.investigations import latent

    calls = capture(latent, "interpolate")
    model = str(tmp_path)
    new = _invoke(["interpolate", "--model", model, "--out", "o", "--walk-indices", "3,17",
                   "--walk-indices", "5,9,12", "--num-walks", "2"])
    assert new.exit_code == 1 and "captured" in new.output
    assert calls[0][0][2].walks == [[3, 17], [5, 9, 12]]
    assert calls[0][0][2].num_walks == 2
    # The old spellings are gone (no hidden aliases).
    old = _invoke(["interpolate", "--model", model, "--out", "o", "--walks", "2"])
    assert old.exit_code == 2 and "No such option '--walks'" in old.output
    bad = _invoke(["interpolate", "--model", model, "--out", "o", "--walk-indices", "3,x"])
    assert bad.exit_code == 2 and "comma-separated integers" in bad.output and not calls[1:]


def test_visualize_d_channels_and_positional_run(capture, tmp_path):
    from dcgan_tf.investigations import visualize

    calls = capture(visualize, "visualize")
    run = str(tmp_path)
    new = _invoke(["visualize", run, "--out", "o", "--d-channels", "0,3", "--num-d-channels", "2"])
    assert new.exit_code == 1, new.output
    assert calls[0][0][0] == run and calls[0][0][2].channels == [0, 3]
    assert calls[0][0][2].num_channels == 2
    old = _invoke(["visualize", "--run", run, "--out", "o"])
    assert old.exit_code == 2 and "No such option '--run'" in old.output
    missing = _invoke(["visualize", "--out", "o"])
    assert missing.exit_code == 2 and "Missing argument 'RUN'" in missing.output


def test_nn_classify_sizes_and_positional_run(capture, tmp_path):
    from dcgan_tf.investigations import nn_classify

    calls = capture(nn_classify, "nn_classify")
    run = str(tmp_path)
    new = _invoke(["nn-classify", run, "--sizes", "10,20", "--out", "o"])
    assert new.exit_code == 1, new.output
    assert calls[0][0][0] == run and calls[0][0][1] == "o"
    assert calls[0][0][2].sizes == (10, 20)
    missing = _invoke(["nn-classify", run, "--sizes", "10,20"])
    assert missing.exit_code == 2 and "--out" in missing.output


def test_sample_request_format(capture, tmp_path):
    from dcgan_tf.serving import clients

    calls = capture(clients, "open_client")
    new = _invoke(["sample", "--model", str(tmp_path), "--request-format", "columnar"])
    assert new.exit_code == 1, new.output
    assert calls[0][1]["request_format"] == "columnar"
    old = _invoke(["sample", "--model", str(tmp_path), "--format", "columnar"])
    assert old.exit_code == 2 and "No such option '--format'" in old.output


def test_export_jit_is_on_or_off_and_says_its_default(capture, tmp_path):
    from dcgan_tf.export import bundle

    calls = capture(bundle, "export_formats")
    run = str(tmp_path)
    results = [_invoke(["export", run, *flags]) for flags in
               ([], ["--jit", "on"], ["--jit", "off"])]
    assert all(r.exit_code == 1 for r in results), results[-1].output
    assert [kwargs["config"].jit for _, kwargs in calls] == [False, True, False]
    for value in ("auto", "maybe"):
        bad = _invoke(["export", run, "--jit", value])
        assert bad.exit_code == 2 and "'on', 'off'" in bad.output
    shown = CliRunner().invoke(cli, ["export", "--help"]).output
    assert "--jit [on|off]" in shown and "[default: off]" in " ".join(shown.split())


def test_probe_classifier_is_the_svm(capture, tmp_path):
    from dcgan_tf.probe import run as probe_run

    calls = capture(probe_run, "run_probe")
    common = ["probe", "--model", str(tmp_path), "--dataset", "digits"]
    results = [_invoke(common + flags) for flags in ([], ["--classifier", "svm"])]
    assert [r.exit_code for r in results] == [1, 1], results[1].output
    assert calls[0] == calls[1]
    bad = _invoke(common + ["--classifier", "knn"])
    assert bad.exit_code == 2 and "svm" in bad.output
    assert _invoke(common + ["--svm"]).exit_code == 2


def test_probe_label_seed_is_the_draws_seed(capture, tmp_path):
    from dcgan_tf.probe import run as probe_run

    calls = capture(probe_run, "run_probe")
    result = _invoke(["probe", "--model", str(tmp_path), "--dataset", "digits", "--label-seed",
                      "4", "--labels", "all", "--feature-batch-size", "8"])
    assert result.exit_code == 1, result.output
    cfg = calls[0][0][3]
    assert cfg.seed == 4 and cfg.labels is None and cfg.batch_size == 8


def test_score_json_to_stdout(monkeypatch, tmp_path):
    from dcgan_tf.scoring import score

    monkeypatch.setattr(score, "score_savedmodel", lambda *a, **k: {"fid": 1.5, "n": 4})
    monkeypatch.setattr(score, "format_report", lambda report: "FID 1.5")
    result = CliRunner().invoke(cli, ["score", "--model", str(tmp_path), "--dataset", "digits",
                                      "--json", "-"])
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
    result = _invoke(["nn-classify", run, "--dataset", "npz", "--data-dir", npz, "--out",
                      str(tmp_path / "nn")])
    assert result.exit_code == 1 and "--conditional" in result.output


def test_classifier_epochs_help_names_the_step_cap_the_space_trains_under():
    from dcgan_tf.metrics.features import ClassifierConfig
    from dcgan_tf.options import OPTIONS

    assert f"at most {ClassifierConfig.max_steps} steps" in OPTIONS["classifier_epochs"].help
