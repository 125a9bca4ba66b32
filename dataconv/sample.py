"""What a converter yields: samples to check and write, or rejects with a reason.

Samples travel to worker processes and Dask workers, so every field is picklable and
an image is a reference that is read where the shard is built, not in the parser.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Union

from dataconv.errors import SampleRejected
from dataconv.io.decode import DEFAULT_MAX_PIXELS
from dataconv.io.paths import read_inside
from dataconv.reasons import known

if TYPE_CHECKING:
    from dataconv.io.source import SourceRoot


@dataclass(frozen=True)
class ReadContext:
    """Settings that govern how image references are opened and decoded."""

    follow_symlinks: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS  # --max-pixels: no decode of a larger image


class ImageRef(Protocol):
    def read(self, ctx: ReadContext) -> bytes:
        """Return the encoded image bytes, or raise SampleRejected."""


@dataclass(frozen=True)
class FileImage:
    """An image file, named relative to the source root: a folder path, or a
    ``SourceRoot`` (a folder or an archive; it pickles as the archive's path and each
    process opens the archive itself). A name missing in the written Unicode normal form
    is looked up in the other one (``paths.name_forms``)."""

    root: str | SourceRoot
    rel: str

    def read(self, ctx: ReadContext) -> bytes:
        return read_inside(self.root, self.rel, ctx.follow_symlinks, ctx.max_pixels)


@dataclass(frozen=True)
class BytesImage:
    """Image bytes already in hand (an existing LMDB, an archive member)."""

    data: bytes

    def read(self, ctx: ReadContext) -> bytes:
        return self.data


@dataclass
class Sample:
    """One recognition sample: an image and its label.

    ``id`` is stable across runs (split assignment hashes it); ``source`` says where the
    sample came from, for messages (``gt.txt:12``, ``info.json:annotations[41]``);
    ``group`` keeps related samples in one split; ``meta`` holds format attributes.
    """

    id: str
    label: str
    image: ImageRef
    source: str
    group: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    page: str | None = None  # the id of the page it was cut from (``dataconv.page``), if any


@dataclass
class Reject:
    """An input sample that will not be written, and why (``reason``: one registered in
    ``dataconv.reasons``)."""

    source: str
    reason: str
    detail: str = ""
    id: str | None = None
    level: str = "sample"  # "box": a detection box removed from a page that is written

    def __post_init__(self) -> None:
        known(self.reason)

    def to_json(self) -> dict[str, Any]:
        """The rejects.jsonl row; text that is not valid Unicode (lone surrogates from
        JSON escapes, undecodable file names) is written as ``\\udXXX`` escapes."""
        row = {"source": _printable(self.source), "reason": self.reason,
               "detail": _printable(self.detail),
               "id": None if self.id is None else _printable(self.id)}
        return row if self.level == "sample" else {**row, "level": self.level}


Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels


@dataclass
class LayoutPage:
    """What a converter of the layout output (``output = "coco"``) yields: one image and
    its boxes. Each box is one input sample; the page is the unit that is split."""

    id: str  # the split key (for NDL: the XML path under -i without its extension)
    source: str  # the annotation file, named in rejects
    image: str | SampleRejected  # the image path under -i, or why it cannot be used
    objects: list[tuple[str, Box]] = field(default_factory=list)  # (class name, box)


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


# What a converter yields for each input sample: parsing ends in one or the other.
Parsed = Union[Sample, Reject]
