"""AI Hub 한국어 글자체 이미지 › Text in the wild (``textinthewild_data_info.json``) as word
(or character) crops.

One JSON for every image, streamed element by element: ``images[]`` (``id`` a
zero-padded string, ``file_name`` 32 hex characters, ``type`` book | product | sign |
traffic sign) and ``annotations[]`` (``image_id``, ``text``, ``bbox = [x, y, w, h]``,
``attributes.class`` word | character | ignored). Images sit in category folders whose
names vary (``Signboard``/``Singboard``, doubled folders after unzipping): they are found
by the case-folded stem anywhere under SRC.

Rules: ``--kind`` keeps ``word`` boxes by default (``character``, ``sentence`` on
request; the others are ``excluded_kind``, since character boxes sit inside word
boxes); ``ignored`` boxes and null texts are ``dont_care``; a character box whose text
is not one character is ``broken_label``; an ``images[]`` entry whose file name an
earlier entry already gave is ``duplicate_file_name`` for each of its annotations (the
first is kept); a listed image missing on disk is ``missing_image``; an entry no
annotation names is ``unannotated_image``; boxes as in ``pagejson`` (never ``abs()``,
overshoot clamped by the crop).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterator

from dataconv.converters.aihub import find_label_file, id_text
from dataconv.converters.base import PageConverter, TaskSpec, encoding_option, register
from dataconv.converters.pagejson import StemIndex, box_or_reject, stem_key, xywh_box
from dataconv.errors import DataconvError, SampleRejected
from dataconv.io.crop import CropSpec
from dataconv.io.jsonstream import JsonArrays
from dataconv.optionspec import Choice, Path, group, option
from dataconv.page import Region, TextPage, page_runs
from dataconv.sample import Reject

LABEL_FILE = "textinthewild_data_info.json"
CLASSES = ("character", "sentence", "word")
IGNORED = "ignored"


@dataclass(frozen=True)
class TiwOptions:
    labels: str | None = option(None, f"The label JSON [default: {LABEL_FILE} found under SRC].",
                                type=Path(dir_okay=False))
    kinds: tuple[str, ...] = option(("word",), "Keep boxes of this attributes.class (repeatable).",
                                    flags=("--kind",), type=Choice(CLASSES), multiple=True,
                                    show_default=True)
    crop: CropSpec = group(CropSpec)
    page: TaskSpec = group(TaskSpec)
    encoding: str = encoding_option()


class Images:
    """images[].id -> the image file, or why its annotations cannot be used."""

    def __init__(self, entries: Iterator[dict[str, Any]], index: StemIndex) -> None:
        self.index = index
        self.names: dict[str, str] = {}  # image id -> file_name
        self.first: dict[str, str] = {}  # stem key -> the first image id that named it
        self.duplicates: dict[str, str] = {}  # image id -> detail
        for pos, entry in enumerate(entries):
            image_id, name = id_text(entry["id"]), entry["file_name"]
            owner = self.first.setdefault(stem_key(name), image_id)
            if owner != image_id:
                self.duplicates[image_id] = f"{name} is also images[] id {owner!r} (the first is kept)"
            self.names.setdefault(image_id, name)
        self.found: dict[str, str | SampleRejected] = {}

    def image(self, image_id: str) -> str:
        if image_id in self.duplicates:
            raise SampleRejected("duplicate_file_name", self.duplicates[image_id])
        if image_id not in self.names:
            raise SampleRejected("unknown_image_id", f"image_id {image_id!r} has no images[] entry")
        if image_id not in self.found:
            try:
                self.found[image_id] = self.index.find(self.names[image_id])
            except SampleRejected as e:
                self.found[image_id] = e
        hit = self.found[image_id]
        if isinstance(hit, SampleRejected):
            raise SampleRejected(hit.reason, hit.detail)
        return hit


@register("aihub-tiw", help="AI Hub Text in the wild (textinthewild_data_info.json + photos) to word crops",
          example="dataconv aihub-tiw -i '04. Text in the wild' -o out --kind word")
class AiHubTiw(PageConverter):
    schema = "aihub-tiw"
    Options = TiwOptions

    def pages(self) -> Iterator[TextPage | Reject]:
        """One page per run of annotations of one image (the file lists them image by image;
        the detection output joins runs of the same page)."""
        if not self.src.is_dir():
            raise DataconvError(f"{self.src}: -i must be the folder holding the images")
        labels = self.options.labels
        source = self.named_file(labels, "labels") if labels else self.inside(find_label_file(self.src, LABEL_FILE))
        name = os.path.basename(source.path)
        label_file = JsonArrays(source, self.schema, name, self.options.encoding)
        self.images = Images(label_file.items("images"), StemIndex(self.src))
        used: set[str] = set()

        def regions() -> Iterator[tuple[str, Region]]:
            for pos, ann in enumerate(label_file.items("annotations")):
                image_id = id_text(ann["image_id"])
                used.add(image_id)
                yield image_id, self._region(pos, ann, f"{name}:annotations[{pos}]")

        yield from page_runs(regions(), lambda image_id: self._page(image_id, name))
        for image_id, file_name in self.images.names.items():
            if image_id not in used:
                yield Reject(f"{name}:images[id={image_id}]", "unannotated_image",
                             f"image {image_id!r} ({file_name}) has no annotation", f"image:{image_id}")

    def _page(self, image_id: str, name: str) -> TextPage:
        try:
            image: str | SampleRejected = self.images.image(image_id)
        except SampleRejected as e:
            image = e
        return TextPage(f"image:{image_id}", f"{name}:images[id={image_id}]", self.src, image, [], clamp=True)

    def _region(self, pos: int, ann: dict[str, Any], where: str) -> Region:
        sid = id_text(ann["id"]) if "id" in ann else f"annotations[{pos}]"
        kind, text = ann["attributes"]["class"], ann["text"]
        ignore = skip = None
        if kind == IGNORED or text is None:
            ignore = SampleRejected("dont_care", f"class {kind!r}, text {text!r}")
        elif kind not in self.options.kinds:
            skip = SampleRejected("excluded_kind", f"attributes.class {kind!r}")
        elif kind == "character" and len(text.strip()) != 1:
            ignore = SampleRejected("broken_label", f"a character box labelled {text[:40]!r}")
        return Region(sid, where, text, box_or_reject(xywh_box, ann["bbox"]), ignore=ignore, skip=skip,
                      meta={"class": kind})
