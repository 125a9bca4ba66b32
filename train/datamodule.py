"""A LightningDataModule over any LMDB tree: dataconv's OUT (train/ val/ test/ shard folders),
PARSeq's ``train/real/...`` layout, or anyone's tree with the standard keys.

The tree is walked with ``dataconv.lmdb_tree.find_lmdbs`` (every folder holding a
``data.mdb``, as clovaai and PARSeq do); the first path component below the root names the
split. LMDB handles are opened lazily, read-only, in whichever process reads (each
DataLoader worker), never in ``__init__``, so the module and its datasets pickle.

Importing this module imports neither torch nor lightning (3-4 s together, far more than
reading thousands of samples): ``LmdbDataset`` alone (export verification, benchmarks,
tools) needs neither. torch is imported where it is used; ``LmdbDataModule``, whose base
class is lightning's, is built on first access (see ``__getattr__``).
"""
from __future__ import annotations

import bisect
import os
import random
from typing import TYPE_CHECKING, Any

import lmdb
import numpy as np

from dataconv import lmdb_keys, lmdb_tree
from dataconv.errors import DataconvError
from dataconv.train.preprocess import Preprocess, augment
from dataconv.train.text import CTCCodec, load_charset

if TYPE_CHECKING:
    from torch.utils.data import DataLoader

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
    if path not in _HANDLES:
        _HANDLES[path] = lmdb_tree.open_readonly(path)
    return _HANDLES[path]


def count(path: str) -> int:
    """num-samples of one LMDB, without leaving a handle open unless one already is."""
    if path not in _HANDLES:
        return lmdb_tree.count(path)
    with _HANDLES[path].begin() as txn:
        return lmdb_tree.num_samples(txn, path)


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
        with handle(self.paths[shard]).begin() as txn:
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


class Collate:
    """Stacks images; CTC targets as one concatenated id tensor plus per-sample lengths."""

    def __init__(self, codec: CTCCodec) -> None:
        self.codec = codec

    def __call__(self, batch: list[tuple[np.ndarray, str]]) -> dict[str, Any]:
        import torch

        ids = [self.codec.encode(label) for _, label in batch]
        return {
            "images": torch.from_numpy(np.stack([image for image, _ in batch])),
            "labels": [label for _, label in batch],
            "targets": torch.tensor([i for seq in ids for i in seq], dtype=torch.long),
            "target_lengths": torch.tensor([len(seq) for seq in ids], dtype=torch.long),
        }


class _LmdbDataModule:
    """train/val/test loaders over the LMDB tree at ``data``.

    The tree is scanned (counts only, no handle kept) at construction so that a wrong path,
    a missing validation split or a missing charset fail before training starts.
    """

    def __init__(self, data: str, charset: str | None = None, img_height: int = 32,
                 img_width: int = 128, channels: int = 1, keep_ratio: bool = True,
                 batch_size: int = 64, workers: int = 0, augment: bool = False) -> None:
        super().__init__()
        self.data = os.path.abspath(data)
        self.splits = find_splits(self.data)
        for split in ("train", "val"):
            if not self.splits.get(split) or not sum(count(p) for p in self.splits[split]):
                raise DataconvError(f"{data}: no {split} samples (expected LMDBs under {data}/{split}/)")
        self.charset = load_charset(self.data, charset)
        self.codec = CTCCodec(self.charset)
        self.preprocess = Preprocess(img_height, img_width, channels, keep_ratio)
        self.batch_size, self.workers, self.augment = batch_size, workers, augment

    def dataset(self, split: str) -> LmdbDataset:
        return LmdbDataset(self.splits.get(split, []), self.preprocess,
                           augment=self.augment and split == "train")

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        from torch.utils.data import DataLoader

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


def __getattr__(name: str) -> Any:
    """``LmdbDataModule``: ``_LmdbDataModule`` on lightning's LightningDataModule, built (and
    lightning imported) on first access, then kept as a module global, which is also how
    pickle finds the class."""
    if name != "LmdbDataModule":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import lightning.pytorch as pl

    cls = type(name, (_LmdbDataModule, pl.LightningDataModule),
               {"__module__": __name__, "__doc__": _LmdbDataModule.__doc__})
    globals()[name] = cls
    return cls
