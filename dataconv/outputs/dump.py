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
on Windows and Linux whatever the labels or source ids were.

A sample whose label the style's readers cannot hold exactly is not written, and is
counted by reason (the dump's manifest.json ``rejects``), decided by what each reader's
code does (``STYLES``):

* clovaai: ``create_lmdb_dataset.py`` reads the file in text mode (``\\n``, ``\\r`` and
  ``\\r\\n`` end a line) and unpacks ``line.strip('\\n').split('\\t')`` into two names:
  a TAB crashes it, CR or LF split the label;
* paddle: ``SimpleDataSet`` splits the bytes at ``\\n`` and keeps ``split('\\t')[1]``: a
  TAB cuts the label short; ``dataconv paddle-rec`` (the round trip) also ends a line at CR;
* easyocr: the trainer's ``pd.read_csv(sep='^([^,]+),', engine='python')`` splits lines at
  CR and LF and strips each line (the label's trailing whitespace); it types the column,
  so a split whose every label reads as a number (or every one as True/False) holds none
  as text;
* mmocr, imagefolder: JSON holds any text.

Every style leaves out a label that is not UTF-8 (it would be written as U+FFFD), and a
record without its image or label.
"""
from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Callable, Iterable

from dataconv.errors import SampleRejected
from dataconv.reasons import known

IMAGES = "images"
_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "BMP": "bmp", "GIF": "gif", "TIFF": "tif", "WEBP": "webp"}
EASYOCR_SEP = "^([^,]+),"  # EasyOCR trainer/dataset.py: the path, then everything after its comma
CHUNK_ROWS = 100_000


def _easyocr_text_column(path: str) -> bool:
    """Whether EasyOCR's trainer reads the ``words`` column of ``path`` as text: pandas
    types a column as numbers (or booleans) only when every value reads as one, so the
    file is read in chunks, as the trainer reads it whole, and stops at the first chunk of
    text."""
    import pandas as pd

    kinds = set()
    for chunk in pd.read_csv(path, sep=EASYOCR_SEP, engine="python", usecols=["filename", "words"],
                             keep_default_na=False, chunksize=CHUNK_ROWS):
        kind = chunk["words"].dtype.kind
        if kind not in "iufb":
            return True
        kinds.add(kind == "b")
    return len(kinds) != 1  # numbers in one chunk, True/False in another: text


@dataclass(frozen=True)
class Style:
    """One trainer's layout: the label file's name, how a sample is written to it, and what
    its readers cannot hold (see the module's rules)."""

    name: str
    label_file: str  # ``{split}`` is replaced by the split's name
    breaks: str = ""  # characters a reader ends a line at
    separator: str = ""  # a character a reader splits a line at after the path
    strips_end: bool = False  # a reader strips whitespace (``str.strip``) off the line's end
    text_column: Callable[[str], bool] | None = None  # whether the written file's labels read as text

    def file_name(self, split: str) -> str:
        return self.label_file.format(split=split)

    def check(self, label: str) -> None:
        """Raise why a reader of this style cannot hold ``label`` exactly (SampleRejected)."""
        if any(ch in label for ch in self.breaks):
            raise SampleRejected("multiline_label")
        if self.separator and self.separator in label:
            raise SampleRejected("separator_in_label")
        if self.strips_end and label[-1:].isspace():
            raise SampleRejected("stripped_label")

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
    Style("clovaai", "gt.txt", breaks="\n\r", separator="\t"),
    Style("paddle", "rec_gt.txt", breaks="\n\r", separator="\t"),
    Style("mmocr", "textrecog_{split}.json"),
    Style("easyocr", "labels.csv", breaks="\n\r", strips_end=True, text_column=_easyocr_text_column),
    Style("imagefolder", "metadata.jsonl"),
)}


@dataclass
class DumpCounts:
    """What one split's dump wrote and what it left out, by reason."""

    written: int = 0
    left_out: Counter = field(default_factory=Counter)

    def reject(self, reason: str, count: int = 1) -> None:
        """Count ``count`` samples left out for ``reason`` (one of dataconv/reasons.py)."""
        self.left_out[known(reason)] += count


def image_extension(data: bytes) -> str:
    """The file extension of the image format the header names; ``bin`` for bytes no
    image reader recognises (they are still written unchanged)."""
    from dataconv.io import decode

    try:
        with decode.opened(data, None) as im:
            return _EXTENSIONS.get(im.format or "", (im.format or "bin").lower())
    except SampleRejected:
        return "bin"


def label_to_write(style: Style, raw: bytes | None, image: bytes | None) -> str:
    """The label ``style`` writes for a record (its label bytes and image), or the reason
    (registered in dataconv/reasons.py) it is left out, raised as ``SampleRejected``."""
    if image is None:
        raise SampleRejected("missing_image")
    if raw is None:
        raise SampleRejected("missing_label")
    try:
        label = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SampleRejected("undecodable_label") from None
    style.check(label)
    return label


def dump_split(folder: str, split: str, style: Style, records: Iterable[tuple[bytes | None, bytes | None]]) -> DumpCounts:
    """Write ``records`` ((label bytes, image bytes) in order) into the new ``folder``."""
    counts = DumpCounts()
    os.makedirs(os.path.join(folder, IMAGES))
    path = os.path.join(folder, style.file_name(split))
    with open(path, "x", encoding="utf-8", newline="\n") as f:
        style.start(f)
        for raw, image in records:
            try:
                label = label_to_write(style, raw, image)
            except SampleRejected as e:
                counts.reject(e.reason)
                continue
            assert image is not None
            rel = f"{IMAGES}/{counts.written + 1:09d}.{image_extension(image)}"
            with open(os.path.join(folder, rel), "xb") as img:
                img.write(image)
            style.entry(f, rel, label, counts.written == 0)
            counts.written += 1
        style.end(f)
    if counts.written and style.text_column is not None and not style.text_column(path):
        _leave_all_out(folder, path, style, counts)
    return counts


def _leave_all_out(folder: str, path: str, style: Style, counts: DumpCounts) -> None:
    """The split's labels all read as numbers (or booleans): none is held, none is written."""
    shutil.rmtree(os.path.join(folder, IMAGES))
    os.makedirs(os.path.join(folder, IMAGES))
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        style.start(f)
        style.end(f)
    counts.reject("numeric_labels", counts.written)
    counts.written = 0
