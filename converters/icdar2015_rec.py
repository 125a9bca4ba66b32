"""ICDAR 2013/2015 word recognition ground truth: ``word_1.png, "Genaxis Theatre"``.

The label is a double-quoted string after the first comma; inside it ``\\"`` is a quote
and ``\\\\`` a backslash, and commas are part of the label. Files start with a UTF-8
BOM and use CRLF. An unquoted label (some re-distributions) is taken as written.
"""
from __future__ import annotations

import os
import re
from typing import Iterator

import click

from dataconv.converters.base import Converter, encoding_option, register
from dataconv.converters.gt_txt import label_file_samples
from dataconv.errors import DataconvError
from dataconv.sample import Item

QUOTED = re.compile(r'\s*"((?:[^"\\]|\\.)*)"\s*')
ESCAPE = re.compile(r"\\(.)")


def split_icdar_line(line: str) -> tuple[str, str] | None:
    """``name, "label"`` to (name, label) with escapes resolved; None if there is no comma."""
    name, comma, rest = line.partition(",")
    if not comma or not name.strip():
        return None
    quoted = QUOTED.fullmatch(rest)
    label = ESCAPE.sub(r"\1", quoted.group(1)) if quoted else rest.strip()
    return name.strip(), label


@register("icdar2015-rec", help='ICDAR word recognition gt (`word_1.png, "label"`, BOM, CRLF, \\" escapes)',
          example="dataconv icdar2015-rec -i ch4_training_word_images_gt -o out")
class Icdar2015Rec(Converter):
    options = [
        click.option("--gt", "gt", type=click.Path(exists=True, dir_okay=False),
                     help="The label file [default: SRC/gt.txt]."),
        encoding_option(),
    ]

    def samples(self) -> Iterator[Item]:
        if not os.path.isdir(self.src):
            raise DataconvError(f"{self.src}: -i must be the folder holding word_N.png and gt.txt")
        gt = self.opts.get("gt") or os.path.join(self.src, "gt.txt")
        if not os.path.isfile(gt):
            raise DataconvError(f"{gt}: no such label file; pass --gt FILE")
        return label_file_samples(self.src, gt, "', \"label\"'", self.opts["encoding"],
                                  splitter=split_icdar_line)
