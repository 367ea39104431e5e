"""Click options generated from `dcgan_tf.options`: no command declares an option by hand.

`options("dataset", "data_dir", ...)` adds the declared options to a command, in named `--help`
sections (click-option-group's `OptionGroup`, one per `dcgan_tf.options.GROUPS` key). A value
is checked at parse time by the declaration's own `validate`, so the command line and the
library refuse the same values with the same words.
"""

import dataclasses
import importlib

import click
from click_option_group import OptionGroup

from dcgan_tf import options as O
from dcgan_tf import paths

# Commands that state config fields pass `None` for an option not given, so that the
# config's own default (or a recipe's value) applies; --help still shows the default.
_PATHS = {"dir": dict(file_okay=False), "file": dict(dir_okay=False), "any": {},
          "existing-dir": dict(exists=True, file_okay=False),
          "existing-file": dict(exists=True, dir_okay=False)}


def _fail(opt, param, ctx, error):
    raise click.BadParameter(str(error).splitlines()[0], ctx=ctx, param=param) from None


class _Checked:
    """Mix-in: after Click's own conversion, the declaration's `validate`."""

    def __init__(self, opt, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.opt = opt

    def convert(self, value, param, ctx):
        if isinstance(value, str) and value in self.opt.words:
            return value
        try:
            value = super().convert(value, param, ctx)
        except click.BadParameter:
            if self.opt.type in (int, float):
                try:
                    number = self.opt.type(value)
                except (TypeError, ValueError):
                    raise click.BadParameter(self._expected(value), ctx=ctx, param=param) from None
                try:
                    self.opt.validate(number)
                except ValueError as e:
                    _fail(self.opt, param, ctx, e)
            raise
        try:
            return self.opt.validate(value)
        except ValueError as e:
            _fail(self.opt, param, ctx, e)

    def _expected(self, value):
        kind = "an integer" if self.opt.type is int else "a number"
        words = "".join(f" or {w!r}" for w in self.opt.words)
        name = self.opt.name
        return f"Expected `{name}` to be {kind}{words}. Received: {name}={value!r}"


class CheckedInt(_Checked, click.IntRange):
    """`click.IntRange` whose refusals say the declared range."""


class CheckedFloat(_Checked, click.FloatRange):
    """`click.FloatRange` whose refusals say the declared range."""


class CheckedText(_Checked, click.types.StringParamType):
    """Free text checked by the declaration (a model name, a policy list)."""


class CheckedNumberOrWord(_Checked, click.types.StringParamType):
    """A number, or one of the declaration's words (`auto`, `all`)."""

    def convert(self, value, param, ctx):
        if value in self.opt.words:
            return value
        try:
            number = self.opt.type(value)
        except (TypeError, ValueError):
            raise click.BadParameter(self._expected(value), ctx=ctx, param=param) from None
        try:
            return self.opt.validate(number)
        except ValueError as e:
            _fail(self.opt, param, ctx, e)


class CheckedPath(_Checked, click.Path):
    """A path checked by its declaration first (its names fit the filesystem), then by
    `click.Path` (existence and kind)."""

    def convert(self, value, param, ctx):
        try:
            self.opt.validate(value)
        except ValueError as e:
            _fail(self.opt, param, ctx, e)
        return click.Path.convert(self, value, param, ctx)


class NamedPath(click.Path):
    """A positional path (RUN, PATH) whose names fit the filesystem, checked before `exists`."""

    def convert(self, value, param, ctx):
        try:
            paths.check_name_lengths(value, param.name if param else "path")
        except ValueError as e:
            raise click.BadParameter(str(e), ctx=ctx, param=param) from None
        return super().convert(value, param, ctx)


class CheckedChoice(_Checked, click.Choice):
    """A choice; integer choices arrive as integers."""

    def convert(self, value, param, ctx):
        value = click.Choice.convert(self, str(value), param, ctx)
        value = self.opt.type(value) if self.opt.type is int else value
        try:
            return self.opt.validate(value)
        except ValueError as e:
            _fail(self.opt, param, ctx, e)


def click_type(opt):
    """The Click parameter type of a declaration."""
    if opt.choices_from is not None:
        module, name = opt.choices_from.split(":")
        opt = dataclasses.replace(opt, choices=getattr(importlib.import_module(module), name))
    if opt.choices is not None:
        return CheckedChoice(opt, [str(c) for c in opt.choices])
    if opt.path is not None:
        return CheckedPath(opt, **_PATHS[opt.path])
    if opt.words:
        return CheckedNumberOrWord(opt)
    if opt.type is int:
        return CheckedInt(opt, min=opt.low, max=opt.high, min_open=opt.low_open,
                          max_open=opt.high_open)
    if opt.type is float:
        return CheckedFloat(opt, min=opt.low, max=opt.high, min_open=opt.low_open,
                            max_open=opt.high_open)
    if opt.type is bool:
        return click.BOOL
    return CheckedText(opt)


def _help(opt, stated):
    """The help line; for a stated option (default `None` in Click) it names the default."""
    text = opt.help
    if opt.words and opt.type in (int, float):
        text += f" Range: {opt.bounds()}, or {' or '.join(opt.words)}."
    if stated and opt.default not in (None, False, "") and "Default:" not in text:
        text += f"  [default: {opt.default}]"
    return text


def click_option(opt, stated=False, required=False):
    """The `click.Option` keyword arguments of a declaration.

    Args:
        opt: The `dcgan_tf.options.Option`.
        stated: Default to `None`, so that a value not given is told from one given (for
            config fields: the config's default or a recipe's value applies).
        required: The command needs it.

    Returns:
        `(param_decls, attrs)` for `click.option` / `OptionGroup.option`.
    """
    attrs = dict(help=_help(opt, stated), required=required)
    flag = opt.flag_name
    if opt.is_flag:
        return (flag, opt.name), dict(attrs, is_flag=True, default=False)
    if opt.negatable:
        negative = "--no-" + flag[2:]
        default = None if stated else opt.default
        return (f"{flag}/{negative}", opt.name), dict(attrs, default=default,
                                                        show_default=not stated)
    if opt.name == "json_path":  # A bare --json means stdout.
        attrs.update(is_flag=False, flag_value="-")
    attrs.update(type=click_type(opt), multiple=opt.multiple, metavar=opt.metavar)
    if not stated and not opt.multiple and opt.default is not None:
        attrs.update(default=opt.default, show_default=True)
    return (flag, opt.name), attrs


def options(*names, stated=(), required=(), **overrides):
    """Adds the declared options `names` to a command, in `--help` sections by group.

    Args:
        *names: Option names (`dcgan_tf.options.OPTIONS` keys).
        stated: Names that default to `None` (config fields: see `click_option`).
        required: Names the command cannot do without.
        **overrides: Per-name dicts of declaration fields that differ for this command
            (only `n`'s bounds and default: each command's count fits what it makes).

    Returns:
        A decorator for a Click command function.
    """
    declared = []
    for name in names:
        opt = O.option(name)
        if name in overrides:
            opt = dataclasses.replace(opt, **overrides[name])
        declared.append(opt)

    def decorate(f):
        by_group = {}
        for opt in declared:
            by_group.setdefault(opt.group, []).append(opt)
        # Click applies decorators bottom-up: the last group applied shows first.
        for group in reversed([g for g in O.GROUPS if g in by_group]):
            section = OptionGroup(O.GROUPS[group])
            for opt in reversed(by_group[group]):
                decls, attrs = click_option(opt, opt.name in stated, opt.name in required)
                f = section.option(*decls, **attrs)(f)
                for param in f.__click_params__:
                    if param.name == opt.name:
                        param.schema = opt  # What the option was generated from (tests).
        return f

    return decorate


def argument(name, metavar, *, exists=True, required=True):
    """A positional path argument: a run directory (RUN) or an export (PATH).

    Args:
        name: The function argument it fills.
        metavar: What usage shows.
        exists: The directory must exist.
        required: Whether it may be left out.
    """
    kind = dict(exists=True, file_okay=False) if exists else dict(file_okay=False)
    return click.argument(name, metavar=metavar, required=required, type=NamedPath(**kind))


def given(ctx, names):
    """The values of options `names` the command line gave (for config fields: not `None`)."""
    values = {}
    for name in names:
        value = ctx.params.get(name)
        if value is not None and value != () and not (
                ctx.get_parameter_source(name) == click.core.ParameterSource.DEFAULT
                and value is False):
            values[name] = value
    return values
