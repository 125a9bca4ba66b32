"""Cutting text-line and word images out of annotated pages: the one crop mechanism.

Every format whose annotation is a box or polygon on a larger image (ICDAR, PaddleOCR
detection, COCO-Text, TextOCR, NDL minhon pages) yields a ``CropImage``. It is a
picklable reference: the page is read and cut where the shard is built, not in the
parser. ``read`` resolves the path inside the source, decodes the page, rectifies the
quadrilateral with a perspective transform (an axis-aligned box is the 4-point case),
optionally pads, rotates vertical lines and downscales tall ones, and encodes the crop.
Bad or degenerate boxes raise ``SampleRejected``.

The page is decoded completely (Pillow's ``load``), so a truncated page is rejected as
``undecodable_image`` just as the decode check rejects a truncated whole-image sample;
OpenCV does the geometry and the encoding. The last decoded page is kept per process,
because the boxes of one page arrive one after another.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import click
import cv2
import numpy as np
from PIL import Image

from dataconv.errors import SampleRejected
from dataconv.sample import FileImage, ImageRef, ReadContext

Point = tuple[float, float]
Polygon = tuple[Point, ...]
ENCODINGS = {"png": ".png", "jpeg": ".jpg"}
MIN_SIDE = 1  # pixels: a rectified box thinner than this is degenerate


@dataclass(frozen=True)
class CropSpec:
    """How crops are made; one per conversion, shared by every CropImage."""

    pad: float = 0.0  # grow the box by this fraction of its height on every side
    rotate_vertical: bool = False  # turn tall crops 90 degrees counter-clockwise
    vertical_ratio: float = 1.5  # "tall" means height >= ratio * width (and > width)
    max_height: int | None = None  # downscale crops taller than this, keeping the aspect
    encoding: str = "png"

    @classmethod
    def from_opts(cls, opts: Mapping[str, Any]) -> "CropSpec":
        return cls(pad=float(opts.get("pad") or 0.0),
                   rotate_vertical=bool(opts.get("rotate_vertical")),
                   vertical_ratio=float(opts.get("vertical_ratio") or 1.5),
                   max_height=opts.get("max_height") or None,
                   encoding=opts.get("crop_format") or "png")

    @property
    def changes_whole_images(self) -> bool:
        """Whether an uncropped image must be re-encoded (rotated or resized)."""
        return self.rotate_vertical or self.max_height is not None


def crop_options(vertical_ratio: float = 1.5) -> list[Callable]:
    """The crop switches, the same in every crop-producing format."""
    return [
        click.option("--pad", type=click.FloatRange(min=0.0), default=0.0, show_default=True,
                     help="Grow each box by this fraction of its height on every side."),
        click.option("--rotate-vertical", is_flag=True,
                     help="Turn tall crops (see --vertical-ratio) 90 degrees counter-clockwise."),
        click.option("--vertical-ratio", type=click.FloatRange(min=1.0), default=vertical_ratio,
                     show_default=True, help="A crop is tall when height >= this x width."),
        click.option("--max-height", type=click.IntRange(min=1), default=None,
                     help="Downscale crops taller than this many pixels (aspect kept)."),
        click.option("--crop-format", type=click.Choice(sorted(ENCODINGS)), default="png",
                     show_default=True, help="Encoding of cropped or transformed images."),
    ]


@dataclass(frozen=True)
class CropImage:
    """A region of an image file under ``root``; ``polygon=None`` means the whole image.

    ``polygon`` points start at the text's top-left corner and go clockwise (ICDAR,
    PaddleOCR reading order) unless ``reading_order`` is False, in which case they are
    ordered geometrically. More than four points are reduced to their minimum-area
    rectangle. ``vertical`` overrides the aspect-ratio test when the annotation knows.
    """

    root: str
    rel: str
    polygon: Polygon | None = None
    spec: CropSpec = CropSpec()
    vertical: bool | None = None
    reading_order: bool = True

    def read(self, ctx: ReadContext) -> bytes:
        page = load_page(self.root, self.rel, ctx)
        out = page
        if self.polygon is not None:
            quad = to_quad(self.polygon, self.reading_order)
            check_inside(quad, page.shape[1], page.shape[0])
            out = rectify(page, quad, self.spec.pad)
        out = orient(out, self.spec, self.vertical)
        out = limit_height(out, self.spec.max_height)
        return encode(out, self.spec.encoding)


def image_ref(root: str, rel: str, spec: CropSpec, polygon: Sequence[Sequence[float]] | None = None,
              vertical: bool | None = None, reading_order: bool = True) -> ImageRef:
    """A crop reference, or the file itself when nothing would change its bytes."""
    if polygon is None and not spec.changes_whole_images:
        return FileImage(root, rel)
    poly = None if polygon is None else tuple((float(x), float(y)) for x, y in polygon)
    return CropImage(root, rel, poly, spec, vertical, reading_order)


# --- geometry (pure functions of the points) ---------------------------------------

def flat_points(values: Sequence[float]) -> Polygon:
    """``[x1, y1, x2, y2, ...]`` to points (an odd trailing value is dropped)."""
    return tuple((float(values[i]), float(values[i + 1])) for i in range(0, len(values) - 1, 2))


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


def check_inside(quad: np.ndarray, width: int, height: int) -> None:
    xs, ys = quad[:, 0], quad[:, 1]
    if xs.max() <= 0 or ys.max() <= 0 or xs.min() >= width or ys.min() >= height:
        raise SampleRejected("box_outside_image", f"{quad.tolist()} outside {width}x{height}")


# --- pixels ---------------------------------------------------------------------

def rectify(page: np.ndarray, quad: np.ndarray, pad: float = 0.0) -> np.ndarray:
    """Warp the quadrilateral (plus ``pad`` x its height on each side) to an upright rectangle."""
    width, height = quad_size(quad)
    if width < MIN_SIDE or height < MIN_SIDE:
        raise SampleRejected("degenerate_box", f"{width}x{height} after rectification")
    p = int(round(pad * height))
    dst = np.float32([[p, p], [p + width, p], [p + width, p + height], [p, p + height]])
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    return cv2.warpPerspective(page, matrix, (width + 2 * p, height + 2 * p),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


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
    ok, buf = cv2.imencode(ENCODINGS[encoding], bgr)
    if not ok:
        raise SampleRejected("unencodable_crop", f"{img.shape} as {encoding}")
    return buf.tobytes()


def decode(data: bytes, rel: str) -> np.ndarray:
    """Whole-image decode to an 8-bit gray or RGB array (transparency over white)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                return np.asarray(_plain_mode(im))
    except Exception as e:  # Pillow raises many types for corrupt data
        raise SampleRejected("undecodable_image", f"{rel}: {type(e).__name__}: {e}"[:300]) from None


def _plain_mode(im: Image.Image) -> Image.Image:
    if im.mode in ("L", "RGB"):
        return im
    if im.mode in ("1", "I", "I;16", "F"):
        return im.convert("L")
    if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


_LAST: dict[tuple[str, str, ReadContext], np.ndarray | SampleRejected] = {}


def load_page(root: str, rel: str, ctx: ReadContext) -> np.ndarray:
    """The decoded page, from the one-page cache of this process when it is the last one."""
    key = (root, rel, ctx)
    if key not in _LAST:
        _LAST.clear()
        try:
            _LAST[key] = decode(FileImage(root, rel).read(ctx), rel)
        except SampleRejected as e:
            _LAST[key] = e
    cached = _LAST[key]
    if isinstance(cached, SampleRejected):
        raise SampleRejected(cached.reason, cached.detail)
    return cached

