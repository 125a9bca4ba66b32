"""Writing COCO detection annotation files (what MMDetection and pycocotools read).

One ``CocoSplit`` per split collects images and boxes with 1-based ids; ``write``
validates the document against ``schemas/coco.schema.json`` before it lands, so a
file that pycocotools would choke on is a bug caught here, not in training.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from dataconv.io.schema import validate

Box = tuple[float, float, float, float]  # x0, y0, x1, y1


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
