"""ICDAR 2015 Incidental Scene Text, detection ground truth, as word crops.

``gt_img_N.txt`` (anywhere under the source) holds one box per line:
``x1,y1,x2,y2,x3,y3,x4,y4,transcription``, corners clockwise from the text's top-left.
The transcription may itself contain commas; ``###`` marks a don't-care region. Files
start with a UTF-8 BOM and may end lines with CRLF. The image ``img_N.*`` is found by
stem anywhere under the source, preferring the folder that mirrors the gt file's
(``annotations/test`` -> ``imgs/test``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

from dataconv.converters.base import PageConverter, TaskSpec, encoding_option, register
from dataconv.io.crop import CropSpec, flat_points
from dataconv.errors import DataconvError, SampleRejected
from dataconv.io.imagefind import ImageIndex, walk_files
from dataconv.numbers import parse_float
from dataconv.io.safeopen import InputFile
from dataconv.io.source import Root
from dataconv.page import Region, TextPage
from dataconv.io.textfile import read_lines
from dataconv.optionspec import group

DONT_CARE = "###"


def find_gt_files(src: str) -> list[str]:
    """Every ``gt_*.txt`` under ``src``, relative, in a stable order."""
    return [rel for rel in walk_files(src)
            if os.path.basename(rel).startswith("gt_") and rel.endswith(".txt")]


def parse_box_line(line: str) -> tuple[list[float], str] | None:
    """(8 coordinates, transcription) or None; only the first 8 commas separate fields.
    Coordinates are plain decimals (``numbers.parse_float``: ``1_0``, ``nan`` or ``inf`` make
    the line malformed); spaces around them are allowed, as ICDAR tools write them."""
    parts = line.split(",", 8)
    if len(parts) < 9:
        return None
    try:
        coords = [parse_float(p.strip()) for p in parts[:8]]
    except ValueError:
        return None
    return coords, parts[8]


def box_regions(root: Root, rel_gt: str, encoding: str, follow_symlinks: bool = False) -> Iterator[Region]:
    """One region per line of a gt file; a malformed line is a region with a ``fault``."""
    for lineno, line in read_lines(InputFile.inside(root, rel_gt, follow_symlinks), encoding):
        if not line.strip():
            continue
        where = f"{rel_gt}:{lineno}"
        parsed = parse_box_line(line)
        if parsed is None:
            fault = SampleRejected("malformed_line", f"expected x1,y1,...,x4,y4,text: {line[:80]!r}")
            yield Region(where, where, None, None, fault=fault)
            continue
        coords, text = parsed
        ignore = SampleRejected("dont_care", "### region") if text == DONT_CARE else None
        yield Region(where, where, text, flat_points(coords), ignore=ignore)


@dataclass(frozen=True)
class Icdar2015Options:
    crop: CropSpec = group(CropSpec)
    page: TaskSpec = group(TaskSpec)
    encoding: str = encoding_option()


@register("icdar2015", help="ICDAR2015 detection gt (gt_img_N.txt + img_N.jpg) to word crops",
          example="dataconv icdar2015 -i ch4_training --rotate-vertical -o out")
class Icdar2015(PageConverter):
    Options = Icdar2015Options

    def pages(self) -> Iterator[TextPage]:
        if not self.src.is_dir():
            raise DataconvError(f"{self.src}: -i must be the folder holding gt_img_N.txt and img_N.jpg")
        gt_files = find_gt_files(self.src)
        if not gt_files:
            raise DataconvError(f"{self.src}: no gt_*.txt files found")
        images = ImageIndex(self.src)
        for rel_gt in gt_files:
            stem = os.path.basename(rel_gt)[len("gt_"):-len(".txt")]
            try:
                image: str | SampleRejected = images.find_stem(stem, near=os.path.dirname(rel_gt))
            except SampleRejected as e:
                image = e
            regions = list(box_regions(self.src, rel_gt, self.options.encoding, self.follow_symlinks))
            yield TextPage(os.path.splitext(rel_gt)[0], rel_gt, self.src, image, regions)

