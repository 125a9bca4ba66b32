"""ICDAR 2013/2015 word recognition ground truth: ``word_1.png, "Genaxis Theatre"``.

The label is a double-quoted string after the first comma; inside it ``\\"`` is a quote
and ``\\\\`` a backslash, and commas are part of the label. Files start with a UTF-8
BOM and use CRLF. An unquoted label (some re-distributions) is taken as written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from dataconv.converters.base import encoding_option, register
from dataconv.converters.gt_txt import GtTxt, gt_option, label_file_samples
from dataconv.io.textfile import LineSpan
from dataconv.sample import Parsed

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


@dataclass(frozen=True)
class Icdar2015RecOptions:
    gt: str | None = gt_option()
    encoding: str = encoding_option()


@register("icdar2015-rec", help='ICDAR word recognition gt (`word_1.png, "label"`, BOM, CRLF, \\" escapes)',
          example="dataconv icdar2015-rec -i ch4_training_word_images_gt -o out")
class Icdar2015Rec(GtTxt):
    """``gt-txt`` with ICDAR's line syntax instead of a separator."""

    Options = Icdar2015RecOptions

    def lines(self, span: LineSpan | None) -> Iterator[Parsed]:
        return label_file_samples(self.src, self.label_file(), "', \"label\"'", self.options.encoding,
                                  splitter=split_icdar_line, span=span)
