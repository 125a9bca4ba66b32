"""What the detector simulations share (``validate --for paddleocr-det|mmocr-det``).

A detector trainer reads one label file per split of a detection dataset
(``dataconv.io.det_reader``) and judges every page and every box on it the way its data
pipeline does: a box is trained, or ignored (masked out of the loss: the text there is
neither learnt nor punished), or the whole page is skipped (the trainer draws another).

The training scale: both trainers crop at random and rescale the crop to fit the
``train_size`` square; a crop is never larger than its page (the rescaling before the crop
cancels out), so the smallest scale a box is ever trained at is the whole page fitted into
the square, ``train_size / max(width, height)``. The simulation judges every box at that
scale: a box it ignores is ignored whenever a crop shows the whole page, and zooming crops
(up to 10x: both trainers' smallest crop side is 0.1 of the page) are what it is left to.

val and test pages go through the evaluation pipeline, which only reads the labels: a box
is ignored (not scored) when the label says don't-care.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator, Sequence

import numpy as np

from dataconv.errors import UsageError
from dataconv.io import det_reader
from dataconv.io.det_reader import DetSplit
from dataconv.validators.trainers.base import EVAL_SPLITS, Settings, Switch, Trainer

DONT_CARE = "dont_care"  # the label file says so (### / ignore: true)
NO_TRAINABLE_BOX = "no_trainable_box"  # a page kept with every box ignored: background only
SIZE_REASONS = ("area_under_1", "under_min_text_size")  # what a larger train size cures


@dataclass(frozen=True)
class DetOptions:
    train_size: int = 640  # the side of the square a crop is rescaled to fit
    min_text_size: int = 8  # boxes with a shorter side at the training scale are ignored


def det_switches(train_size: str, min_text_size: str) -> tuple[Switch, Switch]:
    """``--train-size`` and ``--min-text-size``, each described in the trainer's own terms."""
    defaults = DetOptions()
    return (Switch("--train-size", "train_size", f"{train_size} [default: {defaults.train_size}]",
                   minimum=32, default=defaults.train_size),
            Switch("--min-text-size", "min_text_size", f"{min_text_size} [default: {defaults.min_text_size}]",
                   minimum=1, default=defaults.min_text_size))


@dataclass
class BoxVerdict:
    area: float  # square pixels on the page as written
    ignored: str | None = None  # why the trainer ignores it; None: trained
    needed_size: int | None = None  # the smallest train_size at which the size checks pass
    short: float | None = None  # its short side at the training scale


@dataclass
class PageVerdict:
    key: str  # the label file line or entry: train/det_gt.txt:3
    split: str
    boxes: list[BoxVerdict] = field(default_factory=list)
    skipped: str | None = None  # the trainer never uses the page ("crash:...": it raises)
    size: tuple[int, int] | None = None  # (width, height) of its image, when there is one

    def trained(self) -> int:
        return sum(box.ignored is None for box in self.boxes)


def page_area(points: np.ndarray) -> float:
    """The box's area on the page (shapely), the weight of its share of the text area."""
    from shapely.geometry import Polygon  # imported by the detector runs only: every run finds this module

    points = points.reshape(-1, 2)
    return abs(Polygon(points).area) if len(points) >= 3 else 0.0


def estimate_size(train_size: int, min_side: int, short: float, area: float) -> int | None:
    """Where to look for the smallest train size at which a box of ``short`` side and
    ``area`` (at ``train_size``) reaches ``min_side`` and an area of 1; None when none does."""
    if short <= 0 or area <= 0:
        return None
    return math.ceil(train_size * max(min_side / short, 1 / math.sqrt(area)))


