"""COCO-Text v2 (``COCO_Text.json`` + COCO ``train2014/``) as word crops.

The JSON holds ``imgs``, ``anns`` and ``imgToAnns``, each keyed by id. An annotation
has ``bbox`` ``[x, y, w, h]``, an optional ``mask`` polygon ``[x1, y1, ...]``,
``utf8_string`` and ``legibility``; illegible text is rejected as ``illegible``. The
crop follows the polygon when there is one, else the box. Images are found by
``file_name`` anywhere under ``-i``. ``CocoTextFamily`` is parameterised by the few
things TextOCR does differently (``converters/textocr.py``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterator

from dataconv.converters.base import PageConverter, TaskSpec, register
from dataconv.io.crop import CropSpec, Polygon, flat_points, xywh_polygon
from dataconv.errors import DataconvError, SampleRejected
from dataconv.io.imagefind import ImageIndex
from dataconv.page import Region, TextPage, page_runs
from dataconv.io.schema import load_json, validate
from dataconv.optionspec import Path, group, option


def labels_option(label_file: str) -> Any:
    """``--labels``: the annotation JSON, when it is not SRC/``label_file``."""
    return option(None, f"The annotation JSON [default: SRC/{label_file}].",
                  type=Path(dir_okay=False))


def sets_option() -> Any:
    return option((), "Keep only images of this imgs[].set (train, val; repeatable).",
                  flags=("--set",), multiple=True)


class CocoTextFamily(PageConverter):
    """``{"imgs", "anns", "imgToAnns"}`` JSON to crops; subclasses set the hooks."""

    label_file = ""
    polygon_key = ""

    def illegible(self, ann: dict[str, Any]) -> bool:
        raise NotImplementedError

    def polygon(self, ann: dict[str, Any]) -> Polygon:
        flat = ann.get(self.polygon_key) or []
        return flat_points(flat) if len(flat) >= 8 else xywh_polygon(*ann["bbox"])

    def pages(self) -> Iterator[TextPage]:
        """One page per run of annotations of one image, in the file's annotation order."""
        if not self.src.is_dir():
            raise DataconvError(f"{self.src}: -i must be the folder holding the images")
        labels = self.options.labels
        source = self.named_file(labels, "labels") if labels else self.inside(self.label_file)
        if not source.exists():
            raise DataconvError(f"{source}: no such annotation file; pass --labels FILE")
        name = os.path.basename(source.path)
        document = load_json(source)
        validate(document, self.schema, name)
        self.resolver = ImageResolver(self.src, document["imgs"], set(self.options.sets))
        regions = ((str(ann["image_id"]), self._region(str(ann_id), ann, f"{name}:anns[{ann_id}]"))
                   for ann_id, ann in document["anns"].items())
        yield from page_runs(regions, lambda image_id: self._page(image_id, name))

    def _page(self, image_id: str, name: str) -> TextPage:
        try:
            image: str | SampleRejected = self.resolver.image(image_id)
        except SampleRejected as e:
            image = e
        return TextPage(f"image:{image_id}", f"{name}:imgs[{image_id}]", self.src, image)

    def _region(self, ann_id: str, ann: dict[str, Any], where: str) -> Region:
        ignore = SampleRejected("illegible", repr(ann.get("utf8_string", ""))) if self.illegible(ann) else None
        try:
            points: Polygon | SampleRejected = self.polygon(ann)
        except (TypeError, ValueError) as e:
            points = SampleRejected("degenerate_box", f"{where}: {e}"[:200])
        return Region(ann_id, where, ann.get("utf8_string", ""), points, ignore=ignore)


class ImageResolver:
    """imgs[] id -> relative image path, looked up once per image."""

    def __init__(self, src: str, imgs: dict[str, Any], sets: set[str]) -> None:
        self.imgs, self.sets = imgs, sets
        self.index = ImageIndex(src)
        self.found: dict[str, str | SampleRejected] = {}

    def image(self, image_id: str) -> str:
        if image_id not in self.found:
            self.found[image_id] = self._lookup(image_id)
        hit = self.found[image_id]
        if isinstance(hit, SampleRejected):
            raise hit
        return hit

    def _lookup(self, image_id: str) -> str | SampleRejected:
        entry = self.imgs.get(image_id)
        if entry is None:
            return SampleRejected("unknown_image_id", f"image_id {image_id!r} has no imgs entry")
        if self.sets and entry.get("set") not in self.sets:
            return SampleRejected("excluded_set", f"set {entry.get('set')!r}")
        try:
            return self.index.find_name(entry["file_name"], near=os.path.dirname(entry["file_name"]))
        except SampleRejected as e:
            return e


@dataclass(frozen=True)
class CocoTextOptions:
    labels: str | None = labels_option("COCO_Text.json")
    sets: tuple[str, ...] = sets_option()
    crop: CropSpec = group(CropSpec)
    page: TaskSpec = group(TaskSpec)


@register("coco-text", help="COCO-Text v2 (COCO_Text.json + COCO images) to word crops",
          example="dataconv coco-text -i coco2014 --labels COCO_Text.json --set train -o out")
class CocoText(CocoTextFamily):
    schema = "coco-text"
    label_file = "COCO_Text.json"
    polygon_key = "mask"
    Options = CocoTextOptions

    def illegible(self, ann: dict[str, Any]) -> bool:
        return ann.get("legibility") == "illegible" or "utf8_string" not in ann
