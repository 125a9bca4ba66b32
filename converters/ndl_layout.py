"""NDL-DocL layout data (Pascal VOC XML per page) to COCO detection JSON for MMDetection.

Each ``x.xml`` (``<object><name>3_typography</name><bndbox>xmin ymin xmax ymax``) names
its page image by stem; the image is found anywhere under ``-i`` (the kotenseki/kindai
samples keep it beside the XML, the tugidigi set in a sibling ``image/`` folder, and its
``<filename>`` is stale). Output, instead of LMDB shards::

    OUT/annotations/{train,val,test}.json   COCO, file_name relative to OUT/images
    OUT/images/<path as under -i>           copied, or symlinked with --link
    OUT/manifest.json, OUT/rejects.jsonl    the usual accounting; one input = one box

Pages, not boxes, are split (the same hash of the page path as every other split).
Boxes are clamped to the decoded image. ``--classes`` maps NDL class names to
categories; a box whose class is not mapped is rejected as ``unmapped_class``.
"""
from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator

import click
import numpy as np

from dataconv.outputs import coco
from dataconv.outputs import manifest
from dataconv.converters.base import Converter, register
from dataconv.io.crop import check_inside, load_page
from dataconv.errors import DataconvError, SampleRejected
from dataconv.outputs.hints import RunContext
from dataconv.io.imagefind import ImageIndex, walk_files
from dataconv.numbers import parse_float
from dataconv.outputs.atomic import atomic_output
from dataconv.io.paths import read_inside
from dataconv.io.safeopen import DEFAULT_LIMITS, InputFile, open_input
from dataconv.build.pipeline import warn_outcome
from dataconv.sample import ReadContext, Reject
from dataconv.build import splits as splitter

TEXT_CLASSES = ("2_handwritten", "3_typography", "6_headline", "7_caption", "8_textline")
PRESETS: dict[str, dict[str, str] | None] = {"text": {c: "text" for c in TEXT_CLASSES}, "all": None}


@dataclass
class Page:
    id: str  # the XML path under -i without its extension: the split key
    xml: str
    image: str | SampleRejected
    objects: list[tuple[str, coco.Box]] = field(default_factory=list)


def parse_voc(source: InputFile, rel: str) -> list[tuple[str, coco.Box]]:
    """(class name, box) of every ``<object>``; a malformed file stops the run."""
    try:
        with open_input(source, DEFAULT_LIMITS.whole_bytes) as f:
            root = ET.parse(f).getroot()
        return [(o.findtext("name", "").strip(), _bndbox(o)) for o in root.iter("object")]
    except (ET.ParseError, ValueError, TypeError) as e:
        raise DataconvError(f"{rel}: not a Pascal VOC annotation ({e})") from None
    except LookupError as e:  # <?xml encoding="..."?> naming a codec Python lacks
        raise DataconvError(f"{rel}: the XML declaration names an unknown encoding ({e})") from None


def _bndbox(obj: ET.Element) -> coco.Box:
    box = obj.find("bndbox")
    if box is None:
        raise ValueError("an <object> has no <bndbox>")
    x0, y0, x1, y1 = (parse_float((box.findtext(k) or "").strip()) for k in ("xmin", "ymin", "xmax", "ymax"))
    return x0, y0, x1, y1


def fit_box(box: coco.Box, width: int, height: int) -> coco.Box | None:
    """The box clamped to the page (None: no area left on it); ``box_outside_image`` when
    a corner lies beyond the page by more than the crop margin (``crop.check_inside``)."""
    check_inside(np.array(box, dtype=np.float64).reshape(2, 2), width, height)
    return coco.clamp_box(box, width, height)


def parse_classes(spec: str) -> dict[str, str] | None:
    """A preset name or ``SRC=DST,SRC=DST``; None maps every class to itself."""
    if spec in PRESETS:
        return PRESETS[spec]
    pairs = [p.split("=", 1) for p in spec.split(",") if p.strip()]
    if not pairs or any(len(p) != 2 or not p[0].strip() or not p[1].strip() for p in pairs):
        raise DataconvError(f"--classes {spec!r}: expected text, all, or SRC=DST,SRC=DST")
    return {s.strip(): d.strip() for s, d in pairs}


@register("ndl-layout", help="NDL-DocL layout (Pascal VOC XML pages) to COCO detection JSON, split by page",
          example="dataconv ndl-layout -i dataset_kotenseki -o layout_coco --link")
