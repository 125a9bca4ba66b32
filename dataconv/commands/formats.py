"""``dataconv formats``: every source format with a one-line description and an example."""
from __future__ import annotations

import click

from dataconv.converters import base as converters


@click.command("formats", help="List every source format with an example command.")
def formats_command() -> None:
    for info in converters.formats().values():
        click.echo(f"{info.name:<12} {info.help}")
        click.echo(f"{'':<12} e.g. {info.example}")


COMMANDS = [formats_command]
