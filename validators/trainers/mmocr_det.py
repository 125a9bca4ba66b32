"""open-mmlab/mmocr 1.x training DBNet on ``textdet.json``.

Sources read (facts only, nothing copied; mmocr 966296f, mmengine and mmcv main):
``mmocr/datasets/ocr_dataset.py`` OCRDataset (no ``filter_data`` of its own), mmengine
``dataset/base_dataset.py`` BaseDataset (``filter_data`` returns every entry; ``__getitem__``
draws another index for a page the pipeline returns None for, up to ``max_refetch`` 1000
times, then raises; in test mode a None raises at once), ``datasets/transforms/loading.py``
LoadImageFromFile (``ignore_empty=False``: a missing image raises) and LoadOCRAnnotations,
``wrappers.py`` ImgAugWrapper (a page without polygons gives None), ``ocr_transforms.py``
RandomCrop and Resize, mmcv ``transforms/processing.py`` Resize (keep_ratio: each axis
scaled by its new size over its old), ``models/textdet/module_losses/db_module_loss.py``
DBModuleLoss (``_is_poly_invalid``: area under 1, or the short side of ``cv2.minAreaRect``
under ``min_sidelength`` 8), ``seg_based_module_loss.py`` ``_generate_kernels``,
``utils/polygon_utils.py`` ``offset_polygon``; the configs
``configs/textdet/_base_/datasets/icdar2015.py`` (``filter_cfg=dict(filter_empty_gt=True,
min_size=32)``) and ``configs/textdet/dbnet/_base_dbnet_resnet18_fpnc.py`` (RandomCrop
min_side_ratio 0.1, Resize scale (640, 640) keep_ratio, Pad (640, 640); test: Resize only).
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np
import pyclipper
from shapely.geometry import Polygon

from dataconv.errors import DataconvError
from dataconv.io import det_reader
from dataconv.io.det_reader import DetSplit
from dataconv.validators.trainers.base import register
from dataconv.validators.trainers.det import BoxVerdict, DetTrainer, PageVerdict, as_points, det_switches

SHRINK_RATIO = 0.4  # DBModuleLoss shrink_ratio
FILTER_MIN_SIZE = 32  # filter_cfg min_size of the textdet dataset configs


def annotations(entry: Any) -> tuple[list[np.ndarray], list[bool]] | str:
    """LoadOCRAnnotations: each instance's polygon (float32) and ``ignore``; a page it
    raises on is a crash (nothing catches it)."""
    try:
        instances = entry["instances"]
        polygons = [as_points(instance["polygon"]) for instance in instances]
        return polygons, [bool(flag) for flag in np.array([i["ignore"] for i in instances], dtype=np.bool_)]
    except (KeyError, TypeError, ValueError):
        return "crash:unreadable_instances"


def kernel_fails(polygon: np.ndarray) -> str | None:
    """``_generate_kernels``: the box on integer pixels shrunk by a whole number of
    pixels; nothing left, or pieces of unequal point counts (``offset_polygon`` then
    gives an empty array), ignore the box."""
    points = polygon.astype(np.int32)
    shape = Polygon(points)
    distance = int(shape.area * (1 - SHRINK_RATIO * SHRINK_RATIO) / (shape.length + 0.001) + 0.5)
    clipper = pyclipper.PyclipperOffset()
    clipper.AddPath(points, pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    pieces = clipper.Execute(-distance)
    if not pieces:
        return "shrinks_to_nothing"
    if len({len(piece) for piece in pieces}) > 1:
        return "shrinks_apart"
    return None


@register
class MMOCRDet(DetTrainer):
    """OCRDataset + the DBNet train pipeline and DBModuleLoss's targets."""

    name = "mmocr-det"
    label_file = "textdet.json"
    switches = det_switches(
        "Resize scale=(N, N) keep_ratio and Pad size=(N, N): the page is judged fitted into N x N, the "
        "smallest scale RandomCrop gives.", "DBModuleLoss min_sidelength: a box whose minimum-area rectangle "
        "has a shorter side at that scale is ignored.")
    size_keys = "train_pipeline Resize scale=({size}, {size}) and Pad size=({size}, {size})"
    min_size_key = "model.det_head.module_loss=dict(type='DBModuleLoss', min_sidelength={size})"
    skip_effect = "BaseDataset draws another page (up to 1000 times in a row, then raises)"
    all_skipped = "BaseDataset raises 'Cannot find valid image after 1000!'"
    missing_image = "crash:image_missing"

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.empty_train = self.small_train = 0

    def pages(self, split: DetSplit) -> Iterator[PageVerdict]:
        source = split.label_file(self.label_file)
        document = det_reader.json_document(source)
        if not isinstance(document, dict) or "data_list" not in document or "metainfo" not in document:
            raise DataconvError(f"{source}: BaseDataset.load_data_list raises: an annotation file holds a "
                                "dict with data_list and metainfo")
        for index, entry in enumerate(document["data_list"]):
            key = f"{split.name}/{self.label_file}:data_list[{index}]"
            image = entry.get("img_path") if isinstance(entry, dict) else None
            if not isinstance(image, str):
                raise DataconvError(f"{source}: data_list[{index}]: BaseDataset.parse_data_info needs img_path")
            verdict = self.judge(split, key, image, annotations(entry))
            if split.name == "train":
                self.note_filter(verdict)
            yield verdict

    def note_filter(self, verdict: PageVerdict) -> None:
        """What filter_cfg would have removed, had OCRDataset applied it."""
        self.empty_train += verdict.skipped == "no_boxes"
        self.small_train += verdict.size is not None and min(verdict.size) < FILTER_MIN_SIZE

    def train_boxes(self, boxes: Sequence[np.ndarray], dont_care: Sequence[bool],
                    size: tuple[int, int]) -> list[BoxVerdict] | str:
        """RandomCrop showing the whole page, Resize, Pad, then DBModuleLoss's targets."""
        if not boxes:
            return "no_boxes"  # ImgAugWrapper: no polygon, the transform gives None
        verdicts = []
        for points, tag in zip(boxes, dont_care):
            verdict, polygon = self.size_verdict(points, size, tag)  # _is_poly_invalid
            if verdict.ignored is None:
                verdict.ignored = kernel_fails(polygon)
            verdicts.append(verdict)
        return verdicts

    def measure(self, points: np.ndarray, size: tuple[int, int], side: int) -> tuple[np.ndarray, float, float]:
        """mmcv's Resize keep_ratio scales each axis by its new size (rounded) over its old;
        the area (shapely) and the short side of cv2.minAreaRect there."""
        width, height = size
        scale = min(side / max(width, height), side / min(width, height))  # mmcv rescale_size
        factors = np.array([int(width * scale + 0.5) / width, int(height * scale + 0.5) / height])
        polygon = (points * factors).astype(np.float32)
        import cv2  # its threads only in the processes that judge detector pages

        return polygon, abs(Polygon(polygon).area), float(min(cv2.minAreaRect(polygon)[1]))

    def warnings(self) -> list[str]:
        what = []
        if self.empty_train:
            what.append(f"{self.empty_train} train page(s) without a box reach the pipeline (ImgAugWrapper drops them)")
        if self.small_train:
            what.append(f"{self.small_train} train page(s) under {FILTER_MIN_SIZE} px are trained")
        if not what:
            return []
        return [f"filter_cfg=dict(filter_empty_gt=True, min_size={FILTER_MIN_SIZE}) of MMOCR's textdet dataset "
                f"configs filters nothing (OCRDataset keeps mmengine's BaseDataset.filter_data, which returns "
                f"every entry): {'; '.join(what)}"]
