"""A lazy reference to one image inside an existing LMDB dataset.

Re-reading a large LMDB tree must not hold every image in memory, and an LMDB handle
must not cross a process boundary. ``LmdbImage`` carries only the folder and the index;
``read`` goes through this process's handle (``dataconv.io.dataset_reader.handle``: opened
read-only on first use and kept for the next samples); ``close_handles`` ends them when the
conversion is over.
"""
from __future__ import annotations

from dataclasses import dataclass

import lmdb

from dataconv.io import lmdb_keys
from dataconv.errors import DataconvError, SampleRejected
from dataconv.io.dataset_reader import close_handles, handle
from dataconv.sample import ReadContext

__all__ = ["LmdbImage", "close_handles"]


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
