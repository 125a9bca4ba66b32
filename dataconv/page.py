"""The one page model: what every page format parses (an image and its text regions), and
the word crops derived from it.

A page format (ICDAR2015, PaddleOCR det labels, COCO-Text, TextOCR, the AI Hub family,
labelme, Label Studio, minhon pages) yields ``TextPage``s. Two things are derived from
one page: the crops of the recognition task (``crops`` below, into the LMDB pipeline)
and the labels of the detection task (``dataconv.build.detection``).

A region carries what it is as data, not as a decision: ``fault`` (the entry could not
be read at all: a malformed line), ``skip`` (not a region of this granularity: a
character box under ``--kind word``), ``ignore`` (the text cannot teach a recognizer:
``###``, illegible ``xxx``, a broken label; a detector still sees the text there, so
the region stays in its label as a don't-care region), ``points`` (the corners, or why
the geometry is unusable). Crops reject a region for the first of fault, skip, geometry,
the page's image, text.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from dataconv.errors import SampleRejected
from dataconv.sample import Parsed, Reject, Sample

if TYPE_CHECKING:
    from dataconv.io.crop import CropSpec, Polygon
    from dataconv.io.source import SourceRoot


@dataclass
class Region:
    """One text region of a page: ``id`` is the id of its crop sample, ``where`` names
    it in messages (``gt_img_1.txt:3``); ``points`` start at the text's top-left corner
    and go clockwise when ``reading_order``, else they are in any order. ``points`` None
    means the whole image is the region (a handwritten word image)."""

    id: str
    where: str
    text: str | None
    points: Polygon | SampleRejected | None
    ignore: SampleRejected | None = None
    skip: SampleRejected | None = None
    fault: SampleRejected | None = None
    vertical: bool | None = None
    reading_order: bool = True
    meta: dict[str, Any] = field(default_factory=dict)

    def unusable_text(self) -> SampleRejected | None:
        """Why this region's text cannot be a recognition label (None: it can)."""
        if self.ignore is not None:
            return self.ignore
        if self.text is None:
            return SampleRejected("missing_label", "the region has no transcription")
        return None


@dataclass
class TextPage:
    """One page image and its regions. ``id`` is the page's split key and its id in the
    detection output; ``image`` the image's path under ``root`` (or why it cannot be
    used); ``upright``: coordinates refer to the photo turned by its EXIF orientation;
    ``clamp``: crops move corners that overshoot the page onto its edge; ``data``: the
    page's bytes when the annotation embeds them (labelme ``imageData``)."""

    id: str
    source: str
    root: SourceRoot | str
    image: str | SampleRejected
    regions: list[Region] = field(default_factory=list)
    upright: bool = False
    clamp: bool = False
    data: bytes | None = None
    group: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def dont_care(text: Any, reason: str = "dont_care", detail: str | None = None) -> SampleRejected:
    """The ``ignore`` of a region whose transcription marks unreadable text."""
    return SampleRejected(reason, detail if detail is not None else f"text {text!r}")


def region_failure(page: TextPage, region: Region) -> SampleRejected | None:
    """Why this region gives no crop, in the one order: fault, skip, geometry, image, text
    (what stops the crop being cut comes before what stops it being labelled)."""
    for failure in (region.fault, region.skip, region.points, page.image, region.unusable_text()):
        if isinstance(failure, SampleRejected):
            return failure
    return None


def crop_of(page: TextPage, region: Region, spec: CropSpec) -> Parsed:
    """The region's recognition sample, or the reject that says why there is none."""
    from dataconv.io.crop import image_ref  # OpenCV: imported by the crops that need it, so
    # that a run of a format that cuts nothing starts no OpenCV thread before its pool forks

    failure = region_failure(page, region)
    if failure is not None:
        return Reject(region.where, failure.reason, failure.detail, region.id)
    assert isinstance(page.image, str) and isinstance(region.text, str)
    points = region.points if not isinstance(region.points, SampleRejected) else None
    return Sample(id=region.id, label=region.text, source=region.where, group=page.group,
                  meta={**page.meta, "image": page.image, **region.meta}, page=page.id,
                  image=image_ref(page.root, page.image, spec, points, vertical=region.vertical,
                                  reading_order=region.reading_order, clamp=page.clamp,
                                  upright=page.upright, data=page.data))


def crops(items: Iterator[TextPage | Reject], spec: CropSpec) -> Iterator[Parsed]:
    """The recognition samples of a page stream, in page and region order."""
    for item in items:
        if isinstance(item, Reject):
            yield item
        else:
            yield from (crop_of(item, region, spec) for region in item.regions)


def page_runs(regions: Iterable[tuple[str, Region]], new_page: Callable[[str], TextPage]) -> Iterator[TextPage]:
    """Pages from regions listed with their image's key (one label file for every image):
    one page per run of regions of one key, made by ``new_page(key)``; the detection output
    joins runs of the same page."""
    page: TextPage | None = None
    key = None
    for region_key, region in regions:
        if page is None or region_key != key:
            if page is not None:
                yield page
            page, key = new_page(region_key), region_key
        page.regions.append(region)
    if page is not None:
        yield page


def points_of(values: Sequence[Sequence[float]]) -> Polygon:
    return tuple((x, y) for x, y in values)
