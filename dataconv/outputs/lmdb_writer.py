"""Writing LMDB shards: keys in order, batched transactions, a map that grows as needed.

``ShardWriter`` is the LMDB implementation of ``dataconv.outputs.shard_writer.ShardWriter``.

LMDB reports a full disk or a read-only folder as ``lmdb.Error``; it is turned into an
``OSError`` naming the shard, which the CLI prints as one line (exit 1).
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
from typing import Iterator

import lmdb

from dataconv.io import lmdb_keys
from dataconv.io.lmdb_digest import content_digest  # noqa: F401  (the writer's digest, read back)
from dataconv.io.lmdb_digest import entry as _entry
from dataconv.outputs import mapsize
from dataconv.outputs import shard_writer

TXN_SAMPLES = 1000


class ShardWriter:
    """One LMDB shard. ``add`` returns the 1-based index the sample was written at."""

    def __init__(self, path: str, map_size: int | None = None) -> None:
        os.makedirs(path, exist_ok=True)
        self.path = path
        self.map_size = map_size or mapsize.INITIAL_MAP_SIZE  # read now: configurable
        with lmdb_errors(path):
            self.env = lmdb.open(path, map_size=self.map_size, subdir=True, lock=True,
                                 readahead=False, meminit=False, sync=False, metasync=False)
        self.count = 0
        self.payload_bytes = 0
        self._pending: list[tuple[bytes, bytes]] = []
        self.digest = ContentDigest()

    def add(self, label: str, image: bytes) -> int:
        self.count += 1
        encoded = label.encode("utf-8")
        image_key, label_key = lmdb_keys.image_key(self.count), lmdb_keys.label_key(self.count)
        self._pending += ((image_key, image), (label_key, encoded))
        self.digest.add(image_key, image, label_key, encoded)
        self.payload_bytes += len(image) + len(encoded)
        if len(self._pending) >= 2 * TXN_SAMPLES:
            self._flush()
        return self.count

    def _flush(self) -> None:
        with lmdb_errors(self.path):
            self._commit_pending()

    def _commit_pending(self) -> None:
        while True:
            try:
                with self.env.begin(write=True) as txn:
                    for key, value in self._pending:
                        txn.put(key, value)
                break
            except lmdb.MapFullError:
                pending = sum(len(k) + len(v) for k, v in self._pending)
                self.map_size = mapsize.grown(self.map_size, pending)
                self.env.set_mapsize(self.map_size)
        self._pending.clear()

    def close(self) -> str:
        """Write ``num-samples`` with the last batch, sync, and close; return the shard's
        ``content_digest``."""
        self._pending.append((lmdb_keys.NUM_SAMPLES, lmdb_keys.encode_count(self.count)))
        try:
            self._flush()
            with lmdb_errors(self.path):
                self.env.sync(True)
        finally:
            self.env.close()
        return self.digest.hexdigest(lmdb_keys.encode_count(self.count))

    def abort(self) -> None:
        """Close the handle without writing what is pending (the shard is discarded)."""
        self.env.close()

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class RotatingWriter(shard_writer.RotatingWriter):
    """LMDB shards under the format-free rotation policy of ``shard_writer``."""

    def __init__(self, folder: str, prefix: str, max_bytes: int, max_count: int | None = None) -> None:
        super().__init__(folder, prefix, ShardWriter, max_bytes, max_count)


@contextlib.contextmanager
def lmdb_errors(path: str) -> Iterator[None]:
    """Re-raise LMDB's own errors (full disk, read-only folder) as an OSError for ``path``."""
    try:
        yield
    except lmdb.MapFullError:
        raise
    except lmdb.Error as e:
        code = _errno_of(str(e), path)
        raise OSError(code, f"cannot write LMDB shard: {os.strerror(code)} ({e})", path) from None


LOW_SPACE = 16 * 1024 * 1024


def _errno_of(text: str, path: str) -> int:
    """The errno LMDB's message names; a bare I/O error on a nearly full disk is ENOSPC
    (LMDB reports a short write as EIO)."""
    for code in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT):
        if os.strerror(code) in text:
            return code
    try:
        if shutil.disk_usage(path).free < LOW_SPACE:
            return errno.ENOSPC
    except OSError:
        pass
    return errno.EIO


class ContentDigest:
    """``content_digest`` computed while writing, so that no shard is read again.

    Every ``image-`` key sorts before every ``label-`` key and both before ``num-samples``,
    and indices are zero-padded: the image entries are hashed as they come, the label
    entries (a few bytes each) are kept and hashed after them."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._labels: list[bytes] = []

    def add(self, image_key: bytes, image: bytes, label_key: bytes, label: bytes) -> None:
        self._hash.update(_entry(image_key, image))
        self._labels.append(_entry(label_key, label))

    def hexdigest(self, num_samples: bytes) -> str:
        self._hash.update(b"".join(self._labels))
        self._hash.update(_entry(lmdb_keys.NUM_SAMPLES, num_samples))
        return self._hash.hexdigest()
