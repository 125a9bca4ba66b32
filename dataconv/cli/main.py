"""The ``dataconv`` command: one click group, one subcommand per source format, plus the
commands in ``dataconv/cli/commands/`` (validate, charset, report, train, export, ...).

Both kinds are discovered: a new format or command module needs no change here.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from typing import Any

import click

from dataconv import __version__
from dataconv.build import interrupts
from dataconv.outputs import manifest
from dataconv.cli import options
from dataconv.cli.commands._extras import require
from dataconv.converters import base as converters
from dataconv.errors import DataconvError
from dataconv.outputs.atomic import check_target, input_paths
from dataconv.build import pipeline
from dataconv.build.pipeline import Config
from dataconv.outputs.summary import format_summary
from dataconv.build import splits as splitter
from dataconv.validators.base import check_options


class Group(click.Group):
    """Turns DataconvError and OS errors into one line on stderr and exit code 1, and a
    stop signal (SIGINT, SIGTERM, SIGHUP), once the command has cleaned up after itself,
    into one line and exit code 128 + the signal's number (dataconv/build/interrupts.py)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with interrupts.handled():
                return super().invoke(ctx)
        except interrupts.Interrupted as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(e.exit_code)
        except DataconvError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except OSError as e:
            click.echo(f"error: {e.filename or ''}: {e.strerror or e}".replace(": : ", ": "), err=True)
            sys.exit(1)


def _convert_command(info: converters.FormatInfo) -> click.Command:
    common = options.param_names(options.COMMON_OPTIONS)
    checks = check_options()
    check_names = options.param_names(checks)
    fmt_names = options.param_names(info.cls.options)
    clash = (set(common) | set(check_names)) & set(fmt_names)
    if clash:
        raise RuntimeError(f"format {info.name!r} redefines common options {sorted(clash)}")

    def callback(**kw: Any) -> None:
        if kw["report"] and info.cls.output == "lmdb":  # before any work: the report comes last
            require("report", "matplotlib")
        check_target(os.path.abspath(kw["out"]), kw["overwrite"],
                     input_paths(click.get_current_context(), exclude={"out"}))
        fmt_opts = {k: kw[k] for k in fmt_names}
        check_opts = {k: kw[k] for k in check_names}
        recorded = {k: v for k, v in kw.items() if k not in options.RUN_ONLY}
        config = Config(
            src=kw["src"], out=kw["out"], overwrite=kw["overwrite"],
            split=splitter.parse_ratios(kw["split"]), seed=kw["seed"],
            group_by=kw["group_by"], group_regex=kw["group_regex"],
            shard_size=kw["shard_size"], shard_bytes=kw["shard_bytes"], layout=kw["layout"],
            workers=options.resolve_workers(kw["workers"]), dask=kw["dask"],
            follow_symlinks=kw["follow_symlinks"],
            check_opts=check_opts, progress=not kw["quiet"],
            manifest_options=manifest.portable_options(recorded, kw["src"]),
        )
        converter = info.cls(kw["src"], fmt_opts, follow_symlinks=kw["follow_symlinks"])
        card = pipeline.run(converter, config)
        click.echo(format_summary(card, os.path.abspath(kw["out"])))
        if kw["report"] and info.cls.output == "lmdb":
            from dataconv.reporting.build import report_after_conversion  # imports matplotlib

            click.echo(f"  report: {report_after_conversion(converter, kw['out'])}")

    fn = options.apply(options.COMMON_OPTIONS + list(info.cls.options) + checks, callback)
    return click.Command(info.name, callback=fn, params=fn.__click_params__[::-1],
                         help=f"{info.help}\n\nExample: {info.example}", short_help=info.help)


def _extra_commands() -> list[click.Command]:
    import dataconv.cli.commands as pkg

    found = []
    for mod in pkgutil.iter_modules(pkg.__path__):
        if not mod.name.startswith("_"):
            module = importlib.import_module(f"{pkg.__name__}.{mod.name}")
            found.extend(getattr(module, "COMMANDS", []))
    return found


HELP = """Turn OCR annotation datasets into validated, split, sharded LMDB datasets that
clovaai, PARSeq, MMOCR and PaddleOCR read unchanged, and check what a trainer would drop.

\b
Convert:   dataconv <format> -i SRC -o OUT      (dataconv formats lists them)
Check:     dataconv validate OUT --for parseq --charset dict.txt
Look:      dataconv report OUT -o report.html
Train:     dataconv train OUT --out RUN; dataconv export RUN/checkpoints/best.ckpt -o m.onnx
"""


def build_cli() -> click.Group:
    group = Group(name="dataconv", help=HELP)
    group = click.version_option(__version__, prog_name="dataconv")(group)
    for info in converters.formats().values():
        group.add_command(_convert_command(info))
    for command in _extra_commands():
        group.add_command(command)
    return group


cli = build_cli()


def main() -> None:
    cli(prog_name="dataconv")


if __name__ == "__main__":
    main()
