"""Old flag spellings kept for one release: hidden options that print a one-line notice.

A renamed flag keeps working: `old_option("--walks", "old_walks", new="--num-walks")` adds a
hidden `--walks` whose value arrives as `old_walks`; the command then calls
`prefer(num_walks, old_walks, "num_walks", "--num-walks", "--walks")`. A run directory given as
`--run DIR` (the old way) becomes the positional RUN through `run_argument`.
"""

import functools

import click
from click.core import ParameterSource


def notice(old, new):
    """Prints the one-line deprecation notice for `old` (on stderr, so output stays clean)."""
    click.echo(f"Deprecated: {old} is now {new}; {old} will be removed in the next release.",
               err=True)


def _given(value):
    if isinstance(value, (tuple, list)):
        return len(value) > 0
    return value is not None and value is not False


def old_option(flag, dest, *, new, **kwargs):
    """A hidden option for the old spelling `flag` of `new`; its value arrives as `dest`.

    Args:
        flag: The old flag, e.g. "--walks".
        dest: The function argument it fills, e.g. "old_walks".
        new: The flag that replaces it, named in the notice.
        **kwargs: Passed to `click.option` (type, multiple, is_flag, ...).

    Returns:
        A decorator, like `click.option`'s.
    """

    def callback(ctx, param, value):
        if _given(value) and not ctx.resilient_parsing:
            notice(flag, new)
        return value

    return click.option(flag, dest, hidden=True, callback=callback, **kwargs)


def prefer(value, old_value, name, new_flag, old_flag):
    """The value of a renamed flag: the new one's, or the old spelling's when only that was given.

    Args:
        value: The new option's value (its default when not given).
        old_value: The old option's value (None, False or () when not given).
        name: The new option's parameter name, to tell a given value from its default.
        new_flag, old_flag: The two spellings, for the error.

    Returns:
        The value to use.

    Raises:
        click.UsageError: When both spellings were given.
    """
    if not _given(old_value):
        return value
    source = click.get_current_context().get_parameter_source(name)
    if source not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP):
        raise click.UsageError(f"Pass {new_flag} or its old spelling {old_flag}, not both.")
    return old_value


def run_argument(help_text, **path_kwargs):
    """The positional RUN (a run directory of `dcgan-tf train`), with `--run RUN` deprecated.

    The decorated function receives `run_dir`.

    Args:
        help_text: What the run is used for; shown in the command's help.
        **path_kwargs: Passed to `click.Path` for both spellings.

    Returns:
        A decorator for a click command function.
    """
    path = click.Path(exists=True, file_okay=False, **path_kwargs)

    def decorate(f):
        @functools.wraps(f)
        def wrapper(*args, run_dir=None, old_run=None, **kwargs):
            if run_dir is not None and old_run is not None:
                raise click.UsageError("Pass the run as RUN or as --run RUN, not both.")
            if run_dir is None and old_run is None:
                raise click.UsageError(f"Missing argument 'RUN': {help_text}")
            return f(*args, run_dir=run_dir if run_dir is not None else old_run, **kwargs)

        wrapper = old_option("--run", "old_run", new="the positional RUN", type=path)(wrapper)
        return click.argument("run_dir", metavar="RUN", required=False, type=path)(wrapper)

    return decorate
