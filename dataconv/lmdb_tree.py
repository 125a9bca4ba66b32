"""Reading any LMDB dataset tree the way the trainers do.

clovaai walks the tree and treats every folder holding an LMDB as one dataset; PARSeq
globs ``**/data.mdb``. Both find the same folders here. Handles are read-only and
lock-free, so readers never block a writer and work on read-only media.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import lmdb

from dataconv import lmdb_keys
from dataconv.errors import DataconvError


@dataclass(frozen=True)
class Record:
    """One sample as stored: 1-based index, raw label bytes, image bytes (None if absent)."""

    index: int
    label_bytes: bytes | None
    image: bytes | None

    @property
    def label(self) -> str:
        """The label decoded as UTF-8 (invalid bytes replaced)."""
        return (self.label_bytes or b"").decode("utf-8", errors="replace")


def find_lmdbs(root: str) -> list[str]:
    """Every folder at or under ``root`` that holds a ``data.mdb``, sorted."""
    if not os.path.exists(root):
        raise DataconvError(f"{root}: no such file or folder")
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        if "data.mdb" in filenames:
            found.append(dirpath)
    if not found:
        raise DataconvError(f"{root}: no LMDB dataset (no data.mdb) found")
    return sorted(found)


def open_readonly(path: str) -> lmdb.Environment:
    try:
        return lmdb.open(path, readonly=True, lock=False, readahead=False,
                         meminit=False, subdir=True, max_readers=256)
    except lmdb.Error as e:
        raise DataconvError(f"{path}: not a readable LMDB ({e})") from None


def num_samples(txn: lmdb.Transaction, path: str) -> int:
    raw = txn.get(lmdb_keys.NUM_SAMPLES)
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise DataconvError(f"{path}: missing or invalid 'num-samples' key") from None


def iter_records(path: str) -> Iterator[Record]:
    """Every sample of one LMDB, in index order."""
    env = open_readonly(path)
    try:
        with env.begin() as txn:
            for i in range(1, num_samples(txn, path) + 1):
                yield Record(i, txn.get(lmdb_keys.label_key(i)), txn.get(lmdb_keys.image_key(i)))
    finally:
        env.close()


def count(path: str) -> int:
    env = open_readonly(path)
    try:
        with env.begin() as txn:
            return num_samples(txn, path)
    finally:
        env.close()
