"""COCO instances for text detection (MMDetection-style detectors, pycocotools): one
category ``text``; each box a polygon ``segmentation``, ``bbox`` ``[x, y, w, h]``, its
polygon ``area``, and ``iscrowd: 1`` for a don't-care region (detectors ignore crowd
regions). ``file_name`` is relative to the split folder."""
from __future__ import annotations

from dataconv.outputs.detlabels import PlacedPage

import json

from shapely.geometry import Polygon

FILE = "coco.json"
CATEGORY = {"id": 1, "name": "text", "supercategory": "text"}


def annotations(page: PlacedPage, image_id: int, first_id: int) -> list[dict]:
    out = []
    for k, box in enumerate(page.boxes):
        x0, y0, x1, y1 = box.bbox()
        out.append({"id": first_id + k, "image_id": image_id, "category_id": 1,
                    "segmentation": [box.flat()], "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": round(Polygon(box.points).area, 3), "iscrowd": int(box.ignore)})
    return out


def write(path: str, pages: list[PlacedPage]) -> None:
    images, anns = [], []
    for image_id, page in enumerate(pages, start=1):
        images.append({"id": image_id, "file_name": page.path, "width": page.width, "height": page.height})
        anns.extend(annotations(page, image_id, len(anns) + 1))
    document = {"images": images, "annotations": anns, "categories": [CATEGORY]}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(document, f, ensure_ascii=False, allow_nan=False)
