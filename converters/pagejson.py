"""What the formats with one JSON label file per image share (AI Hub 야외 실제 촬영,
다양한 형태, 공공행정문서 and the NIA 2021+ sets; labelme): finding the label files, pairing
each with its image, and turning each box convention into crop corners.

Pairing is on the case-folded stem of the file name, wherever the image sits under SRC:
AI Hub ships images and labels in trees that do not mirror each other (``[원천]``/``[라벨]``,
``TS1``/``TL1``) and writes ``.jpg``, ``.JPG`` and ``.jpeg`` for the same thing. A stem
found twice is ``ambiguous_image`` unless exactly one candidate has the very name the
label gives; one found nowhere is ``missing_image``.

Boxes are checked here, before any pixel is read: a box that is not the right count of
finite numbers, or whose width or height is zero or negative, is ``degenerate_box``.
A negative size is never turned positive with ``abs()`` (that invents a box the
annotator never drew); coordinates that overshoot the page are clamped to it by the
crop (``CropImage.clamp``).
"""
from __future__ import annotations

import functools
import os
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from dataconv.converters.base import PageConverter
from dataconv.errors import DataconvError, SampleRejected
from dataconv.io.crop import Polygon
from dataconv.io.imagefind import is_image, walk_files
from dataconv.io.schema import load_json, validate
from dataconv.numbers import finite
from dataconv.optionspec import option
from dataconv.sample import Parsed
from dataconv.page import Region, TextPage, crops

ILLEGIBLE = "xxx"  # AI Hub's marker of an illegible word, in any letter case


def stem_key(name: str) -> str:
    """The pairing key of a file name: its stem, NFC (macOS zips store NFD), case-folded."""
    stem = os.path.splitext(os.path.basename(name.replace("\\", "/")))[0]
    return unicodedata.normalize("NFC", stem).casefold()


def json_files(src: str) -> list[str]:
    """Every ``.json`` file under ``src`` (any letter case), relative, in sorted order."""
    return [rel for rel in walk_files(src) if rel.casefold().endswith(".json")]


class StemIndex:
    """Every image file under ``root`` by ``stem_key``."""

    def __init__(self, root: str) -> None:
        self.by_stem: dict[str, list[str]] = {}
        self.paths: set[str] = set()  # every image's relative path, as walked
        for rel in filter(is_image, walk_files(root)):
            self.by_stem.setdefault(stem_key(rel), []).append(rel)
            self.paths.add(rel)

    def find(self, name: str) -> str:
        """The image ``name`` (a file name or a stem) pairs with, or SampleRejected."""
        found = self.by_stem.get(stem_key(name), [])
        if not found:
            raise SampleRejected("missing_image", f"no image with the stem of {name!r} under the source folder")
        if len(found) == 1:
            return found[0]
        exact = [rel for rel in found if os.path.basename(rel) == os.path.basename(name)]
        if len(exact) == 1:
            return exact[0]
        raise SampleRejected("ambiguous_image", f"{name!r} pairs with {', '.join(found[:3])}")


def numbers(values: Any, count: int, what: str) -> list[float]:
    """``values`` as ``count`` finite numbers, or ``degenerate_box``."""
    if not isinstance(values, list) or len(values) != count:
        raise SampleRejected("degenerate_box", f"{what} {str(values)[:80]}: not {count} numbers")
    try:
        return [finite(v) for v in values]
    except ValueError as e:
        raise SampleRejected("degenerate_box", f"{what} {str(values)[:80]}: {e}") from None


def positive_size(width: float, height: float, what: str) -> None:
    if width <= 0 or height <= 0:
        raise SampleRejected("degenerate_box", f"{what}: width {width:g}, height {height:g}: a zero or "
                                               "negative size is rejected, never made positive")


