"""AI Hub "한국어 글자체 이미지" (Korean handwriting / printed text images).

The download unzips to a label file (``handwriting_data_info1.json`` or
``printed_data_info.json``) and images in nested folders. The JSON has ``images``
(``id``, ``file_name``, ...) and ``annotations`` (``id``, ``image_id``, ``text``,
``attributes.type`` = 문장 | 단어(어절) | 글자(음절)); ``image_id`` joins ``images[].id``.
Images are found by ``file_name`` anywhere under the source folder (in the other Unicode
normal form when the exact name is missing: macOS zips store Hangul names as NFD).

Join policy: ``image_id`` and ``images[].id`` join by exact text. A JSON number is its
decimal text (``2`` and ``"2"`` join), but ``2`` never joins ``"00000002"``: zero-padded
ids are names, and guessing across padding could pair a label with the wrong image. Such
a near miss is rejected as ``unknown_image_id`` with a detail naming the padded id.

``--type auto`` recognises every AI Hub OCR set by the key shape of its label files
(``aihub_detect``): handwriting and printed are read here, the other sets by their own
format (``aihub-tiw``, ``aihub-outdoor``, ``aihub-forms``, ``aihub-admin``,
``aihub-nia``) with its default options and this command's ``--encoding``; their own
switches (``--kind``, crop options) are on their own commands.
"""
from __future__ import annotations

import dataclasses
import os
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from dataconv.converters.aihub_detect import detect
from dataconv.converters.base import PageConverter, TaskSpec, encoding_option, load, register
from dataconv.errors import DataconvError, UsageError
from dataconv.io.jsonstream import JsonArrays
from dataconv.io.imagefind import lookup, walk_files
from dataconv.optionspec import Choice, Path, group, option
from dataconv.page import TextPage
from dataconv.sample import FileImage, Parsed, Reject, Sample

LABEL_FILES = {"htr": "handwriting_data_info1.json", "printed": "printed_data_info.json"}
KINDS = {"sentence": "문장", "word": "단어(어절)", "syllable": "글자(음절)"}
AUTO = "auto"
FAMILY = {"tiw": "aihub-tiw", "outdoor": "aihub-outdoor", "forms": "aihub-forms", "admin": "aihub-admin",
          "nia": "aihub-nia"}  # what --type auto may find, besides handwriting/printed


def find_label_file(src: str, name: str) -> str:
    """The path relative to ``src`` of the one file called ``name`` under it."""
    found = [rel for rel in walk_files(src) if os.path.basename(rel) == name]
    hits = [os.path.join(src, rel) for rel in found]
    if not hits:
        raise DataconvError(f"{src}: no {name} found under the source folder; pass --labels FILE")
    if len(hits) > 1:
        raise DataconvError(f"{src}: several {name} files ({', '.join(hits)}); choose one with --labels")
    return found[0]


def index_files(src: str, skip: str) -> dict[str, list[str]]:
    """Base name -> relative paths of every file under ``src`` (the label file excluded)."""
    index: dict[str, list[str]] = {}
    for rel in walk_files(src):
        if os.path.abspath(os.path.join(src, rel)) != skip:
            index.setdefault(os.path.basename(rel), []).append(rel)
    return index


