"""``dataconv formats``: every source format with a one-line description and an example."""
from __future__ import annotations

import click

from dataconv.converters import base as converters


@click.command("formats", help="List every source format with an example command.")
def formats_command() -> None:
    infos = converters.formats().values()
    width = max(len(info.name) for info in infos) + 2
    for info in infos:
        click.echo(f"{info.name:<{width}}{info.help}")
        click.echo(f"{'':<{width}}e.g. {info.example}")


COMMANDS = [formats_command]
