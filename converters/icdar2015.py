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

from dataconv.converters.base import Converter, encoding_option, register
from dataconv.io.crop import CropSpec, flat_points, image_ref
from dataconv.errors import DataconvError, SampleRejected
from dataconv.io.imagefind import ImageIndex, walk_files
from dataconv.numbers import parse_float
from dataconv.io.safeopen import InputFile
from dataconv.sample import Parsed, Reject, Sample
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


def box_samples(src: str, rel_gt: str, image: str | SampleRejected, spec: CropSpec,
                encoding: str, follow_symlinks: bool = False) -> Iterator[Parsed]:
    """One item per line; when the image was not found (``image`` is the rejection),
    every box that is not don't-care is rejected with that reason."""
    for lineno, line in read_lines(InputFile.inside(src, rel_gt, follow_symlinks), encoding):
        if not line.strip():
            continue
        where = f"{rel_gt}:{lineno}"
        parsed = parse_box_line(line)
        if parsed is None:
            yield Reject(where, "malformed_line", f"expected x1,y1,...,x4,y4,text: {line[:80]!r}", where)
        elif parsed[1] == DONT_CARE:
            yield Reject(where, "dont_care", "### region", where)
        elif isinstance(image, SampleRejected):
            yield Reject(where, image.reason, image.detail, where)
        else:
            yield Sample(id=where, label=parsed[1], source=where, meta={"image": image},
                         image=image_ref(src, image, spec, flat_points(parsed[0])))


@dataclass(frozen=True)
class Icdar2015Options:
    crop: CropSpec = group(CropSpec)
    encoding: str = encoding_option()


@register("icdar2015", help="ICDAR2015 detection gt (gt_img_N.txt + img_N.jpg) to word crops",
          example="dataconv icdar2015 -i ch4_training --rotate-vertical -o out")
class Icdar2015(Converter):
    Options = Icdar2015Options

    def samples(self) -> Iterator[Parsed]:
        if not self.src.is_dir():
            raise DataconvError(f"{self.src}: -i must be the folder holding gt_img_N.txt and img_N.jpg")
        gt_files = find_gt_files(self.src)
        if not gt_files:
            raise DataconvError(f"{self.src}: no gt_*.txt files found")
        images = ImageIndex(self.src)
        spec = self.options.crop
        for rel_gt in gt_files:
            stem = os.path.basename(rel_gt)[len("gt_"):-len(".txt")]
            try:
                image: str | SampleRejected = images.find_stem(stem, near=os.path.dirname(rel_gt))
            except SampleRejected as e:
                image = e
            yield from box_samples(self.src, rel_gt, image, spec, self.options.encoding,
                                   self.follow_symlinks)

