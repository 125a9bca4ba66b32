"""Write the report: load the dataset, find reject images, render, write one HTML file."""
from __future__ import annotations

import os
from typing import Any

from dataconv.converters.base import Converter
from dataconv.errors import DataconvError, UsageError
from dataconv.io.det_reader import DET_FOLDER
from dataconv.io.lmdb_tree import is_detection
from dataconv.outputs.atomic import write_text
from dataconv.reporting import dataset, reject_images, sections
from dataconv.reporting import html as h

REPORT = "report.html"


def build_report(root: str, out: str, *, charset: str | None = None, source: str | None = None,
                 converter: Converter | None = None, max_samples: int = dataset.DEFAULT_CAP,
                 per_split: int = 24, seed: int = 0) -> dict[str, Any]:
    """Write the HTML report of the dataset at ``root`` to ``out``; returns a few figures.

    ``converter`` (during a conversion) or ``source`` (the conversion's ``-i``, with
    manifest.json) lets the report show thumbnails of rejected samples.
    """
    if is_detection(root):
        if charset is not None or source is not None:
            raise UsageError(f"{root}: a detection dataset: --charset and --source apply to recognition datasets")
        from dataconv.reporting import det_report

        return det_report.build_report(root, out, per_split=per_split, seed=seed)
    data = dataset.load(root, cap=max_samples)
    if data.frame.empty:
        raise DataconvError(f"{root}: the dataset has no samples")
    images, reject_note = _reject_images(data, converter, source)
    inp = sections.Inputs(data, charset=charset, reject_images=images, reject_note=reject_note,
                          per_split=per_split, seed=seed)
    title = f"dataconv report: {os.path.basename(os.path.abspath(root))}"
    subtitle = f"{data.total:,} samples · {sum(data.rejects.counts.values()):,} rejected"
    text = h.page(title, subtitle, sections.render_all(inp))
    write_text(out, text)
    return {"samples": data.total, "rejected": sum(data.rejects.counts.values()), "bytes": len(text.encode())}


def _reject_images(data: dataset.Dataset, converter: Converter | None,
                   source: str | None) -> tuple[dict[str, bytes | None], str]:
    wanted = {str(row.get("source")) for rows in data.rejects.examples.values() for row in rows}
    if not wanted:
        return {}, ""
    card = data.card or {}
    if converter is None and source and card:
        converter = reject_images.converter_from_card(card, source)
    if converter is None:
        return {}, "Thumbnails of rejected samples need the source folder: pass --source SRC."
    recorded = card.get("options", {})
    found = reject_images.find_images(converter, wanted, bool(recorded.get("follow_symlinks", False)),
                                      reject_images.max_pixels_of(recorded))
    shown = sum(1 for v in found.values() if v)
    return found, (f"Images re-read from the source for {shown} of the {len(wanted)} rejects shown; "
                   "the others have no readable image (missing file, or rejected by the parser).")


def report_after_conversion(converter: Converter, out: str) -> list[str]:
    """``--report`` on a conversion: OUT/report.html (with thumbnails of the rejects), and
    OUT/det/report.html for the detection dataset of ``--task rec,det``; the paths written."""
    written = []
    for folder in (out, os.path.join(out, DET_FOLDER)):
        if folder == out or is_detection(folder):
            written.append(os.path.join(folder, REPORT))
            build_report(folder, written[-1], converter=converter)
    return written
