"""The detection output: page images with the label files of each detector family.

Per split, under the detection dataset (OUT with ``--task det``, OUT/det with
``--task rec,det``)::

    <split>/images/<path as under -i>   each page image once
    <split>/det_gt.txt                  PaddleOCR / OpenOCR det label (data_dir = <split>)
    <split>/textdet.json                MMOCR textdet (data_root = <split>)
    <split>/coco.json                   COCO instances (image root = <split>)

Each layout is one module of this package holding ``FILE`` and ``write(path, pages)``;
``LAYOUTS`` lists them. Every file names images relative to its split folder.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import Any, Callable

LAYOUT_MODULES = ("paddle", "mmocr", "coco")


@dataclass
class DetBox:
    """One box of a written page: points clockwise on the stored pixels; ``ignore`` marks a
    don't-care region (text is there, its transcription is unusable)."""

    points: list[list[int | float]]
    text: str | None
    ignore: bool

    def flat(self) -> list[int | float]:
        return [v for point in self.points for v in point]

    def bbox(self) -> tuple[float, float, float, float]:
        xs, ys = [p[0] for p in self.points], [p[1] for p in self.points]
        return min(xs), min(ys), max(xs), max(ys)


@dataclass
class PlacedPage:
    """A page written into its split: ``path`` is relative to the split folder."""

    seq: int
    id: str
    source: str
    split: str
    path: str
    width: int
    height: int
    size: int
    sha1: str
    boxes: list[DetBox] = field(default_factory=list)
    removed: int = 0


def layouts() -> dict[str, Any]:
    """Layout name -> its module (``FILE``, ``write``)."""
    return {name: importlib.import_module(f"{__name__}.{name}") for name in LAYOUT_MODULES}


def write_split(folder: str, pages: list[PlacedPage]) -> list[str]:
    """Every layout's label file for one split folder; the file names written."""
    written = []
    for module in layouts().values():
        write: Callable[[str, list[PlacedPage]], None] = module.write
        write(os.path.join(folder, module.FILE), pages)
        written.append(module.FILE)
    return written
