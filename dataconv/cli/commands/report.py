"""``dataconv report DATA -o report.html``: one self-contained HTML page about a dataset."""
from __future__ import annotations

import os
import time

import click

from dataconv.cli.storage import DatasetPath
from dataconv.cli.commands._extras import require
from dataconv.cli.options import input_paths
from dataconv.outputs.atomic import check_file_target
from dataconv.reporting import DEFAULT_CAP


@click.command("report", help="Write a self-contained HTML report of a dataset (a dataconv "
                              "output folder or any LMDB tree): counts, rejects, distributions, "
                              "characters, sample images, duplicates; of a detection dataset: "
                              "pages, boxes, box and page sizes, pages with their boxes drawn.")
@click.argument("data", type=DatasetPath())
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False),
              help="HTML file to write [default: DATA/report.html].")
@click.option("--charset", type=click.Path(exists=True, dir_okay=False),
              help="Check label coverage against this charset (one entry per line, one line, "
                   "or a PARSeq YAML).")
@click.option("--charset-encoding", default="utf-8", show_default=True,
              help="Encoding of the --charset file (e.g. cp949).")
@click.option("--source", type=click.Path(exists=True),
              help="The conversion's -i folder: show thumbnails of rejected samples.")
@click.option("--samples", "per_split", type=click.IntRange(min=0), default=24, show_default=True,
              help="Random samples shown per split.")
@click.option("--max-samples", type=click.IntRange(min=1), default=DEFAULT_CAP,
              show_default=True, help="Without samples.parquet: read at most this many samples.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random samples.")
def report_command(data: str, out: str | None, charset: str | None, charset_encoding: str, source: str | None,
                   per_split: int, max_samples: int, seed: int) -> None:
    require("report", "matplotlib")
    from dataconv.reporting.report import REPORT, build_report  # imports matplotlib
    from dataconv.charsets import load_user_charset

    out = out or os.path.join(data, REPORT)
    check_file_target(out, input_paths(click.get_current_context(), exclude={"out"}), home=data)
    start = time.perf_counter()
    figures = build_report(data, out, charset=load_user_charset(charset, charset_encoding).chars if charset else None,
                           source=source, max_samples=max_samples, per_split=per_split, seed=seed)
    counted = f"{figures['pages']:,} pages" if "pages" in figures else f"{figures['samples']:,} samples"
    click.echo(f"report of {counted} ({figures['rejected']:,} rejected) "
               f"written to {out} ({figures['bytes'] / 1e6:.1f} MB, {time.perf_counter() - start:.1f} s)")


COMMANDS = [report_command]
