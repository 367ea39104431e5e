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
        for args in (["--help"], ["train", "--help"], ["probe", "--help"], ["export", "--help"]):
            assert CliRunner().invoke(cli, args).exit_code == 0, args
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


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


