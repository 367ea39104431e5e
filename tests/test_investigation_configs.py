"""The investigations' settings default to their commands' flags (the Python API is the CLI's)."""

import dataclasses

import pytest

from dcgan_tf.investigations import configs
from dcgan_tf_cli import investigate

COMMANDS = {
    "interpolate": configs.InterpolateConfig, "arithmetic": configs.ArithmeticConfig,
    "nearest": configs.NearestConfig, "visualize": configs.VisualizeConfig,
    "forget": configs.ForgetConfig, "dedup": configs.DedupConfig,
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_config_defaults_are_the_command_defaults(name):
    # What the command function receives when no flag is given.
    given = getattr(investigate, name).make_context(name, [], resilient_parsing=True).params
    fields = [f for f in dataclasses.fields(COMMANDS[name]) if "option" in f.metadata]
    assert fields
    for f in fields:
        value = given[f.metadata["option"].name]
        assert value == f.default, (name, f.name, value, f.default)


def test_the_choices_a_command_turns_into_config_values():
    assert configs.InterpolateConfig().methods == configs.METHODS  # --method both
    assert configs.VisualizeConfig().channels is None  # no --d-channels
    assert configs.InterpolateConfig().walks is None  # no --walk-indices
