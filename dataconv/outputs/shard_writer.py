"""The output seam: what a shard writer is, and a rotation policy that knows no format.

A ``ShardWriter`` writes one shard of some output format (an LMDB today: see
``dataconv.outputs.lmdb_writer``): samples go in with ``add`` and get a 1-based index,
``close`` makes the shard complete and returns its content digest, ``abort`` drops the
handle after a failure (the temporary output folder is removed by the caller).

``RotatingWriter`` spreads a run of samples over several shards of any format, starting
a new shard when the current one would pass a byte budget or holds ``max_count``
samples, as webdataset's ``ShardWriter`` does. A second output format is one new module
with a ``ShardWriter`` class; the rotation and the accounting stay as they are.
"""
from __future__ import annotations

import os
from typing import Callable, NamedTuple, Protocol


class ShardRecord(NamedTuple):
    """A closed shard: its folder or file name, how many samples it holds, its digest."""

    name: str
    count: int
    digest: str


class ShardWriter(Protocol):
    """One shard of one output format, written in order."""

    count: int  # samples added so far
    payload_bytes: int  # bytes of labels and images added so far

    def add(self, label: str, data: bytes) -> int:
        """Write one sample; return the 1-based index it was written at."""
        ...

    def close(self) -> str:
        """Complete the shard; return its content digest (hex)."""
        ...

    def abort(self) -> None:
        """Release the shard after a failure, leaving whatever was written."""
        ...


ShardFactory = Callable[[str], ShardWriter]  # the shard's path -> a writer on it


class RotatingWriter:
    """Writes a run of shards ``<prefix>-<k>`` under ``folder`` through ``open_shard``.

    A new shard starts when the current one holds a sample and the next (its image and its
    label's UTF-8 bytes) would take its payload past ``max_bytes``, or when it holds ``max_count`` samples (None: no count
    limit). ``close`` returns a ``ShardRecord`` per shard, in order."""

    def __init__(self, folder: str, prefix: str, open_shard: ShardFactory, max_bytes: int,
                 max_count: int | None = None) -> None:
        self.folder = folder
        self.prefix = prefix
        self.open_shard = open_shard
        self.max_bytes = max_bytes
        self.max_count = max_count
        self.shards: list[ShardRecord] = []
        self._current: ShardWriter | None = None
        self._name = ""

    def _full(self, cur: ShardWriter, size: int) -> bool:
        if not cur.count:
            return False
        return (cur.payload_bytes + size > self.max_bytes
                or (self.max_count is not None and cur.count >= self.max_count))

    def add(self, label: str, data: bytes) -> tuple[str, int]:
        """Write one sample; return (shard name, 1-based index inside it)."""
        if self._current is not None and self._full(self._current, len(data) + len(label.encode("utf-8"))):
            self._close_current()
        if self._current is None:
            self._name = f"{self.prefix}-{len(self.shards):03d}"
            self._current = self.open_shard(os.path.join(self.folder, self._name))
        return self._name, self._current.add(label, data)

    def _close_current(self) -> None:
        assert self._current is not None
        digest = self._current.close()
        self.shards.append(ShardRecord(self._name, self._current.count, digest))
        self._current = None

    def close(self) -> list[ShardRecord]:
        if self._current is not None:
            self._close_current()
        return self.shards

    def abort(self) -> None:
        if self._current is not None:
            self._current.abort()
            self._current = None