class NdlLayout(Converter):
    schema = "coco"
    writes_lmdb = False
    options = [
        click.option("--classes", default="text", show_default=True,
                     help="text: the five text-line classes -> one category 'text'; all: every "
                          "class as its own category; or SRC=DST,SRC=DST."),
        click.option("--link", is_flag=True, help="Symlink the page images instead of copying them."),
    ]

    def pages(self) -> Iterator[Page]:
        index = ImageIndex(self.src)
        for rel in (r for r in walk_files(self.src) if r.lower().endswith(".xml")):
            stem = os.path.splitext(os.path.basename(rel))[0]
            try:
                image: str | SampleRejected = index.find_stem(stem, near=os.path.dirname(rel))
            except SampleRejected as e:
                image = e
            yield Page(os.path.splitext(rel)[0], rel, image, parse_voc(self.inside(rel), rel))

    def build(self, config: Any) -> dict[str, Any]:
        with atomic_output(config.out, config.overwrite) as tmp:
            pages = list(self.pages())
            if not pages:
                raise DataconvError(f"{config.src}: no Pascal VOC .xml files found")
            writer = LayoutWriter(self.src, tmp, parse_classes(self.opts["classes"]), pages,
                                  bool(self.opts.get("link")), config.read_context())
            for page in pages:
                writer.add(page, splitter.assign(page.id, config.split, config.seed))
            card = writer.finish(self.name, config.manifest_options)
            warn_outcome(card, writer.rejects, RunContext(config.src, self.name, config.manifest_options))
            return card


class LayoutWriter:
    """Places page images, collects COCO splits and rejects, writes the accounting."""

    def __init__(self, src: str, tmp: str, mapping: dict[str, str] | None, pages: list[Page],
                 link: bool, ctx: ReadContext) -> None:
        self.src, self.tmp, self.link, self.ctx = src, tmp, link, ctx
        self.mapping = mapping or {n: n for p in pages for n, _ in p.objects}
        self.categories = sorted(set(self.mapping.values()))
        self.splits: dict[str, coco.CocoSplit] = {s: coco.CocoSplit() for s in splitter.SPLITS}
        self.rejects: list[Reject] = []
        self.total = 0

    def add(self, page: Page, split: str) -> None:
        self.total += len(page.objects)
        try:
            if isinstance(page.image, SampleRejected):
                raise page.image
            # a complete decode inside the source: truncated or escaping pages are rejected
            height, width = load_page(self.src, page.image, self.ctx).shape[:2]
            placed = self._place(page.image)
        except SampleRejected as e:
            self.rejects.extend(self._reject(page, k, e.reason, e.detail) for k in range(len(page.objects)))
            return
        target = self.splits[split]
        image_id = target.add_image(placed, width, height)
        for k, (name, box) in enumerate(page.objects):
            try:
                fitted = fit_box(box, width, height)
            except SampleRejected as e:
                self.rejects.append(self._reject(page, k, e.reason, e.detail))
                continue
            self._add_box(page, k, name, fitted, target, image_id)

    def _add_box(self, page: Page, k: int, name: str, box: coco.Box | None,
                 target: coco.CocoSplit, image_id: int) -> None:
        if name not in self.mapping:
            self.rejects.append(self._reject(page, k, "unmapped_class", f"class {name!r}"))
        elif box is None:
            self.rejects.append(self._reject(page, k, "degenerate_box", "no area inside the image"))
        else:
            target.add_box(image_id, self.categories.index(self.mapping[name]) + 1, box)

    @staticmethod
    def _reject(page: Page, k: int, reason: str, detail: str) -> Reject:
        return Reject(f"{page.xml}:object[{k}]", reason, detail, f"{page.id}#{k}")

    def _place(self, rel: str) -> str:
        dst = os.path.join(self.tmp, "images", rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if self.link:
            os.symlink(os.path.abspath(os.path.join(self.src, rel)), dst)
        else:  # the bytes read through the confined open, not a second open by path
            with open(dst, "wb") as f:
                f.write(read_inside(self.src, rel, self.ctx.follow_symlinks))
        return rel.replace(os.sep, "/")

    def finish(self, fmt: str, options: dict[str, Any]) -> dict[str, Any]:
        files = []
        for split, part in self.splits.items():
            if part.images:
                path = os.path.join(self.tmp, "annotations", f"{split}.json")
                coco.write(path, part.document(self.categories))
                files.append({"split": split, "path": f"annotations/{split}.json",
                              "images": len(part.images), "boxes": len(part.annotations)})
        with open(os.path.join(self.tmp, manifest.REJECTS), "w", encoding="utf-8") as f:
            f.writelines(_json_line(r.to_json()) for r in self.rejects)
        card = manifest.build(
            fmt=fmt, options=options, counts_input=self.total,
            split_counts={s: len(p.annotations) for s, p in self.splits.items() if p.annotations},
            reject_counts=Counter(r.reason for r in self.rejects), shards=[], charset="")
        card.update(categories=self.categories, annotations=files,
                    files=["manifest.json", "rejects.jsonl", "annotations/", "images/"])
        if card["counts"]["input"] != card["counts"]["written"] + card["counts"]["rejected"]:
            raise RuntimeError(f"accounting mismatch: {card['counts']}")  # a bug, never bad input
        manifest.write(self.tmp, card)
        return card


def _json_line(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n"
