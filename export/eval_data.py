"""What ``dataconv eval`` and ``dataconv predict --lmdb`` read: the samples of one split of
an LMDB tree, each under a key, and a predictions file written by any trainer.

A sample's key is ``SHARD:INDEX``: its shard folder relative to the tree
(``test/shard-00000``) and its 1-based index there (the ``image-%09d`` number). LMDBs are
read through ``dataconv.io.dataset_reader`` (the checked open).

A predictions file has one ``KEY<TAB>TEXT[<TAB>CONFIDENCE]`` line per sample, where KEY is
``SHARD:INDEX``, the sample id (``source_id`` of samples.parquet, e.g.
``images/000017.png``) or its source (``source`` of samples.parquet, e.g. ``gt.txt:17``);
CONFIDENCE, when given, is a number from 0 to 1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Iterator

from dataconv.errors import DataconvError
from dataconv.export.predict import Failure
from dataconv.io import dataset_reader, textfile
from dataconv.numbers import parse_float

SPLIT_CHOICES = ("test", "val", "train", "all")


@dataclass(frozen=True)
class SplitSample:
    key: str  # SHARD:INDEX
    shard: str  # the shard folder relative to the tree, '/'-separated
    index: int
    label: str
    image: bytes | None


def split_shards(data: str, split: str) -> list[dataset_reader.Shard]:
    """The shards of ``split`` (``all``: every LMDB of the tree, split folders or not)."""
    shards = dataset_reader.open_dataset(data).shards
    chosen = [s for s in shards if split == "all" or s.split == split]
    if not chosen:
        present = sorted({s.split or "no split folder" for s in shards}) or ["no LMDB"]
        raise DataconvError(f"{data}: no {split} split (found: {', '.join(present)}); choose another --split")
    return chosen


def iter_split(data: str, split: str) -> Iterator[SplitSample]:
    """Every sample of ``split``, shard by shard in index order; one image in memory at a
    time. Read through this process's shared handles (``dataset_reader.read_sample``), so
    a handle a training or export run left open in the same process is reused, not
    refused by LMDB as a second open."""
    for shard in split_shards(data, split):
        for index in range(1, shard.count() + 1):
            image, label = dataset_reader.read_sample(shard.path, index)
            text = (label or b"").decode("utf-8", errors="replace")
            yield SplitSample(f"{shard.rel}:{index}", shard.rel, index, text, image)


def split_images(samples: Iterable[SplitSample]) -> Iterator[tuple[str, bytes] | Failure]:
    """(SHARD:INDEX, image bytes) of each sample, the input of ``predict.predict_images``;
    a sample without an image is a Failure."""
    for sample in samples:
        if sample.image is None:
            yield Failure(sample.key, f"{sample.key}: no image")
        else:
            yield sample.key, sample.image


def key_resolver(keys: list[str], metadata: dict[str, dict[str, str | None]]) -> dict[str, str | None]:
    """Every accepted KEY form -> SHARD:INDEX; a sample id or source naming several samples
    maps to None (ambiguous: the file must use SHARD:INDEX for those)."""
    resolve: dict[str, str | None] = {}
    own = set(keys)
    for key in keys:
        for alias in (metadata.get(key, {}).get(c) for c in ("source_id", "source")):
            if alias and alias not in own:
                resolve[alias] = key if resolve.get(alias, key) == key else None
    resolve.update({key: key for key in keys})
    return resolve


@dataclass(frozen=True)
class Predicted:
    text: str
    confidence: float  # NaN when the file gives none


def read_predictions(path: str, resolve: dict[str, str | None]) -> dict[str, Predicted]:
    """SHARD:INDEX -> what the file predicts for it. A key that names no sample of the
    split, names several, or is predicted twice is an error naming the line: a file
    written for another split or dataset is never scored by accident."""
    found: dict[str, Predicted] = {}
    where: dict[str, int] = {}
    for lineno, line in textfile.read_lines(path):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) not in (2, 3):
            raise DataconvError(f"{path}:{lineno}: expected KEY<TAB>TEXT[<TAB>CONFIDENCE], got "
                                f"{len(fields)} tab-separated field(s)")
        key = _resolve(resolve, fields[0], path, lineno)
        if key in found:
            raise DataconvError(f"{path}:{lineno}: {fields[0][:80]!r} is predicted twice "
                                f"(first on line {where[key]})")
        confidence = _confidence(fields[2], path, lineno) if len(fields) == 3 else math.nan
        found[key], where[key] = Predicted(fields[1], confidence), lineno
    return found


def _resolve(resolve: dict[str, str | None], given: str, path: str, lineno: int) -> str:
    if given not in resolve:
        raise DataconvError(f"{path}:{lineno}: {given[:80]!r} names no sample of the evaluated split "
                            "(keys: SHARD:INDEX, a sample id or a source from samples.parquet)")
    key = resolve[given]
    if key is None:
        raise DataconvError(f"{path}:{lineno}: {given[:80]!r} names several samples; use SHARD:INDEX")
    return key


def _confidence(text: str, path: str, lineno: int) -> float:
    try:
        value = parse_float(text.strip())
    except ValueError as e:
        raise DataconvError(f"{path}:{lineno}: confidence: {e}") from None
    if not 0.0 <= value <= 1.0:
        raise DataconvError(f"{path}:{lineno}: confidence {text.strip()[:40]} is not from 0 to 1")
    return value
