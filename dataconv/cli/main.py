"""The ``dataconv`` command: one click group, one subcommand per source format
(``dataconv/cli/convert.py``), plus the commands in ``dataconv/cli/commands/`` (validate,
charset, report, train, export, ...).

Subcommands load lazily: every name is known without importing anything (the formats from
``dataconv.converters.MODULES``, the other commands from the module names in
``dataconv/cli/commands/``, each module's command named as its module), and a command's
module is imported only when that command runs or its help is shown. So ``dataconv
--version`` and ``dataconv validate`` import no converter and no OpenCV.
"""
from __future__ import annotations

import functools
import importlib
import pkgutil
import sys
from typing import Any, Callable, Iterator, MutableMapping

import click

from dataconv import __version__
from dataconv.build import interrupts
from dataconv.errors import DataconvError, UsageError
from dataconv.io.remote import redact


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
            click.echo(redact(f"error: {e}"), err=True)
            sys.exit(1)
        except OSError as e:
            click.echo(redact(f"error: {e.filename or ''}: {e.strerror or e}".replace(": : ", ": ")), err=True)
            sys.exit(1)


class LazyCommands(MutableMapping[str, click.Command]):
    """The group's command table (click's ``Group.commands``, read by its ``get_command``
    and ``list_commands``): every name listed up front, each command built the first time
    it is looked up."""

    def __init__(self, loaders: dict[str, Callable[[], click.Command]]) -> None:
        self._loaders = loaders
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            if name not in self._loaders:
                raise KeyError(name)
            self._loaded[name] = repeats_refused(usage_errors_reported(self._loaders[name]()))
        return self._loaded[name]

    def __contains__(self, name: object) -> bool:
        return name in self._loaders or name in self._loaded

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        self._loaders.pop(name, None)
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(set(self._loaders) | set(self._loaded)))

    def __len__(self) -> int:
        return len(set(self._loaders) | set(self._loaded))


def storage_added(command: click.Command) -> click.Command:
    """Every command but the conversions (whose ``--storage-options`` is a ``RunOptions``
    switch) takes ``--storage-options`` and ``--cache`` (``dataconv.cli.storage``)."""
    from dataconv.cli.storage import storage_params

    command.params.extend(storage_params())
    return command


def usage_errors_reported(command: click.Command) -> click.Command:
    """Make ``dataconv.errors.UsageError`` (raised outside the CLI, which imports no click)
    read exactly as click's own usage errors: the command's usage line, exit code 2."""
    callback = command.callback
    if callback is not None:
        @functools.wraps(callback)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            except UsageError as e:
                raise click.UsageError(str(e)) from None

        command.callback = run
    return command


def repeats_refused(command: click.Command) -> click.Command:
    """A single-valued option given twice is a usage error naming it: click keeps the last
    value silently, and ``-i A -i B`` would convert B alone while the user believes both
    were. Flags (the same value twice) and ``multiple`` options may repeat."""
    parse_args = command.parse_args

    def checked(ctx: click.Context, args: list[str]) -> list[str]:
        if not ctx.resilient_parsing:
            _, _, order = command.make_parser(ctx).parse_args(args=list(args))
            seen: set[str] = set()
            for param in order:
                if isinstance(param, click.Option) and not (param.multiple or param.count or param.is_flag):
                    if param.name in seen:
                        raise click.UsageError(repeated_message(param), ctx)
                    seen.add(param.name or "")
        return parse_args(ctx, args)

    command.parse_args = checked  # type: ignore[method-assign]
    return command


def repeated_message(param: click.Option) -> str:
    name = " / ".join(param.opts)
    more = "; to read several sources, give --also-input PATH for each of the others" if "-i" in param.opts else ""
    return f"option {name} given more than once (it takes one value){more}"


def _format_loaders() -> dict[str, Callable[[], click.Command]]:
    from dataconv.converters import MODULES

    def load(name: str) -> click.Command:
        from dataconv.cli.convert import convert_command  # imports the pipeline

        return convert_command(name)

    return {name: functools.partial(load, name) for name in MODULES}


def _command_loaders() -> dict[str, Callable[[], click.Command]]:
    import dataconv.cli.commands as pkg

    def load(module_name: str) -> click.Command:
        module = importlib.import_module(f"{pkg.__name__}.{module_name}")
        return storage_added(next(c for c in module.COMMANDS if c.name == module_name))

    return {mod.name: functools.partial(load, mod.name) for mod in pkgutil.iter_modules(pkg.__path__)
            if not mod.name.startswith("_")}


HELP = """Turn OCR annotation datasets into validated, split, sharded LMDB datasets that
clovaai, PARSeq, MMOCR and PaddleOCR read unchanged, and check what a trainer would drop.

\b
Convert:   dataconv <format> -i SRC -o OUT      (dataconv formats lists them)
Check:     dataconv validate OUT --for parseq --charset dict.txt
Look:      dataconv report OUT -o report.html
Train:     dataconv train OUT --out RUN; dataconv export RUN/checkpoints/best.ckpt -o m.onnx
"""


def make_cli() -> click.Group:
    group = Group(name="dataconv", help=HELP,
                  commands=LazyCommands({**_format_loaders(), **_command_loaders()}))
    return click.version_option(__version__, prog_name="dataconv")(group)


cli = make_cli()


def main() -> None:
    cli(prog_name="dataconv")


if __name__ == "__main__":
    main()
