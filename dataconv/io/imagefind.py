"""Finding the image an annotation names, the way real downloads are laid out.

Annotation files rarely sit beside their images (``annotations/test/gt_img_1.txt`` and
``imgs/test/img_1.jpg``; ``xml/2544473_01.xml`` and ``image/2544473_01.jpg``), and the
name they give is often only a base name or a stale path. ``ImageIndex`` walks the
source once and answers by base name or by stem, preferring the candidate whose folder
looks most like the annotation's folder; a miss or a tie is a rejection, not a guess.
"""
from __future__ import annotations

import os

from dataconv.errors import SampleRejected
from dataconv.io.paths import name_forms
from dataconv.io.source import Root, walk_files  # a folder (the confined walk) or an archive

__all__ = ["ImageIndex", "is_image", "lookup", "walk_files"]

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".gif", ".webp")


def is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTS)


def _parts(folder: str) -> list[str]:
    return [p for p in folder.replace("\\", "/").split("/") if p not in ("", ".")]


def _likeness(candidate_dir: str, near: str) -> tuple[int, int]:
    """(common trailing folder names, common leading folder names)."""
    a, b = _parts(candidate_dir), _parts(near)
    tail = 0
    while tail < min(len(a), len(b)) and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    return tail, head


class ImageIndex:
    """Every image file under ``root`` (a folder or an archive), by base name and by stem
    (relative paths)."""

    def __init__(self, root: Root) -> None:
        self.root = root
        self.by_name: dict[str, list[str]] = {}
        self.by_stem: dict[str, list[str]] = {}
        for rel in filter(is_image, walk_files(root)):
            name = os.path.basename(rel)
            self.by_name.setdefault(name, []).append(rel)
            self.by_stem.setdefault(os.path.splitext(name)[0], []).append(rel)

    def find_name(self, name: str, near: str = "") -> str:
        """The image with this base name (a path is reduced to its base name)."""
        base = os.path.basename(name.replace("\\", "/"))
        return self._pick(lookup(self.by_name, base), base, near)

    def find_stem(self, stem: str, near: str = "") -> str:
        """The image whose name without extension is ``stem``."""
        return self._pick(lookup(self.by_stem, stem), f"{stem}.*", near)

    def _pick(self, candidates: list[str], what: str, near: str) -> str:
        if not candidates:
            raise SampleRejected("missing_image", f"no image {what} under the source folder")
        if len(candidates) == 1:
            return candidates[0]
        scored = sorted(((_likeness(os.path.dirname(c), near), c) for c in candidates), reverse=True)
        if scored[0][0] == scored[1][0]:
            raise SampleRejected("ambiguous_image", f"{what} found at {', '.join(candidates[:3])}")
        return scored[0][1]


def lookup(table: dict[str, list[str]], key: str) -> list[str]:
    """``table[key]``, or the entry under ``key``'s other Unicode normal form (macOS zips
    store names NFD; annotations say NFC): the exact name always wins."""
    for form in name_forms(key):
        if form in table:
            return table[form]
    return []
