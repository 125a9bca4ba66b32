"""The geometry of a detection box: the one check a region's points pass before they enter
a detection label.

The rules, in order: every coordinate a finite number; at least 3 points; every point on
the page or beyond an edge by at most the crop margin (``crop.check_inside``: 10% of the
side, at least 4 px; else ``box_outside_image``), then clamped onto the page; the polygon
valid as shapely judges it (not self-intersecting) with an area of at least ``MIN_AREA``
pixels (else ``degenerate_box``); clockwise in image coordinates (y down), starting at the
text's top-left corner (the source's first point when the source writes reading order,
else the geometric top-left, the point nearest the page's origin by x + y).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import shapely.validation
from shapely.geometry import Polygon as ShapelyPolygon

from dataconv.errors import SampleRejected
from dataconv.io.crop import check_inside, signed_area
from dataconv.numbers import finite

MIN_AREA = 1.0  # square pixels: less is a line or a point, not a region of text


def finite_points(points: Sequence[Sequence[float]]) -> np.ndarray:
    """The points as an (N, 2) array of finite numbers, or SampleRejected."""
    try:
        return np.array([[finite(x), finite(y)] for x, y in points], dtype=np.float64).reshape(-1, 2)
    except (ValueError, TypeError) as e:
        raise SampleRejected("degenerate_box", f"bad coordinate: {str(e)[:120]}") from None


def det_points(array: np.ndarray, width: int, height: int, reading_order: bool = True) -> np.ndarray:
    """The box (``finite_points``) on the ``width`` x ``height`` page, or SampleRejected."""
    if len(array) < 3:
        raise SampleRejected("degenerate_box", f"{len(array)} points: a region needs at least 3")
    check_inside(array, width, height)
    array = np.stack([array[:, 0].clip(0, width), array[:, 1].clip(0, height)], axis=1)
    check_shape(array)
    if signed_area(array) < 0:  # counter-clockwise: keep the first corner, walk the other way
        array = np.concatenate([array[:1], array[:0:-1]])
    if not reading_order:
        array = np.roll(array, -int(np.argmin(array.sum(axis=1))), axis=0)
    return array


def check_shape(array: np.ndarray) -> None:
    polygon = ShapelyPolygon(array)
    if not polygon.is_valid:
        raise SampleRejected("degenerate_box", f"{shapely.validation.explain_validity(polygon)[:120]}: "
                                               f"{_short(array)}")
    if polygon.area < MIN_AREA:
        raise SampleRejected("degenerate_box", f"area {polygon.area:.3g} px on the page: {_short(array)}")


def plain(value: float) -> int | float:
    """A coordinate as a label file writes it: an integer when it is one, else 3 decimals."""
    return int(value) if float(value).is_integer() else round(float(value), 3)


def _short(array: np.ndarray) -> str:
    return str([[plain(v) for v in p] for p in array[:8]])[:200]
