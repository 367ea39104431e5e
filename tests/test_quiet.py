"""Quiet by default: no TensorFlow start-up lines, one line on what `auto` chose, fast --help."""

import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python(code, env=None):
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=600)


def test_help_does_not_import_tensorflow():
    result = _python("""
        import sys
        from click.testing import CliRunner
        from dcgan_tf_cli.main import cli
        for args in (["--help"], *([name, "--help"] for name in sorted(cli.commands))):
            assert CliRunner().invoke(cli, args).exit_code == 0, args
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _parse_time_refusals(cases):
    """Invokes each argument list in one fresh process: the last output lines, exit code first.

    The last item is the list of TensorFlow or Keras modules the process imported.
    """
    result = _python(f"""
        import sys
        from click.testing import CliRunner
        from dcgan_tf_cli.main import cli
        for args in {cases!r}:
            result = CliRunner().invoke(cli, args)
            print(result.exit_code, result.output.strip().splitlines()[-1])
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")))
    """)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def test_out_of_range_inputs_are_refused_before_tensorflow_starts():
    """A long name, a huge seed, too few images: one line with the range, at parse time."""
    *lines, imported = _parse_time_refusals([
        ["export", ".", "--name", "x" * 300],
        ["sample", "--model", ".", "--seed", str(2**63 - 2)],
        ["train", "--seed", str(2**63 - 2), "--dry-run"],
        ["score", "--model", ".", "--n", "4"],
        ["explore", "--server", "http://127.0.0.1:9", "--name", "x" * 300],
        ["train", "--image-size", "48"],
        ["probe", "--model", ".", "--labels", "lots"]])
    assert imported == "[]"
    assert all(line.startswith("2 Error: Invalid value for") for line in lines), lines
    name, seed, train_seed, n, server_name, size, labels = lines
    assert "1 to 200 letters" in name and "(300 characters)" in name
    assert "Expected `seed` in [0, 2147483647]" in seed and "Received: seed=9223372036854775806" in seed
    assert "in [0, 2147483647]" in train_seed
    assert "Expected `n` >= 10. Received: n=4" in n
    assert "1 to 200 letters" in server_name
    assert "power of 2" in size and "Received: image_size=48" in size
    assert "Expected `labels` to be an integer or 'all'" in labels


def test_names_longer_than_the_filesystem_takes_are_refused_before_tensorflow_starts():
    """A 300-byte file or folder name in any path: the bound, at parse time (not Errno 36)."""
    long = "/tmp/" + "a" * 300
    *lines, imported = _parse_time_refusals([
        ["train", long],
        ["sample", "--model", ".", "--out-file", long + ".png"],
        ["probe", "--model", ".", "--json", long + ".json"],
        ["interpolate", "--model", ".", "--out", long],
        ["inspect", long],
        ["score", "--model", long + "/1"]])
    assert imported == "[]"
    assert len(lines) == 6 and all(line.startswith("2 Error: Invalid value for") for line in lines)
    assert all("to be at most 255 bytes (the filesystem's limit)" in line and "Errno" not in line
               for line in lines), lines


def test_help_states_the_real_bounds():
    from click.testing import CliRunner

    from dcgan_tf_cli.main import cli

    shown = " ".join(CliRunner().invoke(cli, ["score", "--help"]).output.split())
    assert "--n INTEGER RANGE" in shown and "x>=10" in shown
    shown = " ".join(CliRunner().invoke(cli, ["sample", "--help"]).output.split())
    assert "0<=x<=2147483647" in shown and "1<=x<=4096" in shown
    shown = " ".join(CliRunner().invoke(cli, ["export", "--help"]).output.split())
    assert "at most 200 characters" in shown


@pytest.mark.slow
def test_tensorflow_starts_without_log_lines():
    result = _python("""
        from dcgan_tf_cli.quiet import import_tensorflow
        import_tensorflow()
        import tensorflow as tf
        tf.config.list_physical_devices("GPU")
        tf.constant(1.0) + 1.0
        print("ok")
    """)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
    assert result.stderr == ""


