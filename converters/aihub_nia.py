"""The NIA 2021+ OCR shape shared by AI Hub 대용량 손글씨, OCR 데이터(공공) and OCR 데이터(금융 및
물류), as word crops.

One JSON per image: ``Images`` (capital I: ``identifier``, ``type`` = the extension) and
``bbox`` (``Bbox`` in OCR(공공)) entries ``{id, data, x[4], y[4]}``; ``Dataset`` is
``DataSet`` in some sets. Key spelling varies in letter case, so keys of the top level,
of ``Images`` and of each box are read case-insensitively (two keys differing only in
case are refused). The corners come TL, BL, TR, BR, not a polygon order: the crop is
their bounding rectangle. The image is ``identifier.type``, paired on the case-folded
stem; ``xxx`` is ``illegible``. Sample ids are the file and the box's position (``id``
is not trusted to be unique). These are scanned forms and photos: the EXIF orientation
is applied before cropping, as for 야외 (``--ignore-exif`` crops the stored pixels).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from dataconv.converters.base import TaskSpec, encoding_option, register
from dataconv.converters.pagejson import (PerImageJson, Entry, bounding_box, box_or_reject,
                                          ignore_exif_option, lower_keys)
from dataconv.errors import DataconvError
from dataconv.io.crop import CropSpec
from dataconv.optionspec import group


@dataclass(frozen=True)
class NiaOptions:
    crop: CropSpec = group(CropSpec)
    page: TaskSpec = group(TaskSpec)
    ignore_exif: bool = ignore_exif_option()
    encoding: str = encoding_option()


@register("aihub-nia", help="AI Hub NIA 2021+ OCR JSON (대용량 손글씨, OCR 공공, 금융 및 물류) to word crops",
          example="dataconv aihub-nia -i 053.대용량손글씨 -o out")
class AiHubNia(PerImageJson):
    schema = "aihub-nia"
    Options = NiaOptions

    def upright(self) -> bool:
        return not self.options.ignore_exif

    def prepare(self, document: Any, rel: str) -> Any:
        """Keys lower-cased where their case is known to vary."""
        try:
            top = lower_keys(document)
            if isinstance(top, dict):
                top["images"] = lower_keys(top.get("images"))
                if isinstance(top.get("bbox"), list):
                    top["bbox"] = [lower_keys(box) for box in top["bbox"]]
        except ValueError as e:
            raise DataconvError(f"{rel}: {e}") from None
        return top

    def image_name(self, document: Any) -> str:
        images = document["images"]
        return f"{images['identifier']}.{images.get('type', '')}"

    def regions(self, document: Any, rel: str) -> Iterator[Entry]:
        for pos, box in enumerate(document["bbox"]):
            yield Entry(f"bbox[{pos}]", box.get("data"),
                         box_or_reject(bounding_box, box.get("x"), box.get("y"), f"bbox[{pos}]"))
