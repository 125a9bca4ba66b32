"""What a detection report is made from: manifest.json, samples.parquet (one row per
page), rejects.jsonl (page rejects, and boxes removed from written pages with
``"level": "box"``) and each split's ``det_gt.txt``.

The boxes are read from the PaddleOCR label file, streamed a line at a time: it is what a
detector trains on, and it says per box whether it is a don't-care region (``###``). Only
the pages picked for the report's grid keep their polygons; of the others each box leaves
its short side and flag, so memory grows with the number of boxes, not their points.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any, Iterator

import pandas as pd

from dataconv.errors import DataconvError
from dataconv.io import det_reader
from dataconv.io.det_reader import DetSplit
from dataconv.outputs import manifest, samples_table
from dataconv.outputs.detlabels import paddle
from dataconv.reporting.dataset import RejectSummary, read_card, read_rejects
from dataconv.reporting.stats import split_order

PAGE_COLUMNS = ["split", "source_id", "source", "path", "width", "height", "bytes", "boxes", "ignore",
                "removed"]


@dataclass(frozen=True)
class LabelBox:
    """A box as det_gt.txt holds it: its points on the page and whether it is don't-care."""

    points: tuple[tuple[float, float], ...]
    ignore: bool

    def short_side(self) -> float:
        """The shorter side of the axis-aligned rectangle around the box: what PaddleOCR's
        MakeShrinkMap compares with ``min_text_size`` (at the training scale)."""
        xs, ys = [p[0] for p in self.points], [p[1] for p in self.points]
        return min(max(xs) - min(xs), max(ys) - min(ys))


@dataclass
class DetDataset:
    root: str
    card: dict[str, Any]
    pages: pd.DataFrame  # samples.parquet, with label_boxes / label_ignore counted from det_gt.txt
    boxes: pd.DataFrame  # one row per box of the label files: split, short, ignore
    page_rejects: RejectSummary
    box_rejects: RejectSummary  # boxes removed from written pages for their geometry
    picked: pd.DataFrame  # the pages the grid shows: up to per_split random pages of each split
    shown: dict[tuple[str, str], list[LabelBox]]  # (split, path) -> boxes, of the picked pages
    disagree: int  # pages whose label line and samples.parquet row disagree (or lack each other)


def load(root: str, per_split: int, seed: int, per_reason: int = 6) -> DetDataset:
    """The detection dataset at ``root``, with ``per_split`` random pages of each split picked."""
    card = read_card(root)
    frame = read_pages(os.path.join(root, manifest.SAMPLES))
    chosen = pick(frame, per_split, seed)
    picked = set(zip(chosen["split"], chosen["path"]))
    counts, shorts, shown = [], [], {}
    for split in det_reader.det_splits(root):
        for path, boxes in label_pages(split):
            counts.append((split.name, path, len(boxes), sum(b.ignore for b in boxes)))
            shorts.extend((split.name, b.short_side(), b.ignore) for b in boxes)
            if (split.name, path) in picked:
                shown[split.name, path] = boxes
    pages, disagree = _with_label_counts(frame, pd.DataFrame(
        counts, columns=["split", "path", "label_boxes", "label_ignore"]))
    rejects = os.path.join(root, manifest.REJECTS)
    boxes = pd.DataFrame(shorts, columns=["split", "short", "ignore"]).astype({"short": float, "ignore": bool})
    return DetDataset(root, card, pages, boxes,
                      read_rejects(rejects, per_reason, lambda row: row.get("level") != "box"),
                      read_rejects(rejects, per_reason, lambda row: row.get("level") == "box"),
                      chosen, shown, disagree)


def pick(frame: pd.DataFrame, per_split: int, seed: int) -> pd.DataFrame:
    parts = [frame[frame["split"] == split] for split in split_order(frame)]
    return pd.concat([frame.head(0), *(part.sample(min(per_split, len(part)), random_state=seed)
                                       for part in parts)])


def read_pages(path: str) -> pd.DataFrame:
    """samples.parquet of a detection dataset; missing or damaged: a one-line error."""
    if not os.path.isfile(path):
        raise DataconvError(f"{path}: missing; the report reads the pages of a detection dataset from it")
    frame = samples_table.read_table(path, PAGE_COLUMNS).to_pandas()
    return frame.astype({"split": "str", "path": "str", "width": "float64", "height": "float64"})


def label_pages(split: DetSplit) -> Iterator[tuple[str, list[LabelBox]]]:
    """(image path, boxes) per line of the split's det_gt.txt; a line PaddleOCR could not
    read is a one-line error naming it."""
    source = split.label_file(paddle.FILE)
    if not source.exists():
        raise DataconvError(f"{source}: missing; the report reads the boxes of each split from it")
    for number, raw in det_reader.raw_lines(source):
        try:
            path, label = raw.decode("utf-8").rstrip("\r\n").split("\t")
            boxes = [_box(item) for item in json.loads(label)]
        except (ValueError, TypeError, KeyError, IndexError, RecursionError) as e:
            raise DataconvError(f"{source}:{number}: not a PaddleOCR det label line "
                                f"({str(e)[:120] or type(e).__name__})") from None
        yield path, boxes


def _box(item: dict[str, Any]) -> LabelBox:
    points = tuple((float(x), float(y)) for x, y in item["points"])
    if not points or not all(math.isfinite(v) for p in points for v in p):
        raise ValueError(f"points {item['points']!r}"[:120])
    return LabelBox(points, item["transcription"] == paddle.IGNORE_TAG)


def _with_label_counts(frame: pd.DataFrame, counts: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The pages of samples.parquet and of the label files, side by side; and how many
    disagree (a page missing from either, or other box counts)."""
    both = frame.merge(counts, on=["split", "path"], how="outer", indicator=True)
    disagree = (both["_merge"] != "both") | (both["boxes"] != both["label_boxes"]) \
        | (both["ignore"] != both["label_ignore"])
    return both.drop(columns="_merge"), int(disagree.sum())
