"""The samples of a run, packed: (seq, Sample) pairs held in a few buffers.

Between the parse and the plan the driver holds every parsed sample, and each worker
holds the shard task or segment it works on. As objects a gt.txt sample costs about 600
bytes (the Sample, its FileImage, their strings, an empty meta dict, the (seq, sample)
tuple); packed, it costs its text's UTF-8 bytes and an offset per field. A Sample is
built when it is reached, and an index pickles as its buffers, so a task travels to a
worker as a few byte strings.

Text is encoded with ``surrogatepass``, so every str comes back equal, lone surrogates
(JSON escapes) and undecodable file names (``surrogateescape``) included. Images under
the index's one root are kept as their relative names; any other image (another root, a
crop, bytes in hand) and any non-empty meta dict is kept as the object it is, and so is a
whole sample whose text fields are not all str (or None where allowed), or that is not
exactly a ``Sample``: the checks, not the index, decide what such a sample is worth.
"""
from __future__ import annotations

import itertools
from array import array
from collections.abc import Sequence
from typing import Any, Iterable, Iterator

import numpy as np

from dataconv.sample import FileImage, Sample

TEXT_FIELDS = ("id", "label", "source", "group", "page", "rel")  # rel: a FileImage's, under root
ENCODING, ERRORS = "utf-8", "surrogatepass"


class TextColumn:
    """Strings or None: their UTF-8 bytes end to end, where each ends, which are None
    (one flag a row; ``b""`` when none is)."""

    __slots__ = ("data", "ends", "none")

    def __init__(self, data: bytes | bytearray, ends: array, none: bytes | bytearray) -> None:
        self.data = data
        self.ends = ends
        self.none = none

    def append(self, text: str | None) -> None:
        if text is not None:
            self.data += text.encode(ENCODING, ERRORS)  # type: ignore[operator]
        self.ends.append(len(self.data))
        self.none += b"\0" if text is not None else b"\1"  # type: ignore[operator]

    def frozen(self) -> TextColumn:
        """Immutable, its offsets 4 bytes each where they fit, no flags when none is None."""
        ends = array("I", self.ends) if len(self.data) < 2**32 else self.ends
        return TextColumn(bytes(self.data), ends, b"" if b"\1" not in self.none else bytes(self.none))

    def __len__(self) -> int:
        return len(self.ends)

    def at(self, row: int) -> str | None:
        """The string of one row (for messages: reading them all is ``iter``)."""
        if self.none and self.none[row]:
            return None
        return str(memoryview(self.data)[self.ends[row - 1] if row else 0:self.ends[row]], ENCODING, ERRORS)

    def __iter__(self) -> Iterator[str | None]:
        view, start = memoryview(self.data), 0
        for end, none in zip(self.ends, self.none or itertools.repeat(0)):
            yield None if none else str(view[start:end], ENCODING, ERRORS)
            start = end

    def take(self, rows: np.ndarray) -> TextColumn:
        """The column of ``rows`` (positions, in the order given)."""
        ends = np.asarray(self.ends, np.int64)
        starts = np.concatenate((np.zeros(1, np.int64), ends[:-1]))[rows]
        lengths = ends[rows] - starts
        new_ends = np.cumsum(lengths)
        # each kept byte's position: its row's start, plus how far it lies into its row
        at = np.repeat(starts - (new_ends - lengths), lengths) + np.arange(int(new_ends[-1]) if len(rows) else 0)
        data = np.frombuffer(self.data, np.uint8)[at].tobytes()
        none = np.frombuffer(self.none, np.uint8)[rows].tobytes() if self.none else b""
        dtype = np.uint32 if self.ends.typecode == "I" else np.int64
        return TextColumn(data, array(self.ends.typecode, new_ends.astype(dtype).tobytes()), none)


