"""PaddleOCR detection labels as word crops.

One line per image: ``path<TAB>[{"transcription": "...", "points": [[x, y], ...]}, ...]``,
paths relative to the ``-i`` root. Points start at the text's top-left and go clockwise;
more than four (curved text) are reduced to their minimum-area rectangle. ``###`` and
``*`` transcriptions are don't-care regions. An image that is absent rejects its boxes
(``missing_image``) when the shard is built; it does not stop the run.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Iterator

from dataconv.converters.base import PageConverter, TaskSpec, encoding_option, register
from dataconv.io.crop import CropSpec
from dataconv.errors import DataconvError, SampleRejected
from dataconv.io.source import Root
from dataconv.page import Region, TextPage, points_of
from dataconv.sample import Reject
from dataconv.io.schema import validate
from dataconv.io.textfile import read_lines
from dataconv.optionspec import Path, group, option

DONT_CARE = {"###", "*"}


def parse_line(line: str, where: str) -> tuple[str, list[dict[str, Any]]] | None:
    """(image path, boxes) of one line; None when it has no TAB; bad JSON is fatal."""
    path, tab, payload = line.partition("\t")
    if not tab:
        return None
    try:
        boxes = json.loads(payload)
    except json.JSONDecodeError as e:
        raise DataconvError(f"{where}: invalid JSON at column {len(path) + 1 + e.colno}: {e.msg}") from None
    except RecursionError:  # like every malformed payload, a fault of the file: one line
        raise DataconvError(f"{where}: JSON nested too deeply to be a box list") from None
    except ValueError as e:  # an integer literal of more than 4300 digits
        raise DataconvError(f"{where}: invalid JSON: {str(e)[:120]}") from None
    validate(boxes, "paddle-det", where)
    return path, boxes


def line_page(root: Root, path: str, boxes: list[dict[str, Any]], where: str) -> TextPage:
    """The page of one label line: its image path as written, one region per box."""
    regions = []
    for k, box in enumerate(boxes):
        text = box["transcription"]
        ignore = SampleRejected("dont_care", f"transcription {text!r}") if text in DONT_CARE else None
        regions.append(Region(f"{path}#{k}", f"{where}[{k}]", text, points_of(box["points"]), ignore=ignore))
    return TextPage(path, where, root, path, regions)


@dataclass(frozen=True)
class PaddleDetOptions:
    labels: str = option(help="The detection label file (paths inside are relative to -i).",
                         type=Path(dir_okay=False))
    encoding: str = encoding_option()
    crop: CropSpec = group(CropSpec)
    page: TaskSpec = group(TaskSpec)


@register("paddle-det", help="PaddleOCR detection labels (path<TAB>[{transcription, points}]) to word crops",
          example="dataconv paddle-det -i icdar2015 --labels icdar2015/train_icdar2015_label.txt -o out")
class PaddleDet(PageConverter):
    schema = "paddle-det"
    Options = PaddleDetOptions

    def pages(self) -> Iterator[TextPage | Reject]:
        if not self.src.is_dir():
            raise DataconvError(f"{self.src}: -i must be the folder the label file's paths are relative to")
        name = os.path.basename(self.options.labels)
        for lineno, line in read_lines(self.named_file(self.options.labels, "labels"), self.options.encoding):
            where = f"{name}:{lineno}"
            parsed = parse_line(line, where) if line.strip() else None
            if parsed is None and line.strip():
                yield Reject(where, "no_separator", f"no TAB in {line[:80]!r}", where)
            elif parsed is not None:
                yield line_page(self.src, parsed[0], parsed[1], where)
