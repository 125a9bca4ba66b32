"""NDL みんなで翻刻 (minhon) one-line data, and the same pairing as Calamari/OCRopus.

Line data: ``x.jpg`` (or ``.png``; OCRopus ``x.bin.png``) beside ``x.txt`` or ``x.gt.txt``;
the label is the text file's content without its trailing newline(s). Page data:
``x.jpg`` beside ``x.json``, a list of ``{"boundingBox": [[x, y] x 4], "text",
"isVertical", "isTextline"}`` (also NDLOCR's ``{"contents": [[...]]}``), cut into line
crops. The book and page ids in minhon names (``BOOK-001_0.jpg``) go into ``meta``.

A plain ``.txt`` or ``.json`` with no image beside it is not taken for a label (codec
lists, notes, binders); an orphan ``.gt.txt`` is a ``missing_image`` reject.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Iterator

from dataconv.converters.base import PageConverter, TaskSpec, encoding_option, register
from dataconv.io.crop import CropSpec, image_ref
from dataconv.errors import DataconvError, SampleRejected
from dataconv.io.imagefind import is_image, walk_files
from dataconv.io.safeopen import DEFAULT_LIMITS
from dataconv.io.source import Root, SourceRoot
from dataconv.page import Region, TextPage, crops, points_of
from dataconv.sample import Parsed, Reject, Sample
from dataconv.io.schema import load_json, validate
from dataconv.optionspec import Choice, group, option

NAME = re.compile(r"^(?P<book>[0-9A-Za-z]+)-(?P<page>\d+)(?:_(?P<line>\d+))?$")
LABEL_SUFFIXES = (".gt.txt", ".txt")
IMAGE_INFIXES = (".bin", ".nrm")  # OCRopus binarised / normalised line images
TRUE = {True, "true", "True"}


def file_key(name: str) -> tuple[str, str] | None:
    """(pair key, kind) of a file name; kind is image, gt, txt or json."""
    if is_image(name):
        stem = os.path.splitext(name)[0]
        for infix in IMAGE_INFIXES:
            stem = stem[: -len(infix)] if stem.endswith(infix) else stem
        return stem, "image"
    for suffix, kind in ((".gt.txt", "gt"), (".txt", "txt"), (".json", "json")):
        if name.endswith(suffix):
            return name[: -len(suffix)], kind
    return None


def pair_files(src: str) -> dict[str, dict[str, list[str]]]:
    """Relative key path -> kind -> relative file paths, in a stable order."""
    groups: dict[str, dict[str, list[str]]] = {}
    for rel in walk_files(src):
        keyed = file_key(os.path.basename(rel))
        if keyed:
            key = os.path.join(os.path.dirname(rel), keyed[0])
            groups.setdefault(key, {}).setdefault(keyed[1], []).append(rel)
    return groups


def book_meta(key: str) -> dict[str, str]:
    m = NAME.match(os.path.basename(key))
    return {"book": m["book"], "page": f"{m['book']}-{m['page']}"} if m else {}


def read_label(root: Root, rel: str, encoding: str, follow_symlinks: bool = False) -> str:
    """The text of the per-image label file ``rel`` (confined to ``root``, a regular file,
    at most ``Limits.label_bytes``: one line of text, never read whole when it is not)."""
    limit = DEFAULT_LIMITS.label_bytes
    with SourceRoot.of(root).open(rel, follow_symlinks) as f:
        raw = f.read(limit + 1)
    if len(raw) > limit:
        raise SampleRejected("label_too_big", f"{rel} is over {limit} bytes: not a line label")
    text = raw.decode("utf-8-sig" if encoding.lower().replace("-", "") == "utf8" else encoding)
    return text.rstrip("\r\n")


def page_lines(document: Any) -> Any:
    """The flat list of lines of a page, whichever of the three layouts it came in."""
    if isinstance(document, dict) and isinstance(document.get("contents"), list):
        document = document["contents"]
    if isinstance(document, list) and document and all(isinstance(d, list) for d in document):
        document = [line for block in document for line in block]
    return document


class Labels:
    """Label text as the options want it."""

    def __init__(self, ideographic_space: str) -> None:
        self.ideographic_space = ideographic_space

    def __call__(self, text: str) -> str:
        return text.replace("\u3000", " ") if self.ideographic_space == "space" else text


@dataclass(frozen=True)
class MinhonOptions:
    crop: CropSpec = group(CropSpec, vertical_ratio=1.0)
    page: TaskSpec = group(TaskSpec)
    ideographic_space: str = option("keep", "Keep U+3000 in labels, or write it as an ASCII space.",
                                    type=Choice(("keep", "space")), show_default=True)
    encoding: str = encoding_option()


@register("minhon", help="NDL minhon line pairs (x.jpg + x.txt / x.gt.txt) or page JSON to line crops",
          example="dataconv minhon -i minhon_lines --rotate-vertical --max-height 96 -o out")
class Minhon(PageConverter):
    schema = "minhon"
    Options = MinhonOptions

    def samples(self) -> Iterator[Parsed]:
        """Line pairs as they are; page JSONs through their pages' crops."""
        for key, kinds, page in self._groups():
            if page is not None:
                yield from crops(iter([page]), self.spec)
            else:
                yield from self._group(key, kinds)

    def pages(self) -> Iterator[TextPage | Reject]:
        """The page JSONs; a line pair is a line, not a page (``not_a_page`` for detection)."""
        for key, kinds, page in self._groups():
            if page is not None:
                yield page
            elif kinds.get("image") or kinds.get("gt"):  # a lone .txt or .json is no label, as in samples()
                where = (kinds.get("image") or kinds.get("gt"))[0]
                yield Reject(where, "not_a_page", "a line image with its text: no boxes to detect", key)

    def _groups(self) -> Iterator[tuple[str, dict[str, list[str]], TextPage | None]]:
        if not self.src.is_dir():
            raise DataconvError(f"{self.src}: -i must be the folder of line images and their texts")
        self.spec = self.options.crop
        self.labels = Labels(self.options.ideographic_space)
        for key, kinds in sorted(pair_files(self.src).items()):
            images, texts = kinds.get("image", []), kinds.get("gt", []) + kinds.get("txt", [])
            is_page = len(images) == 1 and not texts and len(kinds.get("json", [])) == 1
            yield key, kinds, self._page(key, images[0], kinds["json"][0]) if is_page else None

    def _group(self, key: str, kinds: dict[str, list[str]]) -> Iterator[Parsed]:
        images = kinds.get("image", [])
        texts = kinds.get("gt", []) + kinds.get("txt", [])
        if not images:
            for rel in kinds.get("gt", []):
                yield Reject(rel, "missing_image", f"no image beside {rel}", key)
        elif len(images) > 1:
            yield Reject(images[0], "ambiguous_image", f"{', '.join(images)} share one label", key)
        elif len(texts) + len(kinds.get("json", [])) > 1:
            yield Reject(images[0], "ambiguous_label", f"several labels for {images[0]}", key)
        elif texts:
            yield self._line(key, images[0], texts[0])
        else:
            yield Reject(images[0], "missing_label", f"no .txt, .gt.txt or .json beside {images[0]}", key)

    def _line(self, key: str, image: str, text: str) -> Parsed:
        try:
            label = read_label(self.src, text, self.options.encoding, self.follow_symlinks)
        except SampleRejected as e:
            return Reject(text, e.reason, e.detail, key)
        except (OSError, UnicodeDecodeError) as e:
            return Reject(text, "unreadable_label", str(e)[:200], key)
        if "\n" in label or "\r" in label:
            return Reject(text, "multiline_label", repr(label[:80]), key)
        return Sample(id=key, label=self.labels(label), source=text, meta=book_meta(key),
                      image=image_ref(self.src, image, self.spec))

    def _page(self, key: str, image: str, rel_json: str) -> TextPage:
        lines = page_lines(load_json(self.inside(rel_json), self.options.encoding))
        validate(lines, self.schema, rel_json)
        regions = []
        for k, line in enumerate(lines):
            skip = None if line.get("isTextline", True) in TRUE else SampleRejected("not_textline", "isTextline is false")
            vertical = line.get("isVertical") in TRUE if "isVertical" in line else None
            regions.append(Region(f"{key}#{k}", f"{rel_json}[{k}]", self.labels(line["text"]),
                                  points_of(line["boundingBox"]), skip=skip, vertical=vertical,
                                  reading_order=False))
        return TextPage(key, rel_json, self.src, image, regions, meta=book_meta(key))
