"""Cutting text-line and word images out of annotated pages: the one crop mechanism.

Every format whose annotation is a box or polygon on a larger image (ICDAR, PaddleOCR
detection, COCO-Text, TextOCR, NDL minhon pages) yields a ``CropImage``. It is a
picklable reference: the page is read and cut where the shard is built, not in the
parser. ``read`` resolves the path inside the source, decodes the page, rectifies the
quadrilateral with a perspective transform (an axis-aligned box is the 4-point case),
optionally pads, rotates vertical lines and downscales tall ones, and encodes the crop.
Bad or degenerate boxes raise ``SampleRejected``.

Memory is bounded by ``--max-pixels``, never by what a file claims: the page goes through
``dataconv.io.decode`` (its header size is refused over the limit before anything is
decoded), and a box is checked before any pixel is made (``box_quad``): every coordinate
a finite number, every corner on the page or within ``MARGIN`` of it, and the padded crop
within ``--max-pixels``. ``--pad`` is at most ``MAX_PAD``.

The page is decoded completely (Pillow's ``load``), so a truncated page is rejected as
``undecodable_image`` just as the decode check rejects a truncated whole-image sample;
OpenCV does the geometry and the encoding. The last decoded page is kept per process,
because the boxes of one page arrive one after another.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from dataconv.io import decode
from dataconv.errors import SampleRejected
from dataconv.numbers import finite
from dataconv.optionspec import Choice, Range, option
from dataconv.sample import FileImage, ImageRef, ReadContext

Point = tuple[float, float]
Polygon = tuple[Point, ...]
ENCODINGS = {"png": ".png", "jpeg": ".jpg"}
MIN_SIDE = 1  # pixels: a rectified box thinner than this is degenerate
# A corner may lie this fraction of the page's width (height) beyond its left or right
# (top or bottom) edge, and at least MARGIN_PX: annotators overshoot, but a box twice the
# page is a bad coordinate, and its crop would be as large as the box.
MARGIN, MARGIN_PX = 0.1, 4.0
MAX_PAD = 1.0  # --pad: a crop at most 3x the box's height


@dataclass(frozen=True)
class CropSpec:
    """How crops are made: the crop switches of every cropping format (a group of its
    options, ``dataconv.optionspec``); one per conversion, shared by every CropImage."""

    pad: float = option(0.0, f"Grow each box by this fraction of its height on every side (0 to {MAX_PAD}).",
                        type=Range(float, 0.0, MAX_PAD, strict=True), show_default=True)
    rotate_vertical: bool = option(False, "Turn tall crops (see --vertical-ratio) 90 degrees counter-clockwise.")
    vertical_ratio: float = option(1.5, "A crop is tall when height >= this x width.",
                                   type=Range(float, 1.0), show_default=True)
    max_height: int | None = option(None, "Downscale crops taller than this many pixels (aspect kept).",
                                    type=Range(int, 1))
    crop_format: str = option("png", "Encoding of cropped or transformed images.",
                              type=Choice(tuple(sorted(ENCODINGS))), show_default=True)

    @property
    def changes_whole_images(self) -> bool:
        """Whether an uncropped image must be re-encoded (rotated or resized)."""
        return self.rotate_vertical or self.max_height is not None


@dataclass(frozen=True)
class CropImage:
    """A region of an image file under ``root``; ``polygon=None`` means the whole image.

    ``polygon`` points start at the text's top-left corner and go clockwise (ICDAR,
    PaddleOCR reading order) unless ``reading_order`` is False, in which case they are
    ordered geometrically. More than four points are reduced to their minimum-area
    rectangle. ``vertical`` overrides the aspect-ratio test when the annotation knows.
    ``clamp`` moves corners that overshoot the page (within the margin) onto its edge,
    for formats whose tools let boxes spill over; ``upright`` applies the page's EXIF
    orientation first, for formats whose coordinates refer to the upright photo.
    ``data`` holds the page's encoded bytes when the annotation embeds them (labelme's
    ``imageData``); ``rel`` then only names the page in messages and the page cache.
    """

    root: str
    rel: str
    polygon: Polygon | None = None
    spec: CropSpec = CropSpec()
    vertical: bool | None = None
    reading_order: bool = True
    clamp: bool = False
    upright: bool = False
    data: bytes | None = None

    def read(self, ctx: ReadContext) -> bytes:
        page = load_page(self.root, self.rel, ctx, self.upright, self.data)
        out = page
        if self.polygon is not None:
            quad = box_quad(self.polygon, page.shape[1], page.shape[0], self.reading_order, self.clamp)
            check_crop_size(quad, self.spec.pad, ctx.max_pixels)
            out = rectify(page, quad, self.spec.pad)
        out = orient(out, self.spec, self.vertical)
        out = limit_height(out, self.spec.max_height)
        return encode(out, self.spec.crop_format)


def image_ref(root: str, rel: str, spec: CropSpec, polygon: Sequence[Sequence[float]] | None = None,
              vertical: bool | None = None, reading_order: bool = True, clamp: bool = False,
              upright: bool = False, data: bytes | None = None) -> ImageRef:
    """A crop reference, or the file itself when nothing would change its bytes."""
    if polygon is None and not spec.changes_whole_images and data is None:
        return FileImage(root, rel)
    poly = None if polygon is None else tuple((x, y) for x, y in polygon)  # checked when read
    return CropImage(root, rel, poly, spec, vertical, reading_order, clamp, upright, data)


# --- geometry (pure functions of the points) ---------------------------------------

def flat_points(values: Sequence[float]) -> Polygon:
    """``[x1, y1, x2, y2, ...]`` to points (an odd trailing value is dropped); the values
    are checked by ``box_quad`` when the crop is made."""
    return tuple((values[i], values[i + 1]) for i in range(0, len(values) - 1, 2))


def xywh_polygon(x: float, y: float, w: float, h: float) -> Polygon:
    return ((x, y), (x + w, y), (x + w, y + h), (x, y + h))


def signed_area(quad: np.ndarray) -> float:
    """Shoelace area; positive for clockwise order in image coordinates (y down)."""
    x, y = quad[:, 0], quad[:, 1]
    return float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)) / 2


def is_convex(quad: np.ndarray) -> bool:
    edges = np.roll(quad, -1, axis=0) - quad
    cross = edges[:, 0] * np.roll(edges[:, 1], -1) - edges[:, 1] * np.roll(edges[:, 0], -1)
    return bool(np.all(cross > 0) or np.all(cross < 0))


def geometric_order(quad: np.ndarray) -> np.ndarray:
    """Top-left first, then clockwise, whatever order the points came in."""
    centre = quad.mean(axis=0)
    angles = np.arctan2(quad[:, 1] - centre[1], quad[:, 0] - centre[0])
    ordered = quad[np.argsort(angles)]  # clockwise on screen (y down)
    start = int(np.argmin(ordered.sum(axis=1)))
    return np.roll(ordered, -start, axis=0)


def min_area_quad(points: np.ndarray) -> np.ndarray:
    """The minimum-area rectangle of a polygon, starting at the corner nearest its first point."""
    box = cv2.boxPoints(cv2.minAreaRect(points.astype(np.float32))).astype(np.float64)
    box = geometric_order(box)
    start = int(np.argmin(((box - points[0]) ** 2).sum(axis=1)))
    return np.roll(box, -start, axis=0)


def to_quad(polygon: Polygon, reading_order: bool = True) -> np.ndarray:
    """Four clockwise corners, top-left of the text first, or SampleRejected."""
    points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if len(points) < 4 or not np.all(np.isfinite(points)):
        raise SampleRejected("degenerate_box", f"{len(points)} points, need 4 finite ones")
    quad = points if len(points) == 4 else min_area_quad(points)
    if not reading_order:
        quad = geometric_order(quad)
    if abs(signed_area(quad)) < MIN_SIDE:
        raise SampleRejected("degenerate_box", f"zero area: {quad.tolist()}")
    if signed_area(quad) < 0:  # counter-clockwise: keep the first corner, walk the other way
        quad = quad[[0, 3, 2, 1]]
    if not is_convex(quad):
        raise SampleRejected("degenerate_box", f"self-intersecting or concave: {quad.tolist()}")
    return quad


def quad_size(quad: np.ndarray) -> tuple[int, int]:
    """Width and height of the rectified crop: the longer of each pair of opposite sides."""
    side = lambda a, b: float(np.hypot(*(quad[a] - quad[b])))  # noqa: E731
    return round(max(side(0, 1), side(3, 2))), round(max(side(0, 3), side(1, 2)))


def box_quad(polygon: Polygon, width: int, height: int, reading_order: bool = True,
             clamp: bool = False) -> np.ndarray:
    """The box's four corners (``to_quad``) once its coordinates are known to be finite
    numbers on the ``width`` x ``height`` page; else SampleRejected. Checked before any
    geometry, so nothing downstream meets 1e308, NaN or a box larger than the page.
    ``clamp`` then moves every corner onto the page (a box wholly off it is left with
    zero area: ``degenerate_box``)."""
    try:
        points = np.array([[finite(x), finite(y)] for x, y in polygon], dtype=np.float64)
    except (ValueError, TypeError) as e:
        raise SampleRejected("degenerate_box", f"bad coordinate: {e}") from None
    points = points.reshape(-1, 2)
    check_inside(points, width, height)
    if clamp:
        points = np.stack([points[:, 0].clip(0, width), points[:, 1].clip(0, height)], axis=1)
    return to_quad(tuple(map(tuple, points)), reading_order)


def check_inside(points: np.ndarray, width: int, height: int) -> None:
    """Every point on the page, or beyond an edge by at most the margin."""
    mx, my = max(MARGIN * width, MARGIN_PX), max(MARGIN * height, MARGIN_PX)
    xs, ys = points[:, 0], points[:, 1]
    if len(points) and (xs.min() < -mx or ys.min() < -my or xs.max() > width + mx or ys.max() > height + my):
        raise SampleRejected("box_outside_image", f"{_short(points)} outside the {width}x{height} "
                                                  f"page by more than {mx:g}x{my:g} px")


def check_crop_size(quad: np.ndarray, pad: float, max_pixels: int) -> None:
    """Refuse a crop (padding included) over ``--max-pixels`` before it is made."""
    width, height = quad_size(quad)
    p = int(round(pad * height))
    decode.refuse_size(width + 2 * p, height + 2 * p, max_pixels)


def _short(points: np.ndarray) -> str:
    return str([[round(float(v), 2) for v in p] for p in points[:8]])[:200]


# --- pixels ---------------------------------------------------------------------

def rectify(page: np.ndarray, quad: np.ndarray, pad: float = 0.0) -> np.ndarray:
    """Warp the quadrilateral (plus ``pad`` x its height on each side) to an upright rectangle."""
    width, height = quad_size(quad)
    if width < MIN_SIDE or height < MIN_SIDE:
        raise SampleRejected("degenerate_box", f"{width}x{height} after rectification")
    p = int(round(pad * height))
    dst = np.float32([[p, p], [p + width, p], [p + width, p + height], [p, p + height]])
    try:
        matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
        return cv2.warpPerspective(page, matrix, (width + 2 * p, height + 2 * p),
                                   flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    except cv2.error as e:  # a quad OpenCV cannot invert
        raise SampleRejected("degenerate_box", f"{quad.tolist()}: {str(e).strip()[-120:]}") from None


def orient(img: np.ndarray, spec: CropSpec, vertical: bool | None) -> np.ndarray:
    if not spec.rotate_vertical:
        return img
    height, width = img.shape[:2]
    tall = vertical if vertical is not None else (height > width and height >= spec.vertical_ratio * width)
    return cv2.rotate(img, cv2.ROTATE_90_COUNTERCLOCKWISE) if tall else img


def limit_height(img: np.ndarray, max_height: int | None) -> np.ndarray:
    height, width = img.shape[:2]
    if not max_height or height <= max_height:
        return img
    new_width = max(1, round(width * max_height / height))
    return cv2.resize(img, (new_width, max_height), interpolation=cv2.INTER_AREA)


def encode(img: np.ndarray, encoding: str) -> bytes:
    bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if img.ndim == 3 else img
    try:
        ok, buf = cv2.imencode(ENCODINGS[encoding], bgr)
    except cv2.error:  # e.g. a side over the format's limit (JPEG: 65535)
        ok = False
    if not ok:
        raise SampleRejected("unencodable_crop", f"{img.shape} as {encoding}")
    return buf.tobytes()


def decode_page(data: bytes, rel: str, max_pixels: int, upright: bool = False) -> np.ndarray:
    """The whole page as an 8-bit gray or RGB array (transparency over white), refused
    from its header over ``max_pixels``; turned by its EXIF orientation when ``upright``
    (a transpose keeps the pixel count, so the limit still holds)."""
    try:
        page = decode.decode_plain(data, max_pixels)
        if upright:
            page = decode.exif_upright(data, page)
        return np.asarray(page)
    except SampleRejected as e:
        raise SampleRejected(e.reason, f"{rel}: {e.detail}"[:300]) from None


_LAST: dict[tuple[str, str, ReadContext, bool], np.ndarray | SampleRejected] = {}


def load_page(root: str, rel: str, ctx: ReadContext, upright: bool = False,
              data: bytes | None = None) -> np.ndarray:
    """The decoded page (the file ``rel`` under ``root``, or ``data`` when given), from the
    one-page cache of this process when it is the last one."""
    key = (root, rel, ctx, upright)
    if key not in _LAST:
        _LAST.clear()
        try:
            raw = FileImage(root, rel).read(ctx) if data is None else data
            _LAST[key] = decode_page(raw, rel, ctx.max_pixels, upright)
        except SampleRejected as e:
            _LAST[key] = e
    cached = _LAST[key]
    if isinstance(cached, SampleRejected):
        raise SampleRejected(cached.reason, cached.detail)
    return cached