def corners(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    """The rectangle from top-left ``(x0, y0)`` to bottom-right ``(x1, y1)``, clockwise."""
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def xywh_box(values: Any, what: str = "bbox") -> Polygon:
    """``[x, y, w, h]`` (left, top, width, height) as corners."""
    x, y, w, h = numbers(values, 4, what)
    positive_size(w, h, what)
    return corners(x, y, x + w, y + h)


def corner_box(values: Any, what: str) -> Polygon:
    """``[x1, y1, x2, y2]`` (top-left, bottom-right) as corners; swapped corners are refused
    like a negative size."""
    x0, y0, x1, y1 = numbers(values, 4, what)
    positive_size(x1 - x0, y1 - y0, what)
    return corners(x0, y0, x1, y1)


def bounding_box(xs: Any, ys: Any, what: str) -> Polygon:
    """The axis-aligned rectangle around points given as separate x and y lists (NIA's
    ``x[4]``/``y[4]`` come TL, BL, TR, BR: not a polygon order, so only min/max count)."""
    px, py = numbers(xs, 4, f"{what}.x"), numbers(ys, 4, f"{what}.y")
    positive_size(max(px) - min(px), max(py) - min(py), what)
    return corners(min(px), min(py), max(px), max(py))


def is_illegible(text: str) -> bool:
    """AI Hub's ``xxx`` (whole text, any case); a word that merely contains an x is text."""
    return text.strip().casefold() == ILLEGIBLE


@dataclass
class Entry:
    """One text region as a label file gives it, whatever the source convention: ``polygon``
    None means the whole image is the region; a ``SampleRejected`` says why the box is unusable."""

    key: str  # unique within the label file
    text: Any
    polygon: Polygon | SampleRejected | None
    vertical: bool | None = None
    dont_care: bool = False


JSON_BYTES = 4096  # about what one label JSON of these sets weighs (a part's size in files)
_INDEX: dict[str, Any] = {}  # this process's image index of the run it parses parts of


class PerImageJson(PageConverter):
    """Base of the one-JSON-per-image formats: every ``.json`` under SRC is loaded
    (confined, bounded), checked against the format's schema, and becomes one page of the
    paired image. Subclasses say where the image name and the regions are (``image_name``,
    ``regions``)."""

    illegible_marker = True  # "xxx" is an illegible word in this format

    def image_name(self, document: Any) -> str:
        raise NotImplementedError

    def upright(self) -> bool:
        """Whether box coordinates refer to the photo turned by its EXIF orientation."""
        return False

    def regions(self, document: Any, rel: str) -> Iterator[Entry]:
        raise NotImplementedError

    def prepare(self, document: Any, rel: str) -> Any:
        """The document as the schema sees it (a hook for formats with varying key case)."""
        return document

    def pages(self) -> Iterator[TextPage]:
        if not self.src.is_dir():
            raise DataconvError(f"{self.src}: -i must be the folder holding the label JSONs and images")
        self.index = StemIndex(self.src)
        yield from self.pages_of(json_files(self.src))

    def pages_of(self, rels: Sequence[str]) -> Iterator[TextPage]:
        """The pages of the label JSONs ``rels``, in order (``self.index`` built)."""
        for rel in rels:
            document = self.prepare(load_json(self.inside(rel), self.options.encoding), rel)
            validate(document, self.schema, rel)
            yield self.page(document, rel)

    def parts(self, part_bytes: int) -> list[Callable[[], Iterator[Parsed]]] | None:
        """The label JSONs in runs of about ``part_bytes`` (taken as JSON_BYTES each), for
        the workers to parse: each worker walks the source once for its image index."""
        if not self.src.is_dir():
            return None  # the parse in the driver says what is wrong
        rels = json_files(self.src)
        per = max(1, part_bytes // JSON_BYTES)
        if len(rels) <= per:
            return None
        run = uuid.uuid4().hex  # a worker's image index serves this run only
        return [functools.partial(self.part_samples, run, tuple(rels[at:at + per]))
                for at in range(0, len(rels), per)]

    def part_samples(self, run: str, rels: tuple[str, ...]) -> Iterator[Parsed]:
        """The crops of the pages of ``rels`` (one part, on a worker)."""
        if _INDEX.get("key") != (run, self.src):
            _INDEX.clear()  # one index a process: the last run's is dropped
            _INDEX.update(key=(run, self.src), index=StemIndex(self.src))
        self.index = _INDEX["index"]
        return crops(self.pages_of(rels), self.options.crop)

    def page(self, document: Any, rel: str) -> TextPage:
        try:
            image: str | SampleRejected = self.index.find(self.image_name(document))
        except SampleRejected as e:
            image = e
        stem = os.path.splitext(rel)[0]
        return TextPage(stem, rel, self.src, image, [self.region(e, stem, rel) for e in self.regions(document, rel)],
                        upright=self.upright(), clamp=True)

    def region(self, entry: Entry, stem: str, rel: str) -> Region:
        text = entry.text
        ignore = None
        if entry.dont_care or text is None:
            ignore = SampleRejected("dont_care", f"text {text!r}")
        elif self.illegible_marker and is_illegible(text):
            ignore = SampleRejected("illegible", repr(text))
        return Region(f"{stem}#{entry.key}", f"{rel}:{entry.key}", text, entry.polygon, ignore=ignore,
                      vertical=entry.vertical)


def ignore_exif_option() -> Any:
    """``--ignore-exif`` of the photographed sets, whose coordinates refer to the upright photo."""
    return option(False, "Crop the stored pixels, ignoring the photo's EXIF orientation "
                         "[default: coordinates refer to the upright photo].")


def box_or_reject(make: Any, *args: Any) -> Polygon | SampleRejected:
    """``make(*args)``, or the rejection it raised (kept on the region)."""
    try:
        return make(*args)
    except SampleRejected as e:
        return e


def lower_keys(value: Any) -> Any:
    """An object with its keys lower-cased (``Bbox``/``bbox``, ``DataSet``/``Dataset``);
    two keys that differ only in case are a whole-file fault, raised as ValueError."""
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        low = key.lower() if isinstance(key, str) else key
        if low in out:
            raise ValueError(f"keys {low!r} appear twice, in different letter case")
        out[low] = item
    return out


def words(items: Sequence[Any]) -> str:
    """Text pieces joined with no separator (AI Hub's per-character word entries)."""
    return "".join(str(v) for v in items)
