"""PaddleOCR / OpenOCR detection labels, as PPOCRLabel writes them: one line per page,
``images/x.jpg<TAB>[{"transcription": ..., "points": [[x, y], ...]}, ...]`` with
``ensure_ascii=False``; a don't-care region's transcription is ``###`` (``DetLabelEncode``'s
ignore tag). Paths are relative to the split folder, which is the config's ``data_dir``."""
from __future__ import annotations

from dataconv.outputs.detlabels import PlacedPage

import json

FILE = "det_gt.txt"
IGNORE_TAG = "###"


def line(page: PlacedPage) -> str:
    boxes = [{"transcription": IGNORE_TAG if box.ignore else box.text, "points": box.points}
             for box in page.boxes]
    return f"{page.path}\t{json.dumps(boxes, ensure_ascii=False)}\n"


def write(path: str, pages: list[PlacedPage]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(line(page) for page in pages)
