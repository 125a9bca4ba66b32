"""A LightningDataModule over any LMDB tree: dataconv's OUT (train/ val/ test/ shard folders),
PARSeq's ``train/real/...`` layout, or anyone's tree with the standard keys.

The tree is walked with ``dataconv.lmdb_tree.find_lmdbs`` (every folder holding a
``data.mdb``, as clovaai and PARSeq do); the first path component below the root names the
split. LMDB handles are opened lazily, read-only, in whichever process reads (each
DataLoader worker), never in ``__init__``, so the module and its datasets pickle.
"""
from __future__ import annotations

import bisect
import os
import random
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from dataconv import lmdb_keys, lmdb_tree
from dataconv.errors import DataconvError
from dataconv.train.preprocess import Preprocess, augment
from dataconv.train.text import CTCCodec, load_charset

SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}


def find_splits(root: str) -> dict[str, list[str]]:
    """LMDB folders under ``root`` grouped by split ({"train": [...], "val": [...], ...})."""
    splits: dict[str, list[str]] = {}
    for path in lmdb_tree.find_lmdbs(root):
        first = os.path.relpath(path, root).split(os.sep)[0]
        if first in SPLIT_NAMES:
            splits.setdefault(SPLIT_NAMES[first], []).append(path)
    return splits


class LmdbDataset(Dataset):
    """Samples of several LMDBs as one sequence of (image array, label)."""

    def __init__(self, paths: list[str], preprocess: Preprocess, augment: bool = False) -> None:
        self.paths = list(paths)
        self.preprocess = preprocess
        self.augment = augment
        self.ends = np.cumsum([lmdb_tree.count(p) for p in self.paths]).tolist()
        self._pid: int | None = None
        self._envs: dict[int, Any] = {}
        self._rng = random.Random()

    def __len__(self) -> int:
        return self.ends[-1] if self.ends else 0

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_pid": None, "_envs": {}}

    def _env(self, shard: int) -> Any:
        # A handle must not cross a fork: reopen in every new process (DataLoader worker).
        if self._pid != os.getpid():
            self._pid, self._envs = os.getpid(), {}
            self._rng = random.Random(torch.initial_seed())
        if shard not in self._envs:
            self._envs[shard] = lmdb_tree.open_readonly(self.paths[shard])
        return self._envs[shard]

    def _locate(self, index: int) -> tuple[int, int]:
        """(shard, 1-based key) of sample ``index`` (0-based over all shards)."""
        shard = bisect.bisect_right(self.ends, index)
        return shard, index - (self.ends[shard - 1] if shard else 0) + 1

    def record(self, index: int) -> tuple[bytes, str]:
        """The encoded image and label of sample ``index``."""
        shard, key = self._locate(index)
        with self._env(shard).begin() as txn:
            image, label = txn.get(lmdb_keys.image_key(key)), txn.get(lmdb_keys.label_key(key))
        if image is None or label is None:
            raise DataconvError(f"{self.paths[shard]}: sample {key} has no image or label")
        return image, label.decode("utf-8", errors="replace")

    def __getitem__(self, index: int) -> tuple[np.ndarray, str]:
        data, label = self.record(index)
        shard, key = self._locate(index)
        image = self.preprocess.load(data, f"{self.paths[shard]}: sample {key}")
        if self.augment:
            image = augment(image, self._rng)
        return self.preprocess(image), label


class Collate:
    """Stacks images; CTC targets as one concatenated id tensor plus per-sample lengths."""

    def __init__(self, codec: CTCCodec) -> None:
        self.codec = codec

    def __call__(self, batch: list[tuple[np.ndarray, str]]) -> dict[str, Any]:
        ids = [self.codec.encode(label) for _, label in batch]
        return {
            "images": torch.from_numpy(np.stack([image for image, _ in batch])),
            "labels": [label for _, label in batch],
            "targets": torch.tensor([i for seq in ids for i in seq], dtype=torch.long),
            "target_lengths": torch.tensor([len(seq) for seq in ids], dtype=torch.long),
        }


class LmdbDataModule(pl.LightningDataModule):
    """train/val/test loaders over the LMDB tree at ``data``.

    The tree is scanned (counts only, handles closed again) at construction so that a wrong
    path, a missing validation split or a missing charset fail before training starts.
    """

    def __init__(self, data: str, charset: str | None = None, img_height: int = 32,
                 img_width: int = 128, channels: int = 1, keep_ratio: bool = True,
                 batch_size: int = 64, workers: int = 0, augment: bool = False) -> None:
        super().__init__()
        self.data = os.path.abspath(data)
        self.charset = load_charset(self.data, charset)
        self.codec = CTCCodec(self.charset)
        self.preprocess = Preprocess(img_height, img_width, channels, keep_ratio)
        self.batch_size, self.workers, self.augment = batch_size, workers, augment
        self.splits = find_splits(self.data)
        for split in ("train", "val"):
            if not self.splits.get(split) or not sum(lmdb_tree.count(p) for p in self.splits[split]):
                raise DataconvError(f"{data}: no {split} samples (expected LMDBs under {data}/{split}/)")

    def dataset(self, split: str) -> LmdbDataset:
        return LmdbDataset(self.splits.get(split, []), self.preprocess,
                           augment=self.augment and split == "train")

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        return DataLoader(self.dataset(split), batch_size=self.batch_size, shuffle=shuffle,
                          num_workers=self.workers, collate_fn=Collate(self.codec),
                          persistent_workers=self.workers > 0, drop_last=False)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        if not self.splits.get("test"):
            raise DataconvError(f"{self.data}: no test split")
        return self._loader("test", shuffle=False)