def id_text(value: Any) -> str:
    """An id as the text it joins by: strings as written, numbers in decimal (``2.0`` -> ``2``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def number_text(text: str) -> str | None:
    """ASCII digits without their leading zeros (``00000002`` -> ``2``), else None. Never
    ``int()``: an id of more than 4300 digits is text like any other."""
    return (text.lstrip("0") or "0") if text.isascii() and text.isdigit() else None


class ImageTable:
    """images[].id -> [(position, file_name)], keeping duplicates visible."""

    def __init__(self, images: Iterable[dict[str, Any]]) -> None:
        self.by_id: dict[str, list[tuple[int, str]]] = {}
        for pos, entry in enumerate(images):
            self.by_id.setdefault(id_text(entry["id"]), []).append((pos, entry["file_name"]))
        self._by_number: dict[str, str] | None = None

    def get(self, image_id: str) -> list[tuple[int, str]]:
        return self.by_id.get(image_id, [])

    def near_miss(self, image_id: str) -> str | None:
        """An id equal to ``image_id`` as a number but not as text (``2`` vs ``00000002``)."""
        number = number_text(image_id)
        if number is None:
            return None
        if self._by_number is None:
            self._by_number = {}
            for key in self.by_id:
                key_number = number_text(key)
                if key_number is not None:
                    self._by_number.setdefault(key_number, key)
        return self._by_number.get(number)


def unknown_image(table: ImageTable, raw_id: Any, where: str, ann_id: str) -> Reject:
    detail = f"image_id {raw_id!r} has no images[] entry"
    near = table.near_miss(id_text(raw_id))
    if near is not None:
        detail += f" (images[] has id {near!r}: ids join by exact text, not by number)"
    return Reject(where, "unknown_image_id", detail, ann_id)


def check_kinds(wanted: set[str], seen: Counter[str]) -> None:
    """``--kind`` that selects no annotation is a usage error naming the kinds present."""
    if wanted and not wanted & seen.keys():
        present = ", ".join(f"{kind} ({n})" for kind, n in seen.most_common())
        asked = ", ".join(sorted(wanted))
        raise UsageError(f"--kind selects no annotation (attributes.type {asked}); "
                               f"attributes.type values present: {present or 'none'}")


@dataclass(frozen=True)
class AiHubOptions:
    type: str = option("htr", "htr: handwriting_data_info1.json; printed: printed_data_info.json; "
                              "auto: any AI Hub OCR set, recognised by the key shape of its label files.",
                       type=Choice((AUTO, *sorted(LABEL_FILES))), show_default=True)
    labels: str | None = option(None, "The label JSON [default: found by name under SRC].",
                                type=Path(dir_okay=False))
    kinds: tuple[str, ...] = option((), "Keep only these attributes.type values (repeatable) [default: all].",
                                    flags=("--kind",), type=Choice(tuple(sorted(KINDS))), multiple=True)
    page: TaskSpec = group(TaskSpec)
    encoding: str = encoding_option()


@register("aihub", help="AI Hub Korean handwriting/printed text images (images + annotations JSON)",
          example="dataconv aihub --type htr -i 한국어글자체 -o out --kind sentence")
class AiHub(PageConverter):
    schema = "aihub"
    Options = AiHubOptions

    def pages(self) -> Iterator[TextPage | Reject]:
        """The pages of a photographed or scanned set found by ``--type auto``; handwriting and
        printed images are single text images, not pages."""
        kind = detect(self.src, self.follow_symlinks)[0] if self.options.type == AUTO and self.src.is_dir() else None
        if kind not in FAMILY:
            raise UsageError(f"--task det: {self.src} holds AI Hub {kind or self.options.type} images, one text "
                             "each, not pages with boxes; use --task rec")
        yield from self._delegate(FAMILY[kind], "pages")

    def samples(self) -> Iterator[Parsed]:
        if not self.src.is_dir():
            raise DataconvError(f"{self.src}: -i must be the AI Hub folder (or its .zip/.tar)")
        labels = self.options.labels
        if self.options.type == AUTO and not labels:
            kind, files = detect(self.src, self.follow_symlinks)
            if kind in FAMILY:
                yield from self._delegate(FAMILY[kind], "samples")
                return
            if len(files) > 1:
                raise DataconvError(f"{self.src}: several handwriting/printed label files ({', '.join(files[:3])}); "
                                    "choose one with --labels")
            source = self.inside(files[0])
        else:
            source = self.named_file(labels, "labels") if labels else self.inside(
                find_label_file(self.src, LABEL_FILES[self.options.type]))
        label_path = source.path
        name = os.path.basename(label_path)
        label_file = JsonArrays(source, self.schema, name, self.options.encoding)
        images = ImageTable(label_file.items("images"))
        files = index_files(self.src, os.path.abspath(label_path))
        wanted = {KINDS[k] for k in self.options.kinds}
        used: set[str] = set()
        kinds_seen: Counter[str] = Counter()
        for pos, ann in enumerate(label_file.items("annotations")):
            used.add(id_text(ann["image_id"]))
            kinds_seen[str((ann.get("attributes") or {}).get("type"))] += 1
            yield self._sample(pos, ann, images, files, wanted, name)
        check_kinds(wanted, kinds_seen)
        for image_id, entries in images.by_id.items():
            if image_id not in used:
                for pos, file_name in entries:
                    yield Reject(f"{name}:images[{pos}]", "unannotated_image",
                                 f"image {image_id!r} ({file_name}) has no annotation", image_id)

    def _delegate(self, name: str, what: str) -> Iterator[Any]:
        """The samples (or pages) of the set's own format, with its defaults and this
        ``--encoding`` and ``--task``."""
        cls = load(name).cls
        options = dataclasses.replace(cls.Options(), encoding=self.options.encoding, page=self.options.page)
        converter = cls(self.src, options, self.follow_symlinks)
        try:
            yield from getattr(converter, what)()
        finally:
            converter.close()

    def _sample(self, pos: int, ann: dict[str, Any], table: ImageTable,
                files: dict[str, list[str]], wanted: set[str], name: str) -> Parsed:
        where = f"{name}:annotations[{pos}]"
        ann_id = id_text(ann["id"])
        attributes = ann.get("attributes") or {}
        if wanted and attributes.get("type") not in wanted:
            return Reject(where, "excluded_kind", f"attributes.type {attributes.get('type')!r}", ann_id)
        entries = table.get(id_text(ann["image_id"]))
        if not entries:
            return unknown_image(table, ann["image_id"], where, ann_id)
        if len(entries) > 1:
            return Reject(where, "ambiguous_image_id",
                          f"image_id {ann['image_id']!r} names {len(entries)} images[] entries", ann_id)
        file_name = entries[0][1]
        if "/" in file_name or "\\" in file_name:
            rel = file_name.replace("\\", "/")
        else:
            found = lookup(files, file_name)
            if not found:
                return Reject(where, "missing_image", f"{file_name} not found under the source folder", ann_id)
            if len(found) > 1:
                return Reject(where, "ambiguous_image", f"{file_name} found at {', '.join(found[:3])}", ann_id)
            rel = found[0]
        return Sample(id=ann_id, label=ann["text"], image=FileImage(self.src, rel), source=where,
                      meta={**attributes, "image_id": id_text(ann["image_id"])})
