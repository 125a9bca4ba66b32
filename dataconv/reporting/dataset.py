"""What a report is made from: the samples table, the manifest and the rejects of one
dataset folder.

A dataconv output has ``samples.parquet``; only the columns the report needs are read, so
a million-sample dataset loads in seconds. A plain LMDB tree (clovaai, PARSeq, another
tool) has none: the table is then computed by walking the LMDBs, reading at most
``cap`` evenly spaced samples (image header for the size, bytes for the sha1).
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from dataconv.io import decode
from dataconv.io.dataset_reader import Shard, open_dataset
from dataconv.outputs import manifest, samples_table
from dataconv.errors import DataconvError, SampleRejected
from dataconv.reporting import DEFAULT_CAP  # defined where importing it needs no pandas

COLUMNS = ["split", "shard", "index", "source_id", "label", "width", "height", "bytes", "sha1"]
NO_SPLIT = "all"  # the split shown for an LMDB under no split folder


@dataclass
class RejectSummary:
    """Counts per reason and the first few rows of each reason (rejects.jsonl)."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class Dataset:
    root: str
    frame: pd.DataFrame
    card: dict[str, Any] | None
    rejects: RejectSummary
    total: int  # samples in the dataset (the table may hold fewer when walked with a cap)

    @property
    def sampled(self) -> bool:
        return len(self.frame) < self.total


def load(root: str, cap: int = DEFAULT_CAP, per_reason: int = 6) -> Dataset:
    """The dataset at ``root``: a dataconv output folder or any LMDB tree."""
    card = read_card(root) if os.path.isfile(os.path.join(root, manifest.MANIFEST)) else None
    rejects = read_rejects(os.path.join(root, manifest.REJECTS), per_reason)
    parquet = os.path.join(root, manifest.SAMPLES)
    if os.path.isfile(parquet):
        frame = read_table(parquet)
        return Dataset(root, frame, card, rejects, len(frame))
    frame, total = walk_lmdbs(root, cap)
    return Dataset(root, _normalise(frame), card, rejects, total)


def read_card(root: str) -> dict[str, Any]:
    """manifest.json, which must be a JSON object; a damaged one is a one-line error."""
    path = os.path.join(root, manifest.MANIFEST)
    try:
        card = manifest.read(root)
    except json.JSONDecodeError as e:
        raise DataconvError(f"{path}:{e.lineno}:{e.colno}: not a dataconv manifest: {e.msg}") from None
    except (UnicodeDecodeError, RecursionError, ValueError) as e:
        raise DataconvError(f"{path}: not a dataconv manifest ({str(e)[:120]})") from None
    if not isinstance(card, dict):
        raise DataconvError(f"{path}: not a dataconv manifest (expected a JSON object)")
    for key in ("counts", "options", "rejects"):
        if not isinstance(card.get(key, {}), dict):
            raise DataconvError(f"{path}: {key}: expected an object")
    return card


def read_table(path: str) -> pd.DataFrame:
    """The report's columns of samples.parquet; a damaged file is a one-line error."""
    return _normalise(samples_table.read_table(path, COLUMNS).to_pandas())


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype({"width": "float64", "height": "float64", "label": "str",
                          "split": "category", "shard": "category"})
    frame["length"] = frame["label"].str.len()
    frame["aspect"] = frame["width"] / frame["height"]
    return frame.reset_index(drop=True)


def read_rejects(path: str, per_reason: int,
                 keep: Callable[[dict[str, Any]], bool] = lambda row: True) -> RejectSummary:
    """Streams rejects.jsonl: every row ``keep`` accepts is counted, ``per_reason`` rows
    of each reason are kept."""
    summary = RejectSummary()
    if not os.path.lexists(path):
        return summary
    from dataconv.io.safeopen import open_user_path

    with os.fdopen(open_user_path(path), "rb") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            row = _reject_row(line, path, lineno)
            if not keep(row):
                continue
            reason = str(row.get("reason", "unknown"))
            summary.counts[reason] += 1
            kept = summary.examples.setdefault(reason, [])
            if len(kept) < per_reason:
                kept.append(row)
    return summary


def _reject_row(line: bytes, path: str, lineno: int) -> dict[str, Any]:
    """One rejects.jsonl row, which must be a JSON object; anything else names the line."""
    try:
        row = json.loads(line.decode("utf-8"))
    except (ValueError, RecursionError) as e:
        raise DataconvError(f"{path}:{lineno}: not a rejects.jsonl row ({str(e)[:120]})") from None
    if not isinstance(row, dict):
        raise DataconvError(f"{path}:{lineno}: not a rejects.jsonl row (expected a JSON object)")
    return row


def spread(count: int, share: float) -> np.ndarray:
    """About ``count * share`` evenly spaced 1-based indices out of 1..count."""
    keep = max(1, int(round(count * share))) if count else 0
    return np.unique(np.linspace(1, count, num=keep).round().astype(int)) if keep else np.array([], int)


def walk_lmdbs(root: str, cap: int) -> tuple[pd.DataFrame, int]:
    """The samples table of an LMDB tree, from at most ``cap`` samples; and the true total."""
    shards = open_dataset(root).shards
    counts = [shard.count() for shard in shards]
    total = sum(counts)
    share = min(1.0, cap / total) if total else 1.0
    rows = [row for shard, n in zip(shards, counts) for row in _lmdb_rows(shard, spread(n, share))]
    return pd.DataFrame.from_records(rows, columns=COLUMNS), total


def _lmdb_rows(shard: Shard, indices: np.ndarray) -> Iterator[dict[str, Any]]:
    for rec in shard.read(indices.tolist()):
        image = rec.image or b""
        width, height = image_size(image)
        yield {"split": shard.split or NO_SPLIT, "shard": shard.rel, "index": rec.index,
               "source_id": f"{shard.rel}#{rec.index}", "label": rec.label, "width": width,
               "height": height, "bytes": len(image), "sha1": hashlib.sha1(image).hexdigest()}


def image_size(data: bytes) -> tuple[float, float]:
    """(width, height) as the image header claims it (nothing is decoded, so a bomb costs
    nothing here); NaN when the bytes do not open."""
    try:
        width, height = decode.header_size(data)
    except SampleRejected:
        return float("nan"), float("nan")
    return float(width), float(height)
