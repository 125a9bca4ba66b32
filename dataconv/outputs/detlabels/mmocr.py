"""MMOCR 1.x textdet annotation: ``{"metainfo": {"dataset_type": "TextDetDataset",
"task_name": "textdet", "category": [{"id": 0, "name": "text"}]}, "data_list": [{"img_path",
"height", "width", "instances": [{"polygon", "bbox", "bbox_label", "ignore"}]}]}``; ``bbox``
is ``[x1, y1, x2, y2]``. ``img_path`` is relative to the split folder (``data_root``)."""
from __future__ import annotations

from dataconv.outputs.detlabels import PlacedPage

import json

FILE = "textdet.json"
METAINFO = {"dataset_type": "TextDetDataset", "task_name": "textdet",
            "category": [{"id": 0, "name": "text"}]}


def entry(page: PlacedPage) -> dict:
    return {"img_path": page.path, "height": page.height, "width": page.width,
            "instances": [{"polygon": box.flat(), "bbox": list(box.bbox()), "bbox_label": 0,
                           "ignore": box.ignore} for box in page.boxes]}


def write(path: str, pages: list[PlacedPage]) -> None:
    document = {"metainfo": METAINFO, "data_list": [entry(page) for page in pages]}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(document, f, ensure_ascii=False, allow_nan=False)
