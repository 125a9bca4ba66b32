"""Reading a dataset back: dataconv's OUT, PARSeq's ``train/real`` tree or anyone's LMDBs.

Every command that reads samples from LMDBs (``report``, ``charset``, ``validate``,
``train``, the ``lmdb`` source format) goes through this module:

* ``SPLITS`` and ``split_of``: the one table of split names. dataconv writes ``train``
  (``train/real`` with ``--layout parseq``), ``val`` and ``test``; other tools' ``valid``
  and ``validation`` folders are read as ``val``; an LMDB under no such folder belongs to
  no split (None), and each command says what that means for it.
* ``open_dataset``: the tree's shards (every folder holding a ``data.mdb``, as clovaai
  and PARSeq find them) with their splits, counts and records.
* ``handle``: one read-only handle per LMDB per process, opened lazily on first read
  (PARSeq's ``LmdbDataset`` pattern), so readers pickle and each DataLoader or pool
  worker opens its own. Handles are closed before every fork: an LMDB environment must
  not be used across fork().

Every LMDB is opened by ``lmdb_tree.open_readonly`` (the checked open).
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Iterable, Iterator

import lmdb

from dataconv.io import lmdb_keys
from dataconv.io import lmdb_tree
from dataconv.io.lmdb_tree import Record

SPLITS = ("train", "val", "test")  # the splits dataconv writes, in output order
_SPLIT_FOLDERS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
PARSEQ_TRAIN = "train/real"  # where PARSeq's data.root_dir expects the training LMDBs


def split_folder(split: str, layout: str) -> str:
    """Where a split's shards are written: PARSeq reads training data from ``train/real``."""
    return PARSEQ_TRAIN if (split == "train" and layout == "parseq") else split


def split_of(rel: str) -> str | None:
    """The split of an LMDB at ``rel`` (relative to the tree's root): its first folder
    (``train/real/...`` is train); None for an LMDB under no split folder."""
    first = rel.replace(os.sep, "/").split("/")[0]
    return _SPLIT_FOLDERS.get(first)


_HANDLES: dict[tuple[int, str], lmdb.Environment] = {}


def handle(path: str, root: str | None = None) -> lmdb.Environment:
    """This process's read-only handle on the LMDB in ``path`` (``root``: the source folder
    it must lie in, if any)."""
    key = (os.getpid(), path)
    if key not in _HANDLES:
        _HANDLES[key] = lmdb_tree.open_readonly(path, root)
    return _HANDLES[key]


def close_handles() -> None:
    """Close this process's handles (LMDB refuses a second open of one path per process);
    a handle inherited from a parent is dropped, never used."""
    for key in list(_HANDLES):
        env = _HANDLES.pop(key)
        if key[0] == os.getpid():
            env.close()


os.register_at_fork(before=close_handles)


def count(path: str) -> int:
    """``num-samples`` of the LMDB in ``path``, checked; through this process's handle if
    one is open, without leaving one open otherwise."""
    with borrowed(path) as env:
        return lmdb_tree.num_samples(env, path)


@contextlib.contextmanager
def borrowed(path: str) -> Iterator[lmdb.Environment]:
    """A read-only environment on ``path``: this process's handle when one is open (LMDB
    refuses a second environment on one file in a process), else one opened for this
    read and closed after it."""
    env = _HANDLES.get((os.getpid(), path))
    if env is not None:
        yield env
        return
    env = lmdb_tree.open_readonly(path)
    try:
        yield env
    finally:
        env.close()


@dataclass(frozen=True)
class Shard:
    """One LMDB of a dataset: ``path`` on disk, ``rel`` to the dataset's root ('.' for a
    root that is itself an LMDB), ``split`` from ``split_of`` (None: no split folder)."""

    path: str
    rel: str
    split: str | None

    def count(self) -> int:
        return count(self.path)

    def records(self) -> Iterator[Record]:
        """Every sample, in index order."""
        with borrowed(self.path) as env, lmdb_tree.read_errors(self.path), env.begin() as txn:
            for i in range(1, lmdb_tree.num_samples(env, self.path) + 1):
                yield Record(i, txn.get(lmdb_keys.label_key(i)), txn.get(lmdb_keys.image_key(i)))

    def read(self, indices: Iterable[int]) -> Iterator[Record]:
        """The samples at the given 1-based indices (a missing key reads as None)."""
        with borrowed(self.path) as env, lmdb_tree.read_errors(self.path), env.begin() as txn:
            for i in indices:
                yield Record(i, txn.get(lmdb_keys.label_key(i)), txn.get(lmdb_keys.image_key(i)))


@dataclass(frozen=True)
class Dataset:
    root: str
    shards: list[Shard]

    def splits(self) -> dict[str, list[Shard]]:
        """The shards of each split that has any, in ``SPLITS`` order; shards under no
        split folder are left out."""
        found = {s: [sh for sh in self.shards if sh.split == s] for s in SPLITS}
        return {s: shards for s, shards in found.items() if shards}


def shard_at(root: str, rel: str) -> Shard:
    """The LMDB at ``rel`` under ``root`` (as samples.parquet and the manifest name it)."""
    return Shard(os.path.join(root, rel), rel, split_of(rel))


def open_dataset(root: str) -> Dataset:
    """The dataset at ``root``: every LMDB under it, sorted by path (DataconvError when
    there is none)."""
    shards = []
    for path in lmdb_tree.find_lmdbs(root):
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        shards.append(Shard(path, rel, split_of(rel)))
    return Dataset(root, shards)


def read_sample(path: str, index: int) -> tuple[bytes | None, bytes | None]:
    """(image, raw label) of one sample through this process's handle: the random-access
    read of the training loader."""
    with lmdb_tree.read_errors(path), handle(path).begin() as txn:
        return txn.get(lmdb_keys.image_key(index)), txn.get(lmdb_keys.label_key(index))
