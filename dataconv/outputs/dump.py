"""A dataset written back out as files, in the layout a trainer reads (``dataconv dump``).

Each split becomes ``DIR/<split>/`` holding ``images/`` and the label file(s) of the
style, with paths relative to that folder:

=============  ===================================  ===========================================
style          label file                           read by
=============  ===================================  ===========================================
clovaai        ``gt.txt``: ``images/N.png<TAB>label``  clovaai ``create_lmdb_dataset.py``, ``dataconv gt-txt``
paddle         ``rec_gt.txt`` (same lines)            PaddleOCR ``SimpleDataSet``, ``dataconv paddle-rec``
mmocr          ``textrecog_<split>.json``             MMOCR 1.x ``TextRecogDataset``
easyocr        ``labels.csv``: ``filename,words``     EasyOCR ``trainer/dataset.py``
imagefolder    ``metadata.jsonl``: file_name, text    Hugging Face ``datasets`` imagefolder
=============  ===================================  ===========================================

Images are the stored bytes, unchanged, named by their position in the split
(``images/000000001.png``; the extension from the image's header): such names are safe
on Windows and Linux whatever the labels or source ids were. A sample whose label the
style cannot carry (a line break in a line-based file) or that has no image or label is
not written, and is counted with the reason.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Iterable

IMAGES = "images"
_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "BMP": "bmp", "GIF": "gif", "TIFF": "tif", "WEBP": "webp"}


@dataclass(frozen=True)
class Style:
    """One trainer's layout: the label file's name, and how a sample is written to it."""

    name: str
    label_file: str  # ``{split}`` is replaced by the split's name
    line_based: bool  # a line break inside a label would break the file

    def file_name(self, split: str) -> str:
        return self.label_file.format(split=split)

    def start(self, f: IO[str]) -> None:
        if self.name == "mmocr":
            f.write('{"metainfo": {"dataset_type": "TextRecogDataset", "task_name": "textrecog"}, '
                    '"data_list": [')
        elif self.name == "easyocr":
            f.write("filename,words\n")

    def entry(self, f: IO[str], path: str, label: str, first: bool) -> None:
        if self.name in ("clovaai", "paddle"):
            f.write(f"{path}\t{label}\n")
        elif self.name == "easyocr":  # EasyOCR splits each line at its first comma, unquoted
            f.write(f"{path},{label}\n")
        elif self.name == "mmocr":
            item = {"img_path": path, "instances": [{"text": label}]}
            f.write(("" if first else ",") + "\n  " + json.dumps(item, ensure_ascii=False))
        else:
            f.write(json.dumps({"file_name": path, "text": label}, ensure_ascii=False) + "\n")

    def end(self, f: IO[str]) -> None:
        if self.name == "mmocr":
            f.write("\n]}\n")


STYLES = {s.name: s for s in (
    Style("clovaai", "gt.txt", True),
    Style("paddle", "rec_gt.txt", True),
    Style("mmocr", "textrecog_{split}.json", False),
    Style("easyocr", "labels.csv", True),
    Style("imagefolder", "metadata.jsonl", False),
)}


@dataclass
class DumpCounts:
    """What one split's dump wrote and what it left out, by reason."""

    written: int = 0
    left_out: Counter = field(default_factory=Counter)


def image_extension(data: bytes) -> str:
    """The file extension of the image format the header names; ``bin`` for bytes no
    image reader recognises (they are still written unchanged)."""
    from dataconv.errors import SampleRejected
    from dataconv.io import decode

    try:
        with decode.opened(data, None) as im:
            return _EXTENSIONS.get(im.format or "", (im.format or "bin").lower())
    except SampleRejected:
        return "bin"


def left_out_reason(style: Style, label: str | None, image: bytes | None) -> str | None:
    """Why a sample cannot be written in ``style`` (a reason word of dataconv/reasons.py),
    or None."""
    if image is None:
        return "missing_image"
    if label is None:
        return "missing_label"
    if style.line_based and any(ch in label for ch in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"):
        return "multiline_label"
    return None


def dump_split(folder: str, split: str, style: Style, samples: Iterable[tuple[str | None, bytes | None]]) -> DumpCounts:
    """Write ``samples`` ((label, image bytes) in order) into the new ``folder``."""
    counts = DumpCounts()
    os.makedirs(os.path.join(folder, IMAGES))
    with open(os.path.join(folder, style.file_name(split)), "x", encoding="utf-8", newline="\n") as f:
        style.start(f)
        for label, image in samples:
            reason = left_out_reason(style, label, image)
            if reason is not None:
                counts.left_out[reason] += 1
                continue
            assert label is not None and image is not None
            rel = f"{IMAGES}/{counts.written + 1:09d}.{image_extension(image)}"
            with open(os.path.join(folder, rel), "xb") as img:
                img.write(image)
            style.entry(f, rel, label, counts.written == 0)
            counts.written += 1
        style.end(f)
    return counts