class SampleIndex(Sequence):
    """(seq, Sample) pairs, packed; a read-only sequence whose pairs are built as reached.
    ``index[a:b]`` and ``take(rows)`` are packed indexes of those samples."""

    def __init__(self, seqs: array, text: dict[str, TextColumn], root: Any, objects: dict[int, Any],
                 meta: dict[int, dict[str, Any]], whole: dict[int, Any]) -> None:
        self.seqs = seqs  # int64, one a sample
        self.text = text
        self.root = root  # the root of the images kept as names (None: no such image)
        self.objects = objects  # position -> image, for images not under root
        self.meta = meta  # position -> meta, where not empty
        self.whole = whole  # position -> the sample as it came, where it is not plain

    @classmethod
    def of(cls, samples: Iterable[tuple[int, Sample]]) -> SampleIndex:
        builder = Builder()
        for seq, sample in samples:
            builder.add(seq, sample)
        return builder.finish()

    def __len__(self) -> int:
        return len(self.seqs)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return self.take(np.arange(len(self), dtype=np.int64)[index])
        i = range(len(self))[index]
        return next(iter(self.take(np.array([i], np.int64))))

    def __iter__(self) -> Iterator[tuple[int, Sample]]:
        root, objects, meta, whole = self.root, self.objects, self.meta, self.whole
        columns = zip(self.seqs, *(self.text[name] for name in TEXT_FIELDS))
        for i, (seq, id_, label, source, group, page, rel) in enumerate(columns):
            if i in whole:
                yield seq, whole[i]
                continue
            image = FileImage(root, rel) if rel is not None else objects[i]
            yield seq, Sample(id_, label, image, source, group, meta[i] if i in meta else {}, page)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (list, SampleIndex)) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def take(self, rows: Sequence[int] | np.ndarray) -> SampleIndex:
        """The samples at positions ``rows``, in that order."""
        rows = np.asarray(rows, np.int64)
        seqs = array("q", np.frombuffer(self.seqs, np.int64)[rows].tobytes())
        text = {name: column.take(rows) for name, column in self.text.items()}
        return SampleIndex(seqs, text, self.root, _moved(self.objects, rows), _moved(self.meta, rows),
                           _moved(self.whole, rows))


def _moved(sparse: dict[int, Any], rows: np.ndarray) -> dict[int, Any]:
    """``sparse`` (position -> value) renumbered for the positions ``rows``."""
    if not sparse:
        return {}
    return {new: sparse[old] for new, old in enumerate(rows.tolist()) if old in sparse}


class Builder:
    """A SampleIndex filled one sample at a time (the parse), then ``finish``ed."""

    def __init__(self) -> None:
        self.seqs = array("q")
        self.text = {name: TextColumn(bytearray(), array("q"), bytearray()) for name in TEXT_FIELDS}
        self.root: Any = None
        self.objects: dict[int, Any] = {}
        self.meta: dict[int, dict[str, Any]] = {}
        self.whole: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.seqs)

    def add(self, seq: int, sample: Sample) -> None:
        at = len(self.seqs)
        self.seqs.append(seq)
        if not _plain(sample):
            self.whole[at] = sample
            for column in self.text.values():
                column.append(None)
            return
        image = sample.image
        if type(image) is FileImage and self.root is None:
            self.root = image.root
        under_root = (type(image) is FileImage and type(image.rel) is str
                      and (image.root is self.root or image.root == self.root))
        if not under_root:
            self.objects[at] = image
        if sample.meta:
            self.meta[at] = sample.meta
        text = self.text
        for name, value in (("id", sample.id), ("label", sample.label), ("source", sample.source),
                            ("group", sample.group), ("page", sample.page),
                            ("rel", image.rel if under_root else None)):
            text[name].append(value)

    def source(self, at: int) -> str:
        """The ``source`` of the sample added at position ``at`` (for messages)."""
        if at in self.whole:
            return self.whole[at].source
        return self.text["source"].at(at)  # type: ignore[return-value]  (a plain sample's source is a str)

    def finish(self) -> SampleIndex:
        return SampleIndex(self.seqs, {name: c.frozen() for name, c in self.text.items()},
                           self.root, self.objects, self.meta, self.whole)


def _plain(sample: Any) -> bool:
    """A ``Sample`` whose id, label and source are str, its group and page str or None,
    its meta a dict."""
    return (type(sample) is Sample and type(sample.meta) is dict and type(sample.id) is str and type(sample.label) is str
            and type(sample.source) is str and (sample.group is None or type(sample.group) is str)
            and (sample.page is None or type(sample.page) is str))
