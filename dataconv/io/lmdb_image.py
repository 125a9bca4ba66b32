"""A lazy reference to one image inside an existing LMDB dataset.

Re-reading a large LMDB tree must not hold every image in memory, and an LMDB handle
must not cross a process boundary. ``LmdbImage`` carries only the folder and the index;
``read`` opens the LMDB read-only and lock-free the first time this process needs it
(PARSeq's ``LmdbDataset`` pattern) and keeps the handle for the next samples;
``close_handles`` ends them when the conversion is over.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import lmdb

from dataconv.io import lmdb_keys
from dataconv.errors import DataconvError, SampleRejected
from dataconv.io.lmdb_tree import open_readonly
from dataconv.sample import ReadContext

_HANDLES: dict[tuple[int, str], lmdb.Environment] = {}


def handle(path: str, root: str | None = None) -> lmdb.Environment:
    """This process's read-only handle on ``path`` (opened once per process, through the
    checked ``open_readonly``; ``root``: the source folder it must lie in, if any)."""
    key = (os.getpid(), path)
    if key not in _HANDLES:
        _HANDLES[key] = open_readonly(path, root)
    return _HANDLES[key]


def close_handles() -> None:
    """Close this process's handles (LMDB refuses a second open of one path per process)."""
    for key in [k for k in _HANDLES if k[0] == os.getpid()]:
        _HANDLES.pop(key).close()


@dataclass(frozen=True)
class LmdbImage:
    path: str  # the folder holding data.mdb
    index: int  # 1-based, as in image-%09d
    root: str | None = None  # the source folder the LMDB must lie in (None: a user's path)

    def read(self, ctx: ReadContext) -> bytes:
        try:
            with handle(self.path, self.root).begin(buffers=False) as txn:
                data = txn.get(lmdb_keys.image_key(self.index))
        except (DataconvError, lmdb.Error) as e:
            raise SampleRejected("unreadable_image", f"{self.path}: {e}"[:300]) from None
        if data is None:
            raise SampleRejected("missing_image", f"no image-{self.index:09d} key")
        return data
