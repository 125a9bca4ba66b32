"""``dataconv ls DATA``: what an LMDB tree holds, split by split (any tree, dataconv's or not)."""
from __future__ import annotations

import json
import os
from typing import Any

import click

from dataconv.cli.storage import DatasetPath
from dataconv.api import open_dataset
from dataconv.io.lmdb_tree import is_detection
from dataconv.outputs.manifest import read as load


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
@click.argument("data", type=DatasetPath())
@click.option("--json", "as_json", is_flag=True, help="Print the listing as JSON.")
def ls_command(data: str, as_json: bool) -> None:
    if is_detection(data):
        summary = detection_summary(data)
        click.echo(json.dumps(summary, ensure_ascii=False, sort_keys=True) if as_json
                   else format_detection(summary))
        return
    with open_dataset(data) as dataset:
        summary = dataset.summary()
    click.echo(json.dumps(summary, ensure_ascii=False, sort_keys=True) if as_json else format_listing(summary))


def detection_summary(root: str) -> dict[str, Any]:
    """Pages, boxes and don't-care boxes per split of a detection dataset (samples.parquet)."""
    from dataconv.outputs.samples_table import read_table

    table = read_table(os.path.join(root, "samples.parquet"), ["split", "boxes", "ignore", "removed"]).to_pylist()
    splits: dict[str, dict[str, int]] = {}
    for row in table:
        split = splits.setdefault(row["split"], {"pages": 0, "boxes": 0, "ignore": 0, "removed": 0})
        split["pages"] += 1
        for key in ("boxes", "ignore", "removed"):
            split[key] += row[key]
    return {"task": "det", "splits": splits, "label_files": load(root).get("label_files", [])}


def format_detection(summary: dict[str, Any]) -> str:
    lines = [f"{name:<6} {s['pages']:>8,} pages {s['boxes']:>9,} boxes ({s['ignore']:,} don't-care, "
             f"{s['removed']:,} removed)" for name, s in summary["splits"].items()]
    lines.append("label files: " + ", ".join(summary["label_files"]))
    return "\n".join(lines)


COMMANDS = [ls_command]
