"""The page grid of a detection report: each page a downscaled JPEG with its boxes drawn
over it as SVG polygons in page pixels (the ``viewBox``), so every box sits where the
label file puts it whatever the thumbnail's scale.

Page images are read through the confined open (``paths.read_inside``: inside the split
folder, no symlink out of it, regular files only); one that is missing or does not
decode is drawn as a grey page with its boxes.
"""
from __future__ import annotations

import os
from typing import Any

from dataconv.errors import SampleRejected
from dataconv.io.paths import read_inside
from dataconv.reporting import html as h
from dataconv.reporting.det_dataset import LabelBox
from dataconv.reporting.thumbs import thumbnail

THUMB = 320  # px: the longest side of an embedded page image
TILE = 300  # px: the longest side a page is shown at
MAX_DRAWN = 500  # boxes drawn per page (a dense document page can hold thousands)
TEXT_COLOUR = "#12c94b"
DONT_CARE_COLOUR = "#ff2d95"

LEGEND = (f'<p class="note"><b style="color:{TEXT_COLOUR}">▭ text box</b> · '
          f'<b style="color:{DONT_CARE_COLOUR}">▨ don\'t-care region</b> (###, ignore: true, '
          "iscrowd: 1: masked out of the loss, never scored)</p>")


def page_uri(root: str, split: str, path: str, max_pixels: int) -> str | None:
    """The page image as a JPEG data: URI at most THUMB px on its longest side, or None."""
    try:
        data = read_inside(os.path.join(root, split), path)
    except SampleRejected:
        return None
    return thumbnail(data, max_pixels, box=(THUMB, THUMB))


def page_tile(uri: str | None, row: Any, boxes: list[LabelBox]) -> str:
    """One page (a samples.parquet row: split, path, width, height, removed) and its boxes."""
    width, height = max(int(row.width), 1), max(int(row.height), 1)
    scale = TILE / max(width, height)
    image = (f'<image href="{uri}" width="{width}" height="{height}" preserveAspectRatio="none"/>' if uri
             else f'<rect width="{width}" height="{height}" fill="#d9dde4"/>')
    drawn = boxes[:MAX_DRAWN]
    stroke = f'stroke-width="{1.5 / scale:.3g}"'
    texts = "".join(_polygon(b) for b in drawn if not b.ignore)
    dont_care = "".join(_polygon(b) for b in drawn if b.ignore)
    svg = (f'<svg class="page" viewBox="0 0 {width} {height}" width="{round(width * scale)}" '
           f'height="{round(height * scale)}" role="img" aria-label="{h.esc(row.path)}">{image}'
           f'<g fill="none" stroke="{TEXT_COLOUR}" {stroke}>{texts}</g>'
           f'<g fill="{DONT_CARE_COLOUR}" fill-opacity="0.25" stroke="{DONT_CARE_COLOUR}" {stroke} '
           f'stroke-dasharray="{4 / scale:.3g} {3 / scale:.3g}">{dont_care}</g></svg>')
    return f'<div class="tile">{svg}<div class="cap">{h.esc(_caption(uri, row, boxes))}</div></div>'


def _polygon(box: LabelBox) -> str:
    return '<polygon points="' + " ".join(f"{_num(x)},{_num(y)}" for x, y in box.points) + '"/>'


def _num(value: float) -> str:
    """A coordinate to 1/100 px (finer is invisible and only makes the page larger)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _caption(uri: str | None, row: Any, boxes: list[LabelBox]) -> str:
    ignored = sum(b.ignore for b in boxes)
    parts = [row.path, f"{int(row.width)}×{int(row.height)}",
             f"{len(boxes)} boxes ({ignored} don't-care)"]
    if row.removed:
        parts.append(f"{int(row.removed)} removed")
    if len(boxes) > MAX_DRAWN:
        parts.append(f"first {MAX_DRAWN} drawn")
    if uri is None:
        parts.append("image not readable")
    return " · ".join(parts)
