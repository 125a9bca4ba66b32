"""``dataconv fixture NAME -o DIR``: write a small sample dataset in a source format."""
from __future__ import annotations

import os

import click

from dataconv.fixtures.base import fixtures


@click.command("fixture", help="Write a small generated dataset in a source format (for demos and tests).")
@click.argument("name", type=click.Choice(sorted(fixtures())))
@click.option("-o", "--output", "out", required=True, type=click.Path(), help="Folder to write.")
@click.option("-n", "count", type=click.IntRange(min=1), default=60, show_default=True,
              help="Number of good samples.")
@click.option("--seed", type=int, default=0, show_default=True)
def fixture_command(name: str, out: str, count: int, seed: int) -> None:
    if os.path.exists(out) and os.listdir(out):
        raise click.UsageError(f"{out} exists and is not empty")
    os.makedirs(out, exist_ok=True)
    fixtures()[name][0](out, n=count, seed=seed)
    click.echo(f"wrote the {name} fixture to {out}")


COMMANDS = [fixture_command]
