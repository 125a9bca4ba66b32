"""Reading samples from any LMDB tree: dataconv's OUT (train/ val/ test/ shard folders),
PARSeq's ``train/real/...`` layout, or anyone's tree with the standard keys.

The tree is walked with ``dataconv.io.lmdb_tree.find_lmdbs`` (every folder holding a
``data.mdb``, as clovaai and PARSeq do); the first path component below the root names the
split. LMDB handles are opened lazily, read-only, in whichever process reads (each
DataLoader worker), never in ``__init__``, so datasets pickle.

Neither torch nor lightning is imported here (3-4 s together, far more than reading
thousands of samples): export verification, prediction and the benchmarks read through
``LmdbDataset`` alone; ``dataconv.train.datamodule`` adds the Lightning side.
"""
from __future__ import annotations

import bisect
import os
import random

import lmdb
import numpy as np

from dataconv.io import lmdb_keys
from dataconv.io import lmdb_tree
from dataconv.errors import DataconvError
from dataconv.train.preprocess import Preprocess, augment

SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}


def find_splits(root: str) -> dict[str, list[str]]:
    """LMDB folders under ``root`` grouped by split ({"train": [...], "val": [...], ...})."""
    splits: dict[str, list[str]] = {}
    for path in lmdb_tree.find_lmdbs(root):
        first = os.path.relpath(path, root).split(os.sep)[0]
        if first in SPLIT_NAMES:
            splits.setdefault(SPLIT_NAMES[first], []).append(path)
    return splits


# One read-only handle per LMDB per process, shared by every dataset reading it: LMDB refuses
# to open an environment twice in one process.
_HANDLES: dict[str, lmdb.Environment] = {}


def _close_handles() -> None:
    """Runs before every fork: an LMDB environment must not be used, nor reopened, across
    fork(), so the parent drops its handles and each process (DataLoader worker or parent)
    reopens its own on its next read."""
    for env in _HANDLES.values():
        env.close()
    _HANDLES.clear()


os.register_at_fork(before=_close_handles)


def handle(path: str) -> lmdb.Environment:
    """This process's handle on ``path``, opened through the checked ``open_readonly``."""
    if path not in _HANDLES:
        _HANDLES[path] = lmdb_tree.open_readonly(path)
    return _HANDLES[path]


def count(path: str) -> int:
    """num-samples of one LMDB, without leaving a handle open unless one already is."""
    if path not in _HANDLES:
        return lmdb_tree.count(path)
    return lmdb_tree.num_samples(_HANDLES[path], path)


class LmdbDataset:
    """Samples of several LMDBs as one sequence of (image array, label), a map-style dataset
    for torch's DataLoader. Holds no handle itself (it pickles); reads go through the
    per-process handles above."""

    def __init__(self, paths: list[str], preprocess: Preprocess, augment: bool = False) -> None:
        self.paths = [os.path.abspath(p) for p in paths]
        self.preprocess = preprocess
        self.augment = augment
        self.ends = np.cumsum([count(p) for p in self.paths]).tolist()
        self._rng: tuple[int, random.Random] | None = None

    def __len__(self) -> int:
        return self.ends[-1] if self.ends else 0

    def rng(self) -> random.Random:
        """A generator per process, seeded from torch's per-worker seed."""
        if self._rng is None or self._rng[0] != os.getpid():
            import torch

            self._rng = (os.getpid(), random.Random(torch.initial_seed()))
        return self._rng[1]

    def _locate(self, index: int) -> tuple[int, int]:
        """(shard, 1-based key) of sample ``index`` (0-based over all shards)."""
        shard = bisect.bisect_right(self.ends, index)
        return shard, index - (self.ends[shard - 1] if shard else 0) + 1

    def _read(self, shard: int, key: int) -> tuple[bytes, str]:
        path = self.paths[shard]
        with lmdb_tree.read_errors(path), handle(path).begin() as txn:
            image, label = txn.get(lmdb_keys.image_key(key)), txn.get(lmdb_keys.label_key(key))
        if image is None or label is None:
            raise DataconvError(f"{self.paths[shard]}: sample {key} has no image or label")
        return image, label.decode("utf-8", errors="replace")

    def __getitem__(self, index: int) -> tuple[np.ndarray, str]:
        shard, key = self._locate(index)
        data, label = self._read(shard, key)
        image = self.preprocess.load(data, f"{self.paths[shard]}: sample {key}")
        if self.augment:
            image = augment(image, self.rng())
        return self.preprocess(image), label
