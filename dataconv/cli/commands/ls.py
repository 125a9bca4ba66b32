"""``dataconv ls DATA``: what an LMDB tree holds, split by split (any tree, dataconv's or not)."""
from __future__ import annotations

import json
from typing import Any

import click

from dataconv.api import open_dataset


def format_listing(summary: dict[str, Any]) -> str:
    """The table ``ls`` prints: one line per shard under its split's line, then the totals."""
    lines = []
    for name, split in summary["splits"].items():
        shards = split["shards"]
        lines.append(f"{name:<6} {split['count']:>10,} samples in {len(shards)} shard(s)")
        lines += [f"  {row['path']:<40} {row['count']:>10,}" for row in shards]
    source = "manifest.json" if summary["dataconv_output"] else "labels"
    lines.append(f"total  {summary['count']:>10,} samples; {summary['charset_size']:,} distinct "
                 f"label characters (from {source})")
    return "\n".join(lines)


@click.command("ls", help="List the splits, shards and sample counts of a dataset (a dataconv "
                          "output or any LMDB tree) and the size of its charset.")
@click.argument("data", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the listing as JSON.")
def ls_command(data: str, as_json: bool) -> None:
    with open_dataset(data) as dataset:
        summary = dataset.summary()
    click.echo(json.dumps(summary, ensure_ascii=False, sort_keys=True) if as_json else format_listing(summary))


COMMANDS = [ls_command]
