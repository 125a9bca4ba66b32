"""``dataconv dump DATA -o DIR --style clovaai|paddle|mmocr|easyocr|imagefolder``: a dataset
back out as image files and the label file a trainer reads, one folder per split
(``dataconv/outputs/dump.py``), written atomically like every dataconv output."""
from __future__ import annotations

import os
from collections import Counter
from typing import Iterator

import click

from dataconv.cli.storage import DatasetPath
from dataconv import __version__
from dataconv.api import Dataset, open_dataset
from dataconv.cli.options import input_paths
from dataconv.outputs import atomic, manifest
from dataconv.outputs.dump import STYLES, DumpCounts, dump_split


def _pairs(dataset: Dataset) -> Iterator[tuple[bytes | None, bytes | None]]:
    for record in dataset:
        yield record.label_bytes, record.image


def dump(data: str, out: str, style: str, overwrite: bool = False) -> dict[str, DumpCounts]:
    """Write every split of ``data`` under ``out`` in ``style``; the counts per split.
    ``out`` gets a manifest.json so that a later ``--overwrite`` may replace it."""
    results: dict[str, DumpCounts] = {}
    with open_dataset(data) as dataset, atomic.atomic_output(out, overwrite) as tmp:
        for split in dataset.split_names():
            part = Dataset(dataset.root, [s for s in dataset.shards if (s.split or "none") == split])
            results[split] = dump_split(os.path.join(tmp, split), split, STYLES[style], _pairs(part))
        written = sum(c.written for c in results.values())
        left_out = sum(sum(c.left_out.values()) for c in results.values())
        manifest.write(tmp, {"format": f"dump:{style}", "dataconv_version": __version__,
                             "counts": {"input": written + left_out, "written": written, "rejected": left_out,
                                        "splits": {s: c.written for s, c in results.items()}},
                             "rejects": dict(sum((c.left_out for c in results.values()), Counter()))})
    return results


@click.command("dump", help="Write a dataset (a dataconv output or any LMDB tree) back out as image "
                            "files plus the label file a trainer reads: DIR/<split>/images/ and "
                            "gt.txt (clovaai), rec_gt.txt (paddle), textrecog_<split>.json (mmocr), "
                            "labels.csv (easyocr) or metadata.jsonl (imagefolder). Image bytes are "
                            "unchanged.")
@click.argument("data", type=DatasetPath())
@click.option("-o", "--output", "out", required=True, type=click.Path(), help="Folder to create.")
@click.option("--style", type=click.Choice(sorted(STYLES)), required=True, help="The trainer's layout.")
@click.option("--overwrite", is_flag=True, help="Replace DIR if it is a previous dataconv output.")
def dump_command(data: str, out: str, style: str, overwrite: bool) -> None:
    atomic.check_target(os.path.abspath(out), overwrite, input_paths(click.get_current_context(), exclude={"out"}))
    results = dump(data, out, style, overwrite)
    for split, counts in results.items():
        left = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.left_out.items()))
        click.echo(f"{split}: {counts.written:,} samples written to {os.path.join(out, split)}"
                   + (f" ({left} left out)" if left else ""))


COMMANDS = [dump_command]