class DetTrainer(Trainer):
    """A detector's data pipeline over the pages of a detection dataset. A subclass reads
    its label file (``pages``) and judges a training page (``train_boxes``)."""

    reads = "det"
    Options = DetOptions
    label_file: ClassVar[str] = ""  # the label file it reads in each split folder
    size_keys: ClassVar[str] = ""  # the config lines setting the train size, "{size}" in them
    min_size_key: ClassVar[str] = ""  # the config line setting the smallest text size, "{size}" in it
    skip_effect: ClassVar[str] = ""  # what the trainer does instead of a skipped page
    all_skipped: ClassVar[str] = ""  # what happens when a split's every page is skipped
    missing_image: ClassVar[str] = "image_missing"  # the verdict on a page whose image is not there

    def __init__(self, settings: Settings) -> None:
        if settings.charset is not None or settings.max_length is not None:
            raise UsageError(f"--for {self.name} trains a detector: it reads no charset and no label length")
        self.s = settings
        self.o = self.Options(**settings.switches)

    def pages(self, split: DetSplit) -> Iterator[PageVerdict]:
        raise NotImplementedError

    def train_boxes(self, boxes: Sequence[np.ndarray], dont_care: Sequence[bool],
                    size: tuple[int, int]) -> list[BoxVerdict] | str:
        """The verdict on each box of a training page of ``size`` (width, height), or why
        the pipeline fails on the whole page."""
        raise NotImplementedError

    def measure(self, points: np.ndarray, size: tuple[int, int], side: int) -> tuple[np.ndarray, float, float]:
        """The box of a ``size`` page at train size ``side``: its polygon as the trainer's
        target maker holds it, the area and the short side its size checks measure."""
        raise NotImplementedError

    def size_verdict(self, points: np.ndarray, size: tuple[int, int], dont_care: bool) -> tuple[BoxVerdict, np.ndarray]:
        """The size checks on one box at the training scale (don't-care first, then an
        area under 1, then a short side under min_text_size), and its polygon there."""
        polygon, area, short = self.measure(points, size, self.o.train_size)
        verdict = BoxVerdict(0.0, DONT_CARE if dont_care else None, short=short)
        if not dont_care and (area < 1 or short < self.o.min_text_size):
            verdict.ignored = "area_under_1" if area < 1 else "under_min_text_size"
            verdict.needed_size = self.smallest_size(points, size, area, short)
        return verdict, polygon

    def smallest_size(self, points: np.ndarray, size: tuple[int, int], area: float, short: float) -> int | None:
        """The smallest train size at which the box passes the size checks: searched from
        the proportional estimate, which only the trainers' rounding puts off."""
        estimate = estimate_size(self.o.train_size, self.o.min_text_size, short, area)
        if estimate is None:
            return None
        for side in range(max(estimate - 2, self.o.train_size + 1), estimate + 32):
            _, area, short = self.measure(points, size, side)
            if area >= 1 and short >= self.o.min_text_size:
                return side
        return None

    def judge(self, split: DetSplit, key: str, image: str,
              parsed: tuple[Sequence[np.ndarray], Sequence[bool]] | str) -> PageVerdict:
        """A page as the label file gave it (its boxes and don't-care flags, or why it did
        not parse): its image read for its size (trainers decode before they read the
        label), then the split's pipeline."""
        size = det_reader.page_size(split, image)
        boxes, dont_care = ([], []) if isinstance(parsed, str) else parsed
        areas = [page_area(box) for box in boxes]
        if size is None or isinstance(parsed, str):
            why = self.missing_image if size is None else str(parsed)
            return PageVerdict(key, split.name, [BoxVerdict(a) for a in areas], skipped=why, size=size)
        if split.name in EVAL_SPLITS:
            return PageVerdict(key, split.name, [BoxVerdict(a, DONT_CARE if d else None)
                                                 for a, d in zip(areas, dont_care)], size=size)
        verdicts = self.train_boxes(boxes, dont_care, size)
        if isinstance(verdicts, str):
            return PageVerdict(key, split.name, [BoxVerdict(a) for a in areas], skipped=verdicts, size=size)
        for verdict, area in zip(verdicts, areas):
            verdict.area = area
        return PageVerdict(key, split.name, verdicts, size=size)

    def size_fixes(self, train_size: int | None, min_side: int | None) -> list[str]:
        out = []
        if train_size is not None:
            out.append(f"{self.size_keys.format(size=train_size)}  (or validate --train-size {train_size}): "
                       f"the whole page then trains every box ignored for its size")
        if min_side is not None:
            out.append(f"{self.min_size_key.format(size=min_side)}  (or validate --min-text-size {min_side}): "
                       f"trains every box ignored as under {self.o.min_text_size} px")
        return out

    def describe(self) -> str:
        return (f"train size {self.o.train_size}, min text size {self.o.min_text_size}: the whole page "
                f"fitted into {self.o.train_size}x{self.o.train_size}")


def as_points(values: Any) -> np.ndarray:
    """Coordinates as the trainers hold them: float32, one (x, y) row per point."""
    return np.asarray(values, dtype=np.float32).reshape(-1, 2)
