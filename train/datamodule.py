"""A LightningDataModule over any LMDB tree (see ``dataconv.train.lmdb_dataset``): train,
val and test loaders, CTC targets from the dataset's charset."""
from __future__ import annotations

import os
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader

from dataconv.errors import DataconvError
from dataconv.train.lmdb_dataset import LmdbDataset, count, find_splits
from dataconv.train.preprocess import Preprocess
from dataconv.train.text import CTCCodec, load_charset

__all__ = ["Collate", "LmdbDataModule", "LmdbDataset", "find_splits"]


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

    The tree is scanned (counts only, no handle kept) at construction so that a wrong path,
    a missing validation split or a missing charset fail before training starts.
    """

    def __init__(self, data: str, charset: str | None = None, img_height: int = 32,
                 img_width: int = 128, channels: int = 1, keep_ratio: bool = True,
                 batch_size: int = 64, workers: int = 0, augment: bool = False,
                 charset_encoding: str = "utf-8") -> None:
        super().__init__()
        self.data = os.path.abspath(data)
        self.splits = find_splits(self.data)
        for split in ("train", "val"):
            if not self.splits.get(split) or not sum(count(p) for p in self.splits[split]):
                raise DataconvError(f"{data}: no {split} samples (expected LMDBs under {data}/{split}/)")
        self.charset = load_charset(self.data, charset, charset_encoding)
        self.codec = CTCCodec(self.charset)
        self.preprocess = Preprocess(img_height, img_width, channels, keep_ratio)
        self.batch_size, self.workers, self.augment = batch_size, workers, augment

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
