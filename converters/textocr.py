"""TextOCR (``TextOCR_0.1_train.json`` + ``train_images/``) as word crops.

The same ``imgs``/``anns``/``imgToAnns`` layout as COCO-Text (``CocoTextFamily``):
``points`` is the word polygon ``[x1, y1, ...]`` from its top-left corner, ``bbox`` the
box; an illegible word is written ``.`` and rejected as ``illegible``. ``file_name``
says ``train/x.jpg`` while the download unpacks to ``train_images/x.jpg``: images are
found by base name anywhere under ``-i``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dataconv.converters.base import TaskSpec, register
from dataconv.converters.coco_text import CocoTextFamily, labels_option, sets_option
from dataconv.io.crop import CropSpec
from dataconv.optionspec import group

ILLEGIBLE = "."


@dataclass(frozen=True)
class TextOcrOptions:
    labels: str | None = labels_option("TextOCR_0.1_train.json")
    sets: tuple[str, ...] = sets_option()
    crop: CropSpec = group(CropSpec)
    page: TaskSpec = group(TaskSpec)


@register("textocr", help="TextOCR (TextOCR_0.1_*.json + train_images) to word crops",
          example="dataconv textocr -i textocr --labels TextOCR_0.1_train.json -o out")
class TextOcr(CocoTextFamily):
    schema = "textocr"
    label_file = "TextOCR_0.1_train.json"
    polygon_key = "points"
    Options = TextOcrOptions

    def illegible(self, ann: dict[str, Any]) -> bool:
        return ann["utf8_string"] == ILLEGIBLE
