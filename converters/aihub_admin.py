"""AI Hub 공공행정문서 OCR (public administration documents) as word crops.

One JSON per page, keys holding literal dots: ``images[0]["image.file.name"]`` and
``annotations[]`` with ``"annotation.text"`` (one 어절 per box) and ``"annotation.bbox"``
``[x, y, w, h]``. ``id`` has gaps and repeats in the real files, so it is never a key:
a sample is the label file and the annotation's position. Texts are written as given
(some are split by letter, ``제 목``; the labels are not re-spaced). Images pair on the
case-folded stem (``02.원천데이터(jpg|Jpg)`` and ``.jpg``/``.JPG``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from dataconv.converters.base import TaskSpec, encoding_option, register
from dataconv.converters.pagejson import PerImageJson, Entry, box_or_reject, xywh_box
from dataconv.io.crop import CropSpec
from dataconv.optionspec import group


@dataclass(frozen=True)
class AdminOptions:
    crop: CropSpec = group(CropSpec)
    page: TaskSpec = group(TaskSpec)
    encoding: str = encoding_option()


@register("aihub-admin", help="AI Hub 공공행정문서 OCR (one JSON per page, dotted keys) to word crops",
          example="dataconv aihub-admin -i 공공행정문서 -o out")
class AiHubAdmin(PerImageJson):
    schema = "aihub-admin"
    Options = AdminOptions
    illegible_marker = False  # no illegible marker has been seen in this set

    def image_name(self, document: Any) -> str:
        return document["images"][0]["image.file.name"]

    def regions(self, document: Any, rel: str) -> Iterator[Entry]:
        for pos, ann in enumerate(document["annotations"]):
            yield Entry(f"annotations[{pos}]", ann.get("annotation.text"),
                         box_or_reject(xywh_box, ann.get("annotation.bbox"), "annotation.bbox"))
