"""AI Hub 야외 실제 촬영 한글 이미지 (outdoor photos of signs and book covers) as word crops.

One JSON per image: ``images[0].file_name``, ``annotations[]`` of ``{id, text, bbox}``
with ``bbox = [x, y, w, h]``, and ``metadata`` (a list of one object in some files, an
object in others) whose ``wordorientation`` is 가로 (horizontal) or 세로 (vertical) for
the whole image. The label tree ``[라벨]``/``TL*`` does not mirror the image tree
``[원천]``/``TS*``: images pair on the case-folded stem anywhere under SRC.

Rules: ``xxx`` (any case, the whole text) is ``illegible``; a repeated annotation id in
one file keeps the first (the others are ``duplicate_id``: the sample id is the file and
the annotation id); ``[null, null, null, null]``, a wrong count or a zero or negative
size is ``degenerate_box``; coordinates refer to the upright photo, so the EXIF
orientation is applied before cropping (``--ignore-exif`` crops the stored pixels); a
세로 image marks its crops vertical (``--rotate-vertical`` turns them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from dataconv.converters.base import TaskSpec, encoding_option, register
from dataconv.converters.pagejson import PerImageJson, Entry, box_or_reject, ignore_exif_option, xywh_box
from dataconv.io.crop import CropSpec
from dataconv.optionspec import group

ORIENTATION = {"가로": False, "세로": True}


@dataclass(frozen=True)
class OutdoorOptions:
    crop: CropSpec = group(CropSpec)
    page: TaskSpec = group(TaskSpec)
    ignore_exif: bool = ignore_exif_option()
    encoding: str = encoding_option()


def orientation(metadata: Any) -> bool | None:
    """``wordorientation`` of the image: True for 세로, False for 가로, else None."""
    if isinstance(metadata, list):
        metadata = metadata[0] if metadata and isinstance(metadata[0], dict) else {}
    value = metadata.get("wordorientation") if isinstance(metadata, dict) else None
    return ORIENTATION.get(value.strip()) if isinstance(value, str) else None


@register("aihub-outdoor", help="AI Hub 야외 실제 촬영 한글 이미지 (one JSON per photo) to word crops",
          example="dataconv aihub-outdoor -i 야외실제촬영 -o out --rotate-vertical")
class AiHubOutdoor(PerImageJson):
    schema = "aihub-outdoor"
    Options = OutdoorOptions

    def upright(self) -> bool:
        return not self.options.ignore_exif

    def image_name(self, document: Any) -> str:
        return document["images"][0]["file_name"]

    def regions(self, document: Any, rel: str) -> Iterator[Entry]:
        vertical = orientation(document.get("metadata"))
        for pos, ann in enumerate(document["annotations"]):
            key = str(ann["id"]) if "id" in ann else f"annotations[{pos}]"
            yield Entry(key, ann.get("text"), box_or_reject(xywh_box, ann.get("bbox")), vertical)
