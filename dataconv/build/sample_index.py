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
ROWS_AT_ONCE = 4096  # rows decoded together when an index or a column is read
ENCODING, ERRORS = "utf-8", "surrogatepass"


class TextColumn:
    """Strings or None: their UTF-8 bytes end to end, where each ends, which are None
    (one flag a row; ``b""`` when none is)."""

    __slots__ = ("data", "ends", "none")

    def __init__(self, data: bytes | bytearray, ends: array, none: bytes | bytearray) -> None:
        self.data = data
        self.ends = ends
        self.none = none

    def __len__(self) -> int:
        return len(self.ends)

    def at(self, row: int) -> str | None:
        """The string of one row (for messages: reading them all is ``iter``)."""
        return self.strings(row, row + 1)[0]

    def __iter__(self) -> Iterator[str | None]:
        for start in range(0, len(self), ROWS_AT_ONCE):
            yield from self.strings(start, min(start + ROWS_AT_ONCE, len(self)))

    def strings(self, start: int, stop: int) -> list[str | None]:
        """The strings of rows ``start`` to ``stop``: their bytes decoded at once and cut
        by character offsets (where the text is not ASCII, each row's end less the UTF-8
        continuation bytes before it), rather than a slice and a decode a row."""
        ends = np.asarray(self.ends[start:stop], np.int64)
        base = self.ends[start - 1] if start else 0
        raw = self.data[base:int(ends[-1]) if len(ends) else base]
        ends -= base
        if raw.isascii():
            text = raw.decode("ascii")
        else:
            text = raw.decode(ENCODING, ERRORS)
            continuation = (np.frombuffer(raw, np.uint8) & 0xC0) == 0x80
            ends -= np.concatenate((np.zeros(1, np.int64), np.cumsum(continuation)))[ends]
        bounds = [0, *ends.tolist()]
        rows = [text[a:b] for a, b in zip(bounds, bounds[1:])]
        if self.none:
            rows = [None if flag else row for row, flag in zip(rows, self.none[start:stop])]
        return rows

    @classmethod
    def concat(cls, columns: Sequence[TextColumn]) -> TextColumn:
        """The rows of ``columns``, one column after the other."""
        sizes = np.cumsum([0] + [len(c.data) for c in columns], dtype=np.int64)
        ends = np.concatenate([np.asarray(c.ends, np.int64) + base for c, base in zip(columns, sizes)]
                              + [np.zeros(0, np.int64)])
        dtype = "I" if sizes[-1] < 2**32 else "q"
        none = b"".join(c.none or bytes(len(c)) for c in columns) if any(c.none for c in columns) else b""
        return TextColumn(b"".join(c.data for c in columns), array(dtype, ends.astype(dtype).tobytes()), none)

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

    @classmethod
    def concat(cls, indexes: Sequence[SampleIndex], shifts: Sequence[int]) -> SampleIndex:
        """The samples of ``indexes`` one index after the other, each one's seqs plus its
        ``shifts`` entry (indexes built apart, each numbering its samples from 0)."""
        roots = {id(i.root): i.root for i in indexes if i.root is not None}
        root = next(iter(roots.values()), None)
        if any(other != root for other in roots.values()):  # never from one converter
            return cls.of((seq + shift, sample) for index, shift in zip(indexes, shifts) for seq, sample in index)
        seqs = np.concatenate([np.frombuffer(i.seqs, np.int64) + shift for i, shift in zip(indexes, shifts)]
                              + [np.zeros(0, np.int64)])
        text = {name: TextColumn.concat([i.text[name] for i in indexes]) for name in TEXT_FIELDS}
        starts = itertools.accumulate((len(i) for i in indexes), initial=0)
        sparse: dict[str, dict[int, Any]] = {"objects": {}, "meta": {}, "whole": {}}
        for index, start in zip(indexes, starts):
            for name, values in sparse.items():
                values.update((at + start, value) for at, value in getattr(index, name).items())
        return SampleIndex(array("q", seqs.tobytes()), text, root, **sparse)

    def __len__(self) -> int:
        return len(self.seqs)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return self.take(np.arange(len(self), dtype=np.int64)[index])
        i = range(len(self))[index]
        return next(iter(self.take(np.array([i], np.int64))))

    def __iter__(self) -> Iterator[tuple[int, Sample]]:
        root, objects, meta, whole = self.root, self.objects, self.meta, self.whole
        for start in range(0, len(self), ROWS_AT_ONCE):
            stop = min(start + ROWS_AT_ONCE, len(self))
            columns = (self.text[name].strings(start, stop) for name in TEXT_FIELDS)
            rows = zip(range(start, stop), self.seqs[start:stop], *columns)
            for i, seq, id_, label, source, group, page, rel in rows:
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


