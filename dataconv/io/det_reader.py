"""Reading a detection dataset back: OUT of ``--task det``, or OUT/det of ``--task rec,det``.

A detection dataset is a folder whose manifest says ``"task": "det"``; each split folder
(``train``, ``val``, ``test``) holds the page images under ``images/`` and one label file
per detector family (``det_gt.txt``, ``textdet.json``, ``coco.json``) naming them relative
to that folder. A split folder is what the trainers' configs point at (PaddleOCR's
``data_dir``, MMOCR's ``data_root``), so a trainer simulation reads one label file per
split and the page images it names from there.

Every file is opened through ``safeopen``: a regular file inside the dataset, never a
FIFO, never reached through a symlink out of it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterator

from dataconv.errors import DataconvError, SampleRejected
from dataconv.io import decode, safeopen
from dataconv.io.dataset_reader import SPLITS
from dataconv.io.lmdb_tree import is_detection
from dataconv.io.schema import load_json

DET_FOLDER = "det"  # where ``--task rec,det`` puts the detection dataset in OUT
MAX_LINE_BYTES = 64 * safeopen.MiB  # one page's boxes; a longer line is not a label file


@dataclass(frozen=True)
class DetSplit:
    name: str  # train, val or test
    folder: str  # the split folder: the trainers' data_dir / data_root

    def label_file(self, name: str) -> safeopen.InputFile:
        return safeopen.InputFile.inside(self.folder, name)


def det_root(root: str) -> str:
    """The detection dataset at ``root`` or in ``root/det``, else a one-line error."""
    for folder in (root, os.path.join(root, DET_FOLDER)):
        if is_detection(folder):
            return folder
    raise DataconvError(f"{root}: not a detection dataset (no manifest.json saying \"task\": \"det\" here "
                        f"or in {DET_FOLDER}/); write one with --task det")


def det_splits(root: str) -> list[DetSplit]:
    """The split folders of the detection dataset at ``root`` (or ``root/det``), in output order."""
    folder = det_root(root)
    return [DetSplit(name, os.path.join(folder, name)) for name in SPLITS
            if os.path.isdir(os.path.join(folder, name))]


def raw_lines(source: safeopen.InputFile) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, bytes) for each line as Python's ``readlines()`` on a binary
    file gives it: split after every ``\\n`` only, the ending kept."""
    with safeopen.open_input(source, safeopen.DEFAULT_LIMITS.streamed_bytes) as f:
        for number, raw in enumerate(iter(lambda: f.readline(MAX_LINE_BYTES + 1), b""), start=1):
            if len(raw) > MAX_LINE_BYTES:
                raise DataconvError(f"{source}:{number}: a line longer than {MAX_LINE_BYTES} bytes; "
                                    "is this a label file?")
            yield number, raw


def json_document(source: safeopen.InputFile) -> Any:
    """A JSON label file parsed whole, as the trainers load it."""
    return load_json(source)


def page_size(split: DetSplit, rel: str) -> tuple[int, int] | None:
    """(width, height) of the page image ``rel`` names in the split folder, from its header;
    None when there is no such regular file inside the split folder or no image header."""
    try:
        fd = safeopen.open_inside(split.folder, rel)
    except (OSError, SampleRejected):
        return None
    with os.fdopen(fd, "rb") as f:
        data = f.read()
    try:
        return decode.header_size(data)
    except SampleRejected:
        return None
