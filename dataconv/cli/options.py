"""The command line of the conversions: the run's own switches, and the one builder that
turns any options class (``dataconv.optionspec``: a format's, a check's, the run's) into
click options and click's values back into the typed object."""
from __future__ import annotations

from typing import Any, Iterable, Mapping, TypeVar

import click

# The run's own options are declared beside the run (shared with dataconv.convert).
from dataconv.build.conversion import RUN_ONLY, DedupeOptions, RunOptions  # noqa: F401
from dataconv.build.executors import default_workers
from dataconv.cli.storage import UrlPath
from dataconv.numbers import parse_float, parse_int
from dataconv.outputs.atomic import names_input
from dataconv.optionspec import Choice, Path, Range, Size, SIZE_UNITS, Switch, from_values, parse_size_text, switches

T = TypeVar("T")

def parse_size(ctx: Any, param: Any, value: str | int) -> int:
    """``2GB``, ``512MiB``, ``1000000`` to bytes (binary units)."""
    if isinstance(value, int):
        return value
    try:
        return parse_size_text(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def click_params(cls: type) -> list[click.Parameter]:
    """The click options of an options class (``dataconv.optionspec``), in its order."""
    return [_click_option(s) for s in switches(cls)]


def from_kwargs(cls: type[T], kwargs: Mapping[str, Any]) -> T:
    """The options object of ``cls`` from a click callback's keyword arguments (click has
    already checked and converted every value)."""
    names = {s.name for s in switches(cls)}
    return from_values(cls, {k: v for k, v in kwargs.items() if k in names}, trusted=True)


def _click_option(s: Switch) -> click.Option:
    spec = s.spec
    decls = [*(spec.flags or ("--" + s.name.replace("_", "-"),)), s.name]
    kw: dict[str, Any] = {"help": spec.help, "show_default": spec.show_default,
                          "multiple": spec.multiple, "required": spec.required, "metavar": spec.metavar}
    if not spec.required:
        kw["default"] = s.default
    if s.is_flag:
        kw["is_flag"] = True
    elif spec.type is not None:
        kw["type"] = _click_type(spec.type)
    if isinstance(spec.type, Size):
        kw["callback"] = parse_size
        kw["default"] = size_text(s.default)
    elif spec.check is not None:
        check = spec.check
        kw["callback"] = lambda ctx, param, value: check(value)
    return click.Option(decls, **kw)


def size_text(size: int) -> str:
    """A byte count the way a user writes it (``2GB``), as ``parse_size`` reads it back."""
    for unit in ("TB", "GB", "MB", "KB"):
        if size % SIZE_UNITS[unit.lower()] == 0:
            return f"{size // SIZE_UNITS[unit.lower()]}{unit}"
    return str(size)


def _click_type(kind: Any) -> Any:
    if isinstance(kind, Path) and kind.text_ok:
        return None  # text: input_paths counts it when it names a path
    if isinstance(kind, Path):
        return UrlPath(exists=kind.exists, file_okay=kind.file_okay, dir_okay=kind.dir_okay)
    if isinstance(kind, Choice):
        return click.Choice(kind.values)
    if isinstance(kind, Range) and kind.strict:
        return Number(kind.kind, kind.low, kind.high)
    if isinstance(kind, Range):
        rng = click.IntRange if kind.kind is int else click.FloatRange
        return rng(min=kind.low, max=kind.high, min_open=kind.low_open)
    if isinstance(kind, Size):
        return None
    return kind


def input_paths(ctx: click.Context, exclude: Iterable[str] = ()) -> list[tuple[str, str]]:
    """Every path the running command reads, found from its parameters: the value of each
    ``click.Path`` parameter, and each other text value that names an existing path (a
    ``--charset`` that is a file or the characters themselves, a list file). ``exclude``
    names the parameters that are outputs (or, like ``train --resume``, live in one).
    dataconv.outputs.atomic keeps every output clear of these."""
    found = []
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if param.name in exclude or value is None:
            continue
        label = param.opts[0] if isinstance(param, click.Option) else (param.name or "").upper()
        for v in value if isinstance(value, (tuple, list)) else (value,):
            if names_input(v, isinstance(param.type, click.Path)):
                found.append((label, v))
    return found


def resolve_workers(value: int | None) -> int:
    return value if value else default_workers()


class Number(click.ParamType):
    """A number option parsed strictly (``dataconv.numbers``) within ``[low, high]``: click's
    own INT and FLOAT take ``1_0`` as 10 and FLOAT takes ``nan``, which passes every range
    test. A bad value is a usage error (exit 2)."""

    def __init__(self, kind: type = float, low: float | None = None, high: float | None = None) -> None:
        self.kind, self.low, self.high = kind, low, high
        self.name = kind.__name__

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = value
        else:
            try:
                number = (parse_int if self.kind is int else parse_float)(str(value))
            except ValueError as e:
                self.fail(str(e), param, ctx)
        if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
            self.fail(f"{value} is not in the range {self.low}..{self.high}", param, ctx)
        return self.kind(number)
