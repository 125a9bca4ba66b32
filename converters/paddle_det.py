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

from dataconv.converters.base import Converter, encoding_option, register
from dataconv.io.crop import CropSpec, image_ref
from dataconv.errors import DataconvError
from dataconv.sample import Parsed, Reject, Sample
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


def line_items(root: str, path: str, boxes: list[dict[str, Any]], where: str,
               spec: CropSpec) -> Iterator[Parsed]:
    for k, box in enumerate(boxes):
        sid = f"{path}#{k}"
        text = box["transcription"]
        if text in DONT_CARE:
            yield Reject(f"{where}[{k}]", "dont_care", f"transcription {text!r}", sid)
        else:
            yield Sample(id=sid, label=text, source=f"{where}[{k}]", meta={"image": path},
                         image=image_ref(root, path, spec, box["points"]))


@dataclass(frozen=True)
class PaddleDetOptions:
    labels: str = option(help="The detection label file (paths inside are relative to -i).",
                         type=Path(dir_okay=False))
    encoding: str = encoding_option()
    crop: CropSpec = group(CropSpec)


@register("paddle-det", help="PaddleOCR detection labels (path<TAB>[{transcription, points}]) to word crops",
          example="dataconv paddle-det -i icdar2015 --labels icdar2015/train_icdar2015_label.txt -o out")
class PaddleDet(Converter):
    schema = "paddle-det"
    Options = PaddleDetOptions

    def samples(self) -> Iterator[Parsed]:
        if not self.src.is_dir():
            raise DataconvError(f"{self.src}: -i must be the folder the label file's paths are relative to")
        spec = self.options.crop
        name = os.path.basename(self.options.labels)
        for lineno, line in read_lines(self.named_file(self.options.labels, "labels"), self.options.encoding):
            where = f"{name}:{lineno}"
            parsed = parse_line(line, where) if line.strip() else None
            if parsed is None and line.strip():
                yield Reject(where, "no_separator", f"no TAB in {line[:80]!r}", where)
            elif parsed is not None:
                yield from line_items(self.src, parsed[0], parsed[1], where, spec)
