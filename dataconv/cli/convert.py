"""``dataconv <format>``: the conversion command of one source format.

Its switches come from four options classes, in this order on the command line: the run's
(``options.RunOptions``), the format's (``Converter.Options``), ``--dedupe``
(``options.DedupeOptions``) and every check's (``validators.base.option_classes``). The
callback turns click's values into those typed objects once, and everything past it
reads the objects.
"""
from __future__ import annotations

import os
from typing import Any

import click

from dataconv.build import conversion
from dataconv.cli import options
from dataconv.cli.commands._extras import require
from dataconv.converters import base as converters
from dataconv.io.remote import is_url
from dataconv.optionspec import switches
from dataconv.outputs.summary import format_summary
from dataconv.validators.base import CheckOptions, option_classes


def convert_command(name: str) -> click.Command:
    """The command of format ``name``, importing that format's module only."""
    info = converters.load(name)
    assert info is not None, name  # the group offers only the names of dataconv.converters.MODULES
    checks = option_classes()
    _refuse_clashes(info, checks)

    def callback(**kw: Any) -> None:
        run = options.from_kwargs(options.RunOptions, kw)
        fmt = options.from_kwargs(info.cls.Options, kw)
        dedupe = options.from_kwargs(options.DedupeOptions, kw)
        check_options = CheckOptions(tuple(options.from_kwargs(cls, kw) for cls in checks))
        convert(info, run, fmt, dedupe, check_options,
                options.input_paths(click.get_current_context(), exclude={"out"}))

    classes = [options.RunOptions, info.cls.Options, options.DedupeOptions, *checks]
    return click.Command(info.name, callback=callback,
                         params=[p for cls in classes for p in options.click_params(cls)],
                         help=f"{info.help}\n\nExample: {info.example}", short_help=info.help)


def convert(info: converters.FormatInfo, run: options.RunOptions, fmt: Any,
            dedupe: options.DedupeOptions, checks: CheckOptions, inputs: list[tuple[str, str]]) -> None:
    """Run the conversion (``dataconv.build.conversion``), print the summary (and write
    the report if asked)."""
    report = run.report and info.cls.output == "lmdb"
    if report:  # before any work: the report comes last
        require("report", "matplotlib")
    card, converter = conversion.convert(info, run, fmt, dedupe, checks, inputs)
    click.echo(format_summary(card, run.out if is_url(run.out) else os.path.abspath(run.out)))
    if report:
        from dataconv.reporting.report import report_after_conversion  # imports matplotlib

        for path in report_after_conversion(converter, run.out):
            click.echo(f"  report: {path}")


def _refuse_clashes(info: converters.FormatInfo, checks: list[type]) -> None:
    """A format may not declare a switch the run or a check already has."""
    common = {s.name for cls in (options.RunOptions, options.DedupeOptions, *checks) for s in switches(cls)}
    clash = common & {s.name for s in switches(info.cls.Options)}
    if clash:
        raise RuntimeError(f"format {info.name!r} redefines common options {sorted(clash)}")
