"""`--json PATH` in every command: the full report to PATH, or to stdout with '-'."""

import json

import click

from dcgan_tf.atomic import save_json


def json_option(help_text="Write the full report here as JSON ('-': stdout)."):
    """The `--json PATH` option; a bare `--json` (no PATH) means stdout.

    Returns:
        A decorator, like `click.option`'s; the value arrives as `json_path`.
    """
    return click.option("--json", "json_path", type=str, is_flag=False, flag_value="-",
                        metavar="PATH", help=help_text)


def echo_summary(text, json_path):
    """Prints the human-readable summary: on stderr when the JSON report goes to stdout."""
    click.echo(text, err=json_path == "-")


def write_json(payload, json_path):
    """Writes `payload` to `json_path` atomically, or prints it when the path is '-'."""
    if json_path is None:
        return
    if json_path == "-":
        click.echo(json.dumps(payload, indent=2, sort_keys=True))
        return
    save_json(json_path, payload)
    click.echo(f"Report: {json_path}")
