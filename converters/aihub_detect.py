"""``dataconv aihub --type auto``: which AI Hub set a folder holds, from the key shape of
its label files (``info.name`` is copied between sets and cannot be trusted).

Each candidate ``.json`` under SRC is streamed (ijson events, confined and bounded like
every input) only until its shape decides, so a 400 MB Text in the wild file costs the
first two ``images[]`` elements, not a parse:

| shape | set |
|---|---|
| ``images[]`` of more than one entry, first without ``type``; ``annotations[].attributes.type`` | 한국어 글자체 handwriting / printed (``htr``) |
| ``images[0]`` with ``type`` (book, product, sign, traffic sign) | Text in the wild (``aihub-tiw``) |
| ``images[0]`` with ``"image.file.name"`` (a dotted key) | 공공행정문서 (``aihub-admin``) |
| one ``images[]`` entry with ``file_name``; ``annotations[]`` with ``bbox`` | 야외 실제 촬영 (``aihub-outdoor``) |
| ``image{}`` and ``text{}`` at the top | 다양한 형태 (``aihub-forms``) |
| ``Images{}`` (an object, any case) and ``bbox``/``Bbox`` | NIA 2021+ (``aihub-nia``) |
"""
from __future__ import annotations

from typing import Any, Iterator

import ijson

from dataconv.converters.pagejson import json_files
from dataconv.errors import DataconvError
from dataconv.io.safeopen import DEFAULT_LIMITS, InputFile, open_input
from dataconv.io.textfile import check_bom

MAX_CANDIDATES = 50  # label files looked at; a set is thousands of files of one shape
MAX_EVENTS = 100_000  # per file: a shape decides within its first elements


class Shape:
    """What the events of one file have shown so far."""

    def __init__(self) -> None:
        self.top: dict[str, str] = {}  # lower-cased top-level key -> the event that opened it
        self.first_image: set[str] = set()
        self.images = 0  # elements of images[] started
        self.first_annotation: set[str] = set()
        self.annotation_done = False

    def feed(self, prefix: str, event: str, value: Any) -> None:
        if prefix == "" and event == "map_key":
            self.top[value.lower()] = ""
        elif "." not in prefix and prefix and prefix.lower() in self.top and not self.top[prefix.lower()]:
            self.top[prefix.lower()] = event
        elif prefix == "images.item" and event == "start_map":
            self.images += 1
        elif prefix == "images.item" and event == "map_key" and self.images == 1:
            self.first_image.add(value)
        elif prefix in ("annotations.item", "annotations.item.attributes") and event == "map_key" \
                and not self.annotation_done:
            self.first_annotation.add(value if prefix == "annotations.item" else f"attributes.{value}")
        elif prefix == "annotations.item" and event == "end_map":
            self.annotation_done = True

    def verdict(self, final: bool) -> str | None:
        """The set this shape is, None while undecided (or, when ``final``, for no set)."""
        if self.top.get("images") == "start_map" and "bbox" in self.top:
            return "nia"
        if self.top.get("image") == "start_map" and self.top.get("text") == "start_map":
            return "forms"
        if "image.file.name" in self.first_image:
            return "admin"
        if "type" in self.first_image:
            return "tiw"
        if self.images > 1 and "file_name" in self.first_image:
            return "htr"
        if self.annotation_done or final:
            if "attributes.type" in self.first_annotation:
                return "htr"
            if self.images == 1 and "bbox" in self.first_annotation:
                return "outdoor"
        return None


def events(source: InputFile) -> Iterator[tuple[str, str, Any]]:
    with open_input(source, DEFAULT_LIMITS.streamed_bytes) as f:
        f.seek(len(check_bom(f.read(4), "utf-8", source.path)))
        yield from ijson.parse(f)


def shape_of(source: InputFile) -> str | None:
    """The set one label file belongs to, or None (not JSON, or no known shape)."""
    shape = Shape()
    try:
        for count, (prefix, event, value) in enumerate(events(source)):
            shape.feed(prefix, event, value)
            found = shape.verdict(final=False)
            if found or count > MAX_EVENTS:
                return found
    except (ijson.JSONError, UnicodeDecodeError, DataconvError):
        return None
    return shape.verdict(final=True)


def detect(src: str, follow_symlinks: bool = False) -> tuple[str, list[str]]:
    """(set, label files of that shape) for the folder ``src``; a one-line error when no
    label file has a known shape, or when the files show several sets."""
    found: dict[str, list[str]] = {}
    for rel in json_files(src)[:MAX_CANDIDATES]:
        kind = shape_of(InputFile.inside(src, rel, follow_symlinks))
        if kind is not None:
            found.setdefault(kind, []).append(rel)
    if not found:
        raise DataconvError(f"{src}: no AI Hub label file of a known shape in the first "
                            f"{MAX_CANDIDATES} .json files; name the set with --type")
    if len(found) > 1:
        seen = "; ".join(f"{kind}: {files[0]}" for kind, files in sorted(found.items()))
        raise DataconvError(f"{src}: label files of several AI Hub sets ({seen}); convert each "
                            "folder on its own")
    return next(iter(found.items()))