class ColumnBuilder:
    """A TextColumn filled a batch of strings at a time (one join and one encode when they
    are ASCII, rather than an encode and three appends a string)."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.ends = array("q")
        self.none = bytearray()

    def extend(self, values: list[str | None]) -> None:
        texts = ["" if text is None else text for text in values]
        joined = "".join(texts)
        if joined.isascii():
            self.data += joined.encode("ascii")
            lengths = np.fromiter(map(len, texts), np.int64, len(texts))
        else:
            encoded = [text.encode(ENCODING, ERRORS) for text in texts]
            self.data += b"".join(encoded)
            lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
        base = self.ends[-1] if self.ends else 0
        self.ends.frombytes((np.cumsum(lengths) + base).tobytes())
        self.none += bytes(text is None for text in values)

    def finish(self) -> TextColumn:
        """The column: its offsets 4 bytes each where they fit, no flags when none is None."""
        ends = array("I", self.ends) if len(self.data) < 2**32 else self.ends
        return TextColumn(bytes(self.data), ends, b"" if b"\1" not in self.none else bytes(self.none))


class Builder:
    """A SampleIndex filled one sample at a time (the parse), then ``finish``ed. The text
    fields of the last BATCH samples wait as lists (one per field, in TEXT_FIELDS order)
    and are packed together."""

    BATCH = 4096

    def __init__(self) -> None:
        self.seqs = array("q")
        self.columns = [ColumnBuilder() for _ in TEXT_FIELDS]
        self.pending: tuple[list[str | None], ...] = tuple([] for _ in TEXT_FIELDS)
        self.root: Any = None
        self.objects: dict[int, Any] = {}
        self.meta: dict[int, dict[str, Any]] = {}
        self.whole: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.seqs)

    def add(self, seq: int, sample: Sample) -> None:
        at = len(self.seqs)
        self.seqs.append(seq)
        ids, labels, sources, groups, pages, rels = self.pending
        if not _plain(sample):
            self.whole[at] = sample
            for values in self.pending:
                values.append(None)
        else:
            image = sample.image
            if type(image) is FileImage and self.root is None:
                self.root = image.root
            under_root = (type(image) is FileImage and type(image.rel) is str
                          and (image.root is self.root or image.root == self.root))
            if not under_root:
                self.objects[at] = image
            if sample.meta:
                self.meta[at] = sample.meta
            ids.append(sample.id)
            labels.append(sample.label)
            sources.append(sample.source)
            groups.append(sample.group)
            pages.append(sample.page)
            rels.append(image.rel if under_root else None)
        if len(ids) >= self.BATCH:
            self._pack()

    def _pack(self) -> None:
        for column, values in zip(self.columns, self.pending):
            column.extend(values)
            values.clear()

    def source(self, at: int) -> str:
        """The ``source`` of the sample added at position ``at`` (for messages)."""
        if at in self.whole:
            return self.whole[at].source
        self._pack()
        column = self.columns[TEXT_FIELDS.index("source")]
        return TextColumn(column.data, column.ends, column.none).at(at)  # type: ignore[return-value]

    def finish(self) -> SampleIndex:
        self._pack()
        return SampleIndex(self.seqs, {name: c.finish() for name, c in zip(TEXT_FIELDS, self.columns)},
                           self.root, self.objects, self.meta, self.whole)


def _plain(sample: Any) -> bool:
    """A ``Sample`` whose id, label and source are str, its group and page str or None,
    its meta a dict."""
    return (type(sample) is Sample and type(sample.meta) is dict and type(sample.id) is str and type(sample.label) is str
            and type(sample.source) is str and (sample.group is None or type(sample.group) is str)
            and (sample.page is None or type(sample.page) is str))
