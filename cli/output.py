"""`--json PATH` and `--quiet` of every command that reports: the full report to PATH (or
stdout with '-'), the human-readable summary on stdout (stderr when the JSON goes there)."""

import json

import click

from dcgan_tf.atomic import save_json


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
