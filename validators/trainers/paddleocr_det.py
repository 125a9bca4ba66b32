"""PaddleOCR training a DB text detector on ``det_gt.txt`` (OpenOCR reads the same file).

Sources read (facts only, nothing copied; the paddleocr 2.10.0 wheel): ``ppocr/data/simple_dataset.py``
SimpleDataSet (``readlines()`` on bytes, ``strip("\\n").split("\\t")``, a bare ``except`` around
the whole load that logs and draws another page: at random in train mode, the next one in
eval mode; ``get_ext_data``), ``ppocr/data/imaug/label_ops.py`` DetLabelEncode,
``random_crop_data.py`` EastRandomCropData, ``make_border_map.py`` MakeBorderMap,
``make_shrink_map.py`` MakeShrinkMap, ``copy_paste.py`` CopyPaste; the config
``configs/det/ch_PP-OCRv4/ch_PP-OCRv4_det_student.yml`` (00e40b1): Train DecodeImage,
DetLabelEncode, CopyPaste, IaaAugment, EastRandomCropData size [640, 640], MakeBorderMap
and MakeShrinkMap with shrink_ratio 0.4 and min_text_size 8; Eval DecodeImage,
DetLabelEncode, DetResizeForTest.
"""
from __future__ import annotations

import json
from typing import Iterator, Sequence

import numpy as np
import pyclipper
from shapely.geometry import Polygon

from dataconv.io import det_reader
from dataconv.io.det_reader import DetSplit
from dataconv.validators.trainers.base import register
from dataconv.validators.trainers.det import DONT_CARE, BoxVerdict, DetTrainer, PageVerdict, det_switches

IGNORE_TAGS = ("*", "###")  # DetLabelEncode: these transcriptions are don't-care
STAR = "star_transcription"  # a box whose text is "*": PaddleOCR ignores it
SHRINK_RATIO = 0.4  # MakeBorderMap and MakeShrinkMap in the det configs


def parse_line(raw: bytes) -> tuple[str, str]:
    """SimpleDataSet: the image path and the label of one line; raises where it raises."""
    fields = raw.decode("utf-8").strip("\n").split("\t")
    return fields[0], fields[1]


def det_label_encode(label: str) -> tuple[np.ndarray, list] | None:
    """DetLabelEncode: every box's points (padded with its last point to the page's
    longest box) as float32, and its transcription; None for a page without boxes."""
    boxes = json.loads(label)
    points, texts = [], []
    for number in range(len(boxes)):
        points.append(boxes[number]["points"])
        texts.append(boxes[number]["transcription"])
    if not points:
        return None
    most = max(len(box) for box in points)
    return np.array([box + [box[-1]] * (most - len(box)) for box in points], dtype=np.float32), texts


def signed_area(polygon: np.ndarray) -> float:
    """MakeShrinkMap.polygon_area, summed in its order (it decides ``area < 1`` exactly)."""
    area = 0.0
    previous = polygon[-1]
    for point in polygon:
        area += point[0] * previous[1] - point[1] * previous[0]
        previous = point
    return area / 2.0


