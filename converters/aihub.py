"""AI Hub "한국어 글자체 이미지" (Korean handwriting / printed text images).

The download unzips to a label file (``handwriting_data_info1.json`` or
``printed_data_info.json``) and images in nested folders. The JSON has ``images``
(``id``, ``file_name``, ...) and ``annotations`` (``id``, ``image_id``, ``text``,
``attributes.type`` = 문장 | 단어(어절) | 글자(음절)); ``image_id`` joins ``images[].id``.
Images are found by ``file_name`` anywhere under the source folder.
"""
from __future__ import annotations

import os
from typing import Any, Iterator

import click

from dataconv.converters.base import Converter, register
from dataconv.errors import DataconvError
from dataconv.sample import FileImage, Item, Reject, Sample
from dataconv.schema import load_json, validate

LABEL_FILES = {"htr": "handwriting_data_info1.json", "printed": "printed_data_info.json"}
KINDS = {"sentence": "문장", "word": "단어(어절)", "syllable": "글자(음절)"}


def find_label_file(src: str, name: str) -> str:
    hits = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        if name in filenames:
            hits.append(os.path.join(dirpath, name))
    if not hits:
        raise DataconvError(f"{src}: no {name} found under the source folder; pass --labels FILE")
    if len(hits) > 1:
        raise DataconvError(f"{src}: several {name} files ({', '.join(hits)}); choose one with --labels")
    return hits[0]


def index_files(src: str, skip: str) -> dict[str, list[str]]:
    """Base name -> relative paths of every file under ``src`` (the label file excluded)."""
    index: dict[str, list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for fn in sorted(filenames):
            path = os.path.join(dirpath, fn)
            if path != skip:
                index.setdefault(fn, []).append(os.path.relpath(path, src))
    return index


def image_table(images: list[dict[str, Any]]) -> dict[str, list[tuple[int, str]]]:
    """images[].id (as a string) -> [(position, file_name)], keeping duplicates visible."""
    table: dict[str, list[tuple[int, str]]] = {}
    for pos, entry in enumerate(images):
        table.setdefault(str(entry["id"]), []).append((pos, entry["file_name"]))
    return table


@register("aihub", help="AI Hub Korean handwriting/printed text images (images + annotations JSON)",
          example="dataconv aihub --type htr -i 한국어글자체 -o out --kind sentence")
class AiHub(Converter):
    schema = "aihub"
    options = [
        click.option("--type", "type", type=click.Choice(sorted(LABEL_FILES)), default="htr",
                     show_default=True, help="htr: handwriting_data_info1.json; printed: printed_data_info.json."),
        click.option("--labels", type=click.Path(exists=True, dir_okay=False),
                     help="The label JSON [default: found by name under SRC]."),
        click.option("--kind", "kinds", type=click.Choice(sorted(KINDS)), multiple=True,
                     help="Keep only these attributes.type values (repeatable) [default: all]."),
    ]

    def samples(self) -> Iterator[Item]:
        if not os.path.isdir(self.src):
            raise DataconvError(f"{self.src}: -i must be the unzipped AI Hub folder")
        label_path = self.opts.get("labels") or find_label_file(
            self.src, LABEL_FILES[self.opts["type"]])
        name = os.path.basename(label_path)
        document = load_json(label_path)
        validate(document, self.schema, name)
        files = index_files(self.src, os.path.abspath(label_path))
        images = image_table(document["images"])
        wanted = {KINDS[k] for k in self.opts.get("kinds") or ()}
        used: set[str] = set()
        annotations = document["annotations"]
        del document
        for pos, ann in enumerate(annotations):
            image_id = str(ann["image_id"])
            used.add(image_id)
            yield self._sample(pos, ann, images.get(image_id, []), files, wanted, name)
        for image_id, entries in images.items():
            if image_id not in used:
                for pos, file_name in entries:
                    yield Reject(f"{name}:images[{pos}]", "unannotated_image",
                                 f"image {image_id!r} ({file_name}) has no annotation", image_id)

    def _sample(self, pos: int, ann: dict[str, Any], entries: list[tuple[int, str]],
                files: dict[str, list[str]], wanted: set[str], name: str) -> Item:
        where = f"{name}:annotations[{pos}]"
        ann_id = str(ann["id"])
        attributes = ann.get("attributes") or {}
        if wanted and attributes.get("type") not in wanted:
            return Reject(where, "excluded_kind", f"attributes.type {attributes.get('type')!r}", ann_id)
        if not entries:
            return Reject(where, "unknown_image_id", f"image_id {ann['image_id']!r} has no images[] entry", ann_id)
        if len(entries) > 1:
            return Reject(where, "ambiguous_image_id",
                          f"image_id {ann['image_id']!r} names {len(entries)} images[] entries", ann_id)
        file_name = entries[0][1]
        if "/" in file_name or "\\" in file_name:
            rel = file_name.replace("\\", "/")
        else:
            found = files.get(file_name, [])
            if not found:
                return Reject(where, "missing_image", f"{file_name} not found under the source folder", ann_id)
            if len(found) > 1:
                return Reject(where, "ambiguous_image", f"{file_name} found at {', '.join(found[:3])}", ann_id)
            rel = found[0]
        return Sample(id=ann_id, label=ann["text"], image=FileImage(self.src, rel), source=where,
                      meta={"image_id": str(ann["image_id"]), **attributes})
