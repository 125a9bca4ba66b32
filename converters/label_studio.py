"""Label Studio's full JSON export (the OCR template) as word crops.

The export is an array of tasks: ``data.<key>`` names the image (``/data/upload/3/
8f2c1d0a-name.jpg``, ``/data/local-files/?d=rel/name.jpg``, ``s3://bucket/name.jpg``,
URL-encoded), ``annotations[]`` hold ``result[]``. Every result of one region shares its
``id``: the geometry (``rectangle``/``rectanglelabels``/``polygon``/``polygonlabels``),
``labels`` and the ``textarea`` whose ``value.text`` list is the transcription (several
entries joined by a space). Coordinates are percent of ``original_width``/
``original_height``; ``value.rotation`` turns a rectangle clockwise about its top-left
corner (``(x, y)``), honoured by cropping the turned rectangle. A textarea alone
carries its rectangle.

Which annotation: those with ``was_cancelled`` are skipped; then the ``ground_truth``
one, else the latest ``updated_at`` (the last listed on a tie). ``predictions`` are used
only with ``--predictions`` and only for a task without a usable annotation. A task left
with none is ``unannotated_image``; a region without a transcription
``missing_label``; a region on an image rotated in the UI (``image_rotation``)
``rotated_in_tool``. The image is found under ``-i`` by its exact name, else by the
name without Label Studio's 8-hex upload prefix.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import parse_qs, unquote, urlparse

from dataconv.converters.base import PageConverter, TaskSpec, register
from dataconv.converters.pagejson import StemIndex, numbers, positive_size
from dataconv.errors import DataconvError, SampleRejected
from dataconv.io.crop import CropSpec, Polygon
from dataconv.io.safeopen import InputFile
from dataconv.io.schema import load_json, validate
from dataconv.optionspec import Path, group, option
from dataconv.page import Region, TextPage
from dataconv.sample import Reject

UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")
RECTANGLES = {"rectangle", "rectanglelabels", "textarea"}
POLYGONS = {"polygon", "polygonlabels"}


@dataclass(frozen=True)
class LabelStudioOptions:
    export: str = option(help="The Label Studio export (JSON, full format).",
                         type=Path(exists=True, dir_okay=False))
    data_key: str | None = option(None, "The task's data key naming the image [default: the only "
                                        "string in data, else ocr or image].")
    predictions: bool = option(False, "Use a task's predictions when it has no usable annotation.")
    crop: CropSpec = group(CropSpec)
    page: TaskSpec = group(TaskSpec)


def image_name(reference: str) -> str:
    """The file name a task's image reference points at (URL-decoded)."""
    parsed = urlparse(reference)
    local = parse_qs(parsed.query).get("d")
    path = local[0] if local else unquote(parsed.path)
    return os.path.basename(path.replace("\\", "/"))


def pick_annotation(task: dict[str, Any], predictions: bool) -> dict[str, Any] | None:
    usable = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
    if not usable and predictions:
        usable = [p for p in task.get("predictions") or [] if isinstance(p, dict)]
    if not usable:
        return None
    truth = [a for a in usable if a.get("ground_truth") is True]
    return (truth or sorted(usable, key=lambda a: str(a.get("updated_at") or "")))[-1]