def offset(polygon: np.ndarray, distance: float) -> list:
    clipper = pyclipper.PyclipperOffset()
    clipper.AddPath([tuple(p) for p in polygon], pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    return clipper.Execute(distance)


def border_map_fails(polygon: np.ndarray) -> bool:
    """MakeBorderMap.draw_border_map indexes ``[0]`` of the grown polygon: a box that
    pyclipper's integer coordinates collapse grows into nothing and the page raises."""
    try:
        shape = Polygon(polygon)
        if shape.area <= 0:
            return False
        return not offset(polygon, shape.area * (1 - np.power(SHRINK_RATIO, 2)) / shape.length)
    except (ValueError, TypeError):
        return True


def shrinks_to_nothing(polygon: np.ndarray) -> bool:
    """MakeShrinkMap: shrink by each ratio of ``arange(0.4, 1, 0.4)`` until one piece is
    left; nothing left is an ignored box."""
    shape = Polygon(polygon)
    shrunk: list = []
    for ratio in np.arange(SHRINK_RATIO, 1, SHRINK_RATIO):
        shrunk = offset(polygon, -(shape.area * (1 - np.power(ratio, 2)) / shape.length))
        if len(shrunk) == 1:
            break
    return shrunk == []


def star_tags(verdict: PageVerdict, texts: list) -> None:
    """A box whose transcription is ``*`` is DetLabelEncode's don't-care, not the label's:
    dataconv writes don't-care as ``###`` and ``*`` only as the text it was."""
    for box, text in zip(verdict.boxes, texts):
        if box.ignored == DONT_CARE and text == "*":
            box.ignored = STAR


def outside(polygon: np.ndarray, width: int, height: int) -> bool:
    """random_crop_data.is_poly_outside_rect for the rectangle (0, 0, width, height)."""
    xs, ys = polygon[:, 0], polygon[:, 1]
    return bool(xs.max() < 0 or xs.min() > width or ys.max() < 0 or ys.min() > height)


@register
class PaddleOCRDet(DetTrainer):
    """SimpleDataSet + DetLabelEncode; train: EastRandomCropData, MakeBorderMap, MakeShrinkMap."""

    name = "paddleocr-det"
    label_file = "det_gt.txt"
    switches = det_switches(
        "EastRandomCropData size [N, N]: the page is judged fitted into N x N, the smallest scale a random "
        "crop gives.", "MakeShrinkMap min_text_size: a shorter box side at that scale is ignored.")
    size_keys = "Train.dataset.transforms EastRandomCropData size: [{size}, {size}]"
    min_size_key = "Train.dataset.transforms MakeShrinkMap min_text_size: {size}"
    skip_effect = "SimpleDataSet logs the error and draws another page (train: at random; eval: the next)"
    all_skipped = "SimpleDataSet.__getitem__ draws another page for each and recurses until RecursionError"

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.train_pages = 0
        self.paste_sources = 0  # train pages CopyPaste's get_ext_data accepts

    def pages(self, split: DetSplit) -> Iterator[PageVerdict]:
        for number, raw in det_reader.raw_lines(split.label_file(self.label_file)):
            key = f"{split.name}/{self.label_file}:{number}"
            try:  # SimpleDataSet catches whatever a line raises and draws another page
                image, label = parse_line(raw)
            except Exception:
                yield PageVerdict(key, split.name, skipped="unparsable_line")
                continue
            try:
                encoded = det_label_encode(label)
            except Exception:
                encoded, parsed = None, "unparsable_label"
            else:
                parsed = "no_boxes" if encoded is None else (list(encoded[0]), [t in IGNORE_TAGS for t in encoded[1]])
            verdict = self.judge(split, key, image, parsed)
            if encoded is not None:
                star_tags(verdict, encoded[1])
            if split.name == "train":
                self.count_paste_source(verdict, encoded)
            yield verdict

    def count_paste_source(self, verdict: PageVerdict, encoded: tuple | None) -> None:
        """CopyPaste's get_ext_data takes a page it can decode whose DetLabelEncode
        points array holds 4 points a box."""
        self.train_pages += 1
        if verdict.skipped != self.missing_image and encoded is not None and encoded[0].shape[1] == 4:
            self.paste_sources += 1

    def train_boxes(self, boxes: Sequence[np.ndarray], dont_care: Sequence[bool],
                    size: tuple[int, int]) -> list[BoxVerdict] | str:
        """EastRandomCropData showing the whole page, MakeBorderMap, MakeShrinkMap."""
        scale = self.scale(size, self.o.train_size)
        width, height = int(size[0] * scale), int(size[1] * scale)
        verdicts = []
        for points, tag in zip(boxes, dont_care):
            scaled = (points - (0, 0)) * scale  # the crop's offset (0, 0): float64, as the crop computes
            if outside(scaled, width, height):
                verdicts.append(BoxVerdict(0.0, "outside_crop"))
            elif not tag and border_map_fails(scaled):
                return "border_map_raises"
            else:
                verdicts.append(self.shrink_map(points, size, tag))
        return verdicts

    @staticmethod
    def scale(size: tuple[int, int], side: int) -> float:
        return min(side / size[0], side / size[1])

    def measure(self, points: np.ndarray, size: tuple[int, int], side: int) -> tuple[np.ndarray, float, float]:
        """MakeShrinkMap.validate_polygons on the side x side padded image: clipped to
        side - 1, turned when its signed area is positive; the short side of its bounds."""
        scaled = (points - (0, 0)) * self.scale(size, side)
        polygon = np.stack([np.clip(scaled[:, 0], 0, side - 1), np.clip(scaled[:, 1], 0, side - 1)], axis=1)
        area = signed_area(polygon)
        if area > 0:
            polygon = polygon[::-1, :]
        return polygon, abs(area), float(min(np.ptp(polygon[:, 1]), np.ptp(polygon[:, 0])))

    def shrink_map(self, points: np.ndarray, size: tuple[int, int], tag: bool) -> BoxVerdict:
        verdict, polygon = self.size_verdict(points, size, tag)
        if verdict.ignored is None and shrinks_to_nothing(polygon):
            verdict.ignored = "shrinks_to_nothing"
        return verdict

    def warnings(self) -> list[str]:
        if self.train_pages and not self.paste_sources:
            return ["no train page has boxes of at most 4 points with one of exactly 4: with CopyPaste in "
                    "Train.dataset.transforms (ch_PP-OCRv4_det_student.yml), SimpleDataSet.get_ext_data "
                    "draws pages forever; remove CopyPaste from the config"]
        return []
