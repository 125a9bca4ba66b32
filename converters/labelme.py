"""labelme JSON (one file per image, as labelme and AnyLabeling save it) as word crops.

``shapes[]`` hold ``points`` in pixels and ``shape_type``: ``rectangle`` (two opposite
corners in any order), ``polygon`` (four points are rectified, more become their
minimum-area rectangle; corners are taken in geometric order, since annotators start
anywhere), a missing ``shape_type`` (labelme before 2018) is a polygon; ``circle``,
``line``, ``linestrip``, ``point`` and ``mask`` are ``unsupported_shape``. The text is
the first non-empty of ``--text-keys`` (default: a per-shape ``text``, then
``description``, then ``label``); a text in ``--dont-care`` is ``dont_care``.

The image: ``imagePath`` relative to the JSON's folder (Windows ``\\`` separators
accepted), else the image with the stem of ``imagePath`` or of the JSON anywhere
under SRC, else the page embedded as base64 in ``imageData``. Points may overshoot
the page a little: they are clamped onto it.
"""
from __future__ import annotations

import base64
import binascii
import os
import posixpath
from dataclasses import dataclass
from typing import Any

from dataconv.converters.base import encoding_option, register
from dataconv.converters.base import TaskSpec
from dataconv.converters.pagejson import PerImageJson, numbers
from dataconv.errors import SampleRejected
from dataconv.io.crop import CropSpec, Polygon
from dataconv.optionspec import group, option
from dataconv.page import Region, TextPage

TEXT_SHAPES = ("polygon", "rectangle")


@dataclass(frozen=True)
class LabelmeOptions:
    text_keys: str = option("text,description,label", "Where the transcription is: shape keys in "
                            "order, the first non-empty one wins.", show_default=True)
    dont_care: tuple[str, ...] = option(("###",), "A text meaning 'unreadable' (repeatable).",
                                        multiple=True, show_default=True)
    crop: CropSpec = group(CropSpec)
    page: TaskSpec = group(TaskSpec)
    encoding: str = encoding_option()


def shape_points(shape: dict[str, Any], what: str) -> Polygon:
    """The shape's corners in pixels, or SampleRejected."""
    kind = shape.get("shape_type") or "polygon"
    if kind not in TEXT_SHAPES:
        raise SampleRejected("unsupported_shape", f"{what}: shape_type {kind!r} is no text box")
    raw = shape.get("points")
    if not isinstance(raw, list) or not all(isinstance(p, list) for p in raw):
        raise SampleRejected("degenerate_box", f"{what}: points {str(raw)[:80]} are not [x, y] pairs")
    points = [tuple(numbers(p, 2, f"{what}.points")) for p in raw]
    if kind == "rectangle":
        if len(points) != 2:
            raise SampleRejected("degenerate_box", f"{what}: a rectangle has 2 points, not {len(points)}")
        (ax, ay), (bx, by) = points
        x0, x1, y0, y1 = min(ax, bx), max(ax, bx), min(ay, by), max(ay, by)
        return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    return tuple(points)


class PageImage:
    """Where the pixels of one labelme file come from."""

    def __init__(self, rel: str | None, data: bytes | None = None, failure: SampleRejected | None = None):
        self.rel, self.data, self.failure = rel, data, failure


@register("labelme", help="labelme / AnyLabeling JSON (one per image) to word crops",
          example="dataconv labelme -i labelled -o out --text-keys description,label")
class Labelme(PerImageJson):
    schema = "labelme"
    Options = LabelmeOptions
    illegible_marker = False

    def page(self, document: Any, rel: str) -> TextPage:
        image = self.locate(document, rel)
        keys = [k.strip() for k in self.options.text_keys.split(",") if k.strip()]
        stem = os.path.splitext(rel)[0]
        regions = [self.shape_region(shape, pos, keys, stem, rel) for pos, shape in enumerate(document["shapes"])]
        located: str | SampleRejected = image.failure if image.failure is not None else image.rel
        return TextPage(stem, rel, self.src, located, regions, clamp=True, data=image.data)

    def shape_region(self, shape: dict[str, Any], pos: int, keys: list[str], stem: str, rel: str) -> Region:
        text = next((shape[k] for k in keys if isinstance(shape.get(k), str) and shape[k].strip()), None)
        ignore = None
        if text is None or text in self.options.dont_care:
            ignore = SampleRejected("dont_care", f"text {text!r}")
        try:
            points: Polygon | SampleRejected = shape_points(shape, f"shapes[{pos}]")
        except SampleRejected as e:
            points = e
        return Region(f"{stem}#shapes[{pos}]", f"{rel}:shapes[{pos}]", text, points, ignore=ignore,
                      reading_order=False)

    def locate(self, document: Any, rel: str) -> PageImage:
        """``imagePath`` beside the JSON, else by stem, else the embedded ``imageData``."""
        named = (document.get("imagePath") or "").replace("\\", "/")
        if named:
            beside = posixpath.normpath(posixpath.join(posixpath.dirname(rel), named))
            if beside in self.index.paths:
                return PageImage(beside)
        failure: SampleRejected | None = None
        for name in filter(None, (named, rel)):
            try:
                return PageImage(self.index.find(posixpath.basename(name)))
            except SampleRejected as e:
                failure = failure or e
        embedded = document.get("imageData")
        if embedded:
            try:
                return PageImage(f"{rel}#imageData", base64.b64decode(embedded, validate=True))
            except (binascii.Error, ValueError):
                return PageImage(None, failure=SampleRejected("undecodable_image", f"{rel}: imageData is not base64"))
        return PageImage(None, failure=failure)