def rotated_rectangle(x: float, y: float, w: float, h: float, degrees: float) -> Polygon:
    """Corners of a w x h rectangle turned ``degrees`` clockwise (y down) about (x, y)."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    p1 = (x + w * c, y + w * s)
    return ((x, y), p1, (p1[0] - h * s, p1[1] + h * c), (x - h * s, y + h * c))


def region_polygon(results: list[dict[str, Any]], what: str) -> Polygon:
    """The region's corners in pixels from its geometry result (else its textarea)."""
    ordered = sorted(results, key=lambda r: (r.get("type") == "textarea", r.get("type") == "labels"))
    for result in ordered:
        kind, value = result.get("type"), result.get("value") or {}
        if kind not in RECTANGLES | POLYGONS or (kind in RECTANGLES and "width" not in value):
            continue
        if result.get("image_rotation"):
            raise SampleRejected("rotated_in_tool", f"{what}: image_rotation {result['image_rotation']!r}")
        width, height = numbers([result.get("original_width"), result.get("original_height")], 2,
                                f"{what} original_width/height")
        if kind in POLYGONS:
            points = value.get("points") or []
            return tuple((px * width / 100, py * height / 100)
                         for px, py in (numbers(p, 2, f"{what} points") for p in points))
        x, y, w, h = numbers([value.get(k) for k in ("x", "y", "width", "height")], 4, what)
        positive_size(w, h, what)  # Label Studio never stores a negative size: a broken export
        rotation = numbers([value.get("rotation", 0) or 0], 1, f"{what} rotation")[0]
        return rotated_rectangle(x * width / 100, y * height / 100, w * width / 100, h * height / 100, rotation)
    raise SampleRejected("degenerate_box", f"{what}: no rectangle or polygon")


def region_text(results: list[dict[str, Any]]) -> str | None:
    for result in results:
        if result.get("type") == "textarea":
            texts = (result.get("value") or {}).get("text")
            texts = [texts] if isinstance(texts, str) else texts or []
            joined = " ".join(t.strip() for t in texts if isinstance(t, str) and t.strip())
            return joined or None
    return None


@register("label-studio", help="Label Studio JSON export (OCR template) + image folder to word crops",
          example="dataconv label-studio -i images --export project-3.json -o out")
class LabelStudio(PageConverter):
    schema = "label-studio"
    Options = LabelStudioOptions

    def pages(self) -> Iterator[TextPage | Reject]:
        if not self.src.is_dir():
            raise DataconvError(f"{self.src}: -i must be the folder holding the task images")
        source = InputFile.user(self.options.export)
        name = os.path.basename(source.path)
        tasks = load_json(source)
        validate(tasks, self.schema, name)
        self.index = StemIndex(self.src)
        for pos, task in enumerate(tasks):
            yield self._task(task, f"{name}:[{pos}]", str(task.get("id", pos)))

    def _task(self, task: dict[str, Any], where: str, task_id: str) -> TextPage | Reject:
        annotation = pick_annotation(task, self.options.predictions)
        if annotation is None:
            return Reject(where, "unannotated_image", "no annotation that is not cancelled", f"task:{task_id}")
        try:
            image: str | SampleRejected = self._image(task)
        except SampleRejected as e:
            image = e
        regions: dict[str, list[dict[str, Any]]] = {}
        for result in annotation.get("result") or []:
            if isinstance(result, dict):
                regions.setdefault(str(result.get("id")), []).append(result)
        return TextPage(f"task:{task_id}", where, self.src, image, clamp=True, regions=[
            self._region(results, f"{where}:{region_id}", f"{task_id}#{region_id}")
            for region_id, results in regions.items()])

    @staticmethod
    def _region(results: list[dict[str, Any]], where: str, sid: str) -> Region:
        text = region_text(results)
        try:
            polygon: Polygon | SampleRejected = region_polygon(results, where)
        except SampleRejected as e:
            polygon = e
        ignore = SampleRejected("missing_label", "the region has no transcription (textarea)") if text is None else None
        return Region(sid, where, text, polygon, ignore=ignore,
                      reading_order=not any(r.get("type") in POLYGONS for r in results))

    def _image(self, task: dict[str, Any]) -> str:
        data = task.get("data") or {}
        key = self.options.data_key
        if key is None:
            strings = [k for k, v in data.items() if isinstance(v, str)]
            key = strings[0] if len(strings) == 1 else next((k for k in ("ocr", "image") if k in data), None)
        reference = data.get(key) if key else None
        if not isinstance(reference, str) or not reference:
            raise SampleRejected("missing_image", f"task data has no image reference (keys {sorted(data)[:5]})")
        name = image_name(reference)
        try:
            return self.index.find(name)
        except SampleRejected:
            bare = UPLOAD_PREFIX.sub("", name)
            if bare == name:
                raise
            return self.index.find(bare)
