"""Reading samples from any LMDB tree: dataconv's OUT (train/ val/ test/ shard folders),
PARSeq's ``train/real/...`` layout, or anyone's tree with the standard keys.

The tree is read through ``dataconv.io.dataset_reader`` (every folder holding a
``data.mdb``, as clovaai and PARSeq find them; its split from the one split table). LMDB
handles are opened lazily, read-only, in whichever process reads (each DataLoader worker),
never in ``__init__``, so datasets pickle.

Neither torch nor lightning is imported here (3-4 s together, far more than reading
thousands of samples): export verification, prediction and the benchmarks read through
``LmdbDataset`` alone; ``dataconv.train.datamodule`` adds the Lightning side.
"""
from __future__ import annotations

import bisect
import os
import random

import numpy as np

from dataconv.io import dataset_reader
from dataconv.errors import DataconvError
from dataconv.train.preprocess import Preprocess, augment

count = dataset_reader.count  # num-samples of one LMDB folder


def find_splits(root: str) -> dict[str, list[str]]:
    """LMDB folders under ``root`` grouped by split ({"train": [...], "val": [...], ...});
    LMDBs under no split folder are left out."""
    return {split: [shard.path for shard in shards]
            for split, shards in dataset_reader.open_dataset(root).splits().items()}


class LmdbDataset:
    """Samples of several LMDBs as one sequence of (image array, label), a map-style dataset
    for torch's DataLoader. Holds no handle itself (it pickles); reads go through the
    per-process handles of ``dataconv.io.dataset_reader``."""

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
        image, label = dataset_reader.read_sample(self.paths[shard], key)
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
