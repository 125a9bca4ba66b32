"""The COCO detection output (what MMDetection and pycocotools read)::

    OUT/annotations/{train,val,test}.json   COCO, file_name relative to OUT/images
    OUT/images/<path as under -i>           copied, or symlinked (CocoOptions.link)

A converter with ``output = "coco"`` yields ``dataconv.sample.LayoutPage``s (an image and its boxes; one box is
one input sample). ``CocoWriter`` places each page's image, clamps its boxes to the
decoded image and rejects the rest, and hands its ``Accounts`` to the one finishing step
(``dataconv.outputs.accounting``). One ``CocoSplit`` per split collects images and boxes
with 1-based ids; ``write`` validates the document against ``schemas/coco.schema.json``
before it lands, so a file that pycocotools would choke on is a bug caught here, not in
training.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dataconv.errors import SampleRejected
from dataconv.io.crop import check_inside, load_page
from dataconv.io.dataset_reader import SPLITS
from dataconv.io.paths import read_inside
from dataconv.io.schema import validate
from dataconv.outputs.accounting import Accounts
from dataconv.sample import Box, LayoutPage, ReadContext, Reject

FILES = ["manifest.json", "rejects.jsonl", "annotations/", "images/"]


def clamp_box(box: Box, width: int, height: int) -> Box | None:
    """The box cut to the image, or None when nothing of positive area is left."""
    x0, y0 = max(0.0, min(box[0], box[2])), max(0.0, min(box[1], box[3]))
    x1, y1 = min(float(width), max(box[0], box[2])), min(float(height), max(box[1], box[3]))
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


@dataclass
class CocoSplit:
    images: list[dict[str, Any]] = field(default_factory=list)
    annotations: list[dict[str, Any]] = field(default_factory=list)

    def add_image(self, file_name: str, width: int, height: int) -> int:
        image_id = len(self.images) + 1
        self.images.append({"id": image_id, "file_name": file_name, "width": width, "height": height})
        return image_id

    def add_box(self, image_id: int, category_id: int, box: Box) -> None:
        x0, y0, x1, y1 = box
        self.annotations.append({
            "id": len(self.annotations) + 1, "image_id": image_id, "category_id": category_id,
            "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "iscrowd": 0,
            "segmentation": [[x0, y0, x1, y0, x1, y1, x0, y1]]})

    def document(self, categories: list[str]) -> dict[str, Any]:
        return {"images": self.images, "annotations": self.annotations,
                "categories": [{"id": i, "name": n, "supercategory": n}
                               for i, n in enumerate(categories, start=1)]}


def write(path: str, document: dict[str, Any]) -> None:
    validate(document, "coco", os.path.basename(path))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(document, f, ensure_ascii=False, sort_keys=True)
        f.write("\n")


def fit_box(box: Box, width: int, height: int) -> Box | None:
    """The box clamped to the page (None: no area left on it); ``box_outside_image`` when
    a corner lies beyond the page by more than the crop margin (``crop.check_inside``)."""
    check_inside(np.array(box, dtype=np.float64).reshape(2, 2), width, height)
    return clamp_box(box, width, height)


class CocoWriter:
    """Places page images, collects COCO splits and rejects; ``finish`` writes the COCO
    files and returns the accounts."""

    def __init__(self, src: str, tmp: str, pages: list[LayoutPage], ctx: ReadContext,
                 mapping: dict[str, str] | None = None, link: bool = False) -> None:
        """``mapping``: source class -> category (None: every class as itself); ``link``:
        symlink the page images instead of copying them."""
        self.src, self.tmp, self.link, self.ctx = src, tmp, link, ctx
        self.mapping = mapping or {n: n for p in pages for n, _ in p.objects}
        self.categories = sorted(set(self.mapping.values()))
        self.splits: dict[str, CocoSplit] = {s: CocoSplit() for s in SPLITS}
        self.rejects: list[Reject] = []
        self.total = 0

    def add(self, page: LayoutPage, split: str) -> None:
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

    def _add_box(self, page: LayoutPage, k: int, name: str, box: Box | None,
                 target: CocoSplit, image_id: int) -> None:
        if name not in self.mapping:
            self.rejects.append(self._reject(page, k, "unmapped_class", f"class {name!r}"))
        elif box is None:
            self.rejects.append(self._reject(page, k, "degenerate_box", "no area inside the image"))
        else:
            target.add_box(image_id, self.categories.index(self.mapping[name]) + 1, box)

    @staticmethod
    def _reject(page: LayoutPage, k: int, reason: str, detail: str) -> Reject:
        return Reject(f"{page.source}:object[{k}]", reason, detail, f"{page.id}#{k}")

    def _place(self, rel: str) -> str:
        dst = os.path.join(self.tmp, "images", rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if self.link:
            os.symlink(os.path.abspath(os.path.join(self.src, rel)), dst)
        else:  # the bytes read through the confined open, not a second open by path
            with open(dst, "wb") as f:
                f.write(read_inside(self.src, rel, self.ctx.follow_symlinks, self.ctx.max_pixels))
        return rel.replace(os.sep, "/")

    def finish(self) -> Accounts:
        """Write annotations/<split>.json for every split with an image."""
        files = []
        for split, part in self.splits.items():
            if part.images:
                write(os.path.join(self.tmp, "annotations", f"{split}.json"), part.document(self.categories))
                files.append({"split": split, "path": f"annotations/{split}.json",
                              "images": len(part.images), "boxes": len(part.annotations)})
        return Accounts(
            total=self.total,
            split_counts={s: len(p.annotations) for s, p in self.splits.items() if p.annotations},
            rejects=self.rejects,
            extra={"categories": self.categories, "annotations": files, "files": FILES})
