"""Spool files: checked outcomes (image bytes included) kept on disk, inside the temporary
output folder, from the pass that reads every image until the writers copy them into shards.

A spool is records written one after the other, each one pickle of a tuple; its writer
keeps where each record ends, so that a reader can fetch any subsequence in order (a shard
task's samples are those of its split, spread over every spool). Consecutive records are
fetched with one read of up to ``READ_BYTES``, so memory stays bounded whatever the spool's
size. Only this run's workers write and read them."""
from __future__ import annotations

import os
import pickle
from array import array
from typing import Any, Callable, ContextManager, Iterator, Mapping, Sequence

from dataconv.outputs.staging import Read, local_reader

WRITE_BYTES = 1 << 20  # records buffered before a write
READ_BYTES = 4 << 20  # the most one read of consecutive records fetches


class SpoolWriter:
    """Appends records to the spool file ``path``; ``ends`` says where each one ends."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.ends = array("q")
        self._size = 0
        self._buffer = bytearray()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._file = open(path, "wb")

    def add(self, record: tuple[Any, ...]) -> None:
        blob = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        self._buffer += blob
        self._size += len(blob)
        self.ends.append(self._size)
        if len(self._buffer) >= WRITE_BYTES:
            self._flush()

    def _flush(self) -> None:
        self._file.write(self._buffer)
        self._buffer.clear()

    def __enter__(self) -> SpoolWriter:
        return self

    def __exit__(self, kind: Any, *rest: Any) -> None:
        try:
            if kind is None:
                self._flush()
        finally:
            self._file.close()


Opener = Callable[[str], ContextManager[Read]]


def read_records(paths: Mapping[int, str], spools: Sequence[int], starts: Sequence[int],
                 ends: Sequence[int], opener: Opener = local_reader, gap: int = 0) -> Iterator[tuple[Any, ...]]:
    """The record at ``[starts[i], ends[i])`` of ``paths[spools[i]]``, for each ``i`` in
    order, each spool opened by ``opener`` (a staged one: ``Stage.reader``). Records of one
    spool at most ``gap`` bytes apart are read together (the bytes between them read and
    left: one ranged GET of a staged spool costs milliseconds, whatever its size)."""
    i = 0
    while i < len(spools):
        current = spools[i]
        with opener(paths[current]) as read:
            while i < len(spools) and spools[i] == current:
                last = _run_end(spools, starts, ends, i, gap)
                base, size = starts[i], ends[last] - starts[i]
                block = read(size, base)
                if len(block) != size:
                    raise OSError(f"{paths[current]}: spool file shorter than its records")
                view = memoryview(block)
                for k in range(i, last + 1):
                    yield pickle.loads(view[starts[k] - base:ends[k] - base])
                i = last + 1


def _run_end(spools: Sequence[int], starts: Sequence[int], ends: Sequence[int], i: int, gap: int = 0) -> int:
    """The last record of the run starting at record ``i`` of records in one spool, each
    at most ``gap`` bytes after the one before, at most READ_BYTES long (or the one record
    ``i``, whatever its size)."""
    last = i
    while (last + 1 < len(spools) and spools[last + 1] == spools[i]
           and 0 <= starts[last + 1] - ends[last] <= gap and ends[last + 1] - starts[i] <= READ_BYTES):
        last += 1
    return last
