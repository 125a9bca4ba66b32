"""Building shards: check samples in chunks anywhere, write them in order in one place.

The unit of parallel work is a *chunk* of a shard's samples (a few dozen to a few
hundred), not the shard: reading the image and decoding it (the expensive part) runs in
the executor's workers (``check_chunk``), and each shard is written by one writer in the
driver, fed the outcomes in input order. So a dataset of one shard still uses every
core, the output does not depend on how many workers there are or which finished first,
and workers need to see only the source files, never the output.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator, NamedTuple

from dataconv.outputs import samples_table
from dataconv.outputs.shard_writer import RotatingWriter, ShardFactory, ShardRecord
from dataconv.errors import SampleRejected
from dataconv.build.executors import Executor
from dataconv.sample import ImageRef, ReadContext, Reject, Sample
from dataconv.validators.base import Check, CheckOptions, Item, build_checks, run_checks


@dataclass
class ShardTask:
    """Consecutive samples of one split that one writer turns into one or more shards."""

    split: str
    number: int
    folder: str  # the split's folder inside the temporary output
    samples: list[tuple[int, Sample]]  # (seq, sample)
    checks: CheckOptions
    read_ctx: ReadContext
    shard_bytes: int
    part: str  # the part file its samples.parquet rows are streamed to

    def __len__(self) -> int:
        return len(self.samples)


@dataclass
class ShardResult:
    """What a shard task wrote and rejected; finalize gives its shards their final names."""

    split: str
    number: int
    shards: list[ShardRecord]  # temporary names, in order
    part: str  # its samples.parquet rows (temporary shard names), see samples_table
    written: int
    chars: set[str]  # every character of the written labels
    has_group: bool  # whether any written sample has a group
    rejects: list[tuple[int, Reject]]


@dataclass
class Chunk:
    """Consecutive samples of one shard task, with what a worker needs to check them."""

    samples: list[tuple[int, Sample]]  # (seq, sample)
    checks: CheckOptions
    read_ctx: ReadContext


class Accepted(NamedTuple):
    label: str
    data: bytes
    width: int | None
    height: int | None
    sha1: str


class Refused(NamedTuple):
    reason: str
    detail: str


Outcome = Accepted | Refused
_CHECKS: dict[CheckOptions, list[Check]] = {}  # per process: checks built once per option set


def _checks(options: CheckOptions) -> list[Check]:
    if options not in _CHECKS:
        _CHECKS[options] = build_checks(options)
    return _CHECKS[options]


def check_sample(sample: Sample, checks: list[Check], ctx: ReadContext) -> Outcome:
    """Read one sample's image and run every check on it."""
    item = Item(sample=sample, label=sample.label)
    try:
        item.data = sample.image.read(ctx)
        error = run_checks(item, checks)
    except SampleRejected as e:
        error = e
    if error is not None:
        return Refused(error.reason, error.detail)
    return Accepted(item.label, item.data, item.width, item.height,
                    hashlib.sha1(item.data).hexdigest())


def check_chunk(chunk: Chunk) -> list[Outcome]:
    """The work item: runs in a worker process, a Dask worker, or in-process."""
    checks = _checks(chunk.checks)
    return [check_sample(sample, checks, chunk.read_ctx) for _, sample in chunk.samples]


@dataclass
class ImageBatch:
    """Image references to hash: what the hashing pass sends a worker (the references only,
    not whole samples: pickling is most of a hash's cost)."""

    images: list[ImageRef]
    read_ctx: ReadContext


HASH_CHUNK_FACTOR = 4  # a hash is several times cheaper than a check: bigger work items


def hash_chunk(batch: ImageBatch) -> list[str | None]:
    """sha1 of each image's bytes; None when it cannot be read (the shard task rejects the
    sample later with its reason). Runs wherever ``check_chunk`` runs."""
    from dataconv.build.splits import image_digest

    return [image_digest(image, batch.read_ctx) for image in batch.images]


def hash_samples(samples: list[tuple[int, Sample]], ctx: ReadContext, executor: Executor,
                 progress: bool) -> dict[int, str]:
    """seq -> sha1 of the image bytes for every readable sample, hashed in batches on
    ``executor`` (``validators.split.image_digest`` of each)."""
    import sys

    from tqdm import tqdm

    size = executor.chunk_samples * HASH_CHUNK_FACTOR
    parts = [samples[i:i + size] for i in range(0, len(samples), size)]
    batches = (ImageBatch([sample.image for _, sample in part], ctx) for part in parts)
    digests: dict[int, str] = {}
    with tqdm(total=len(samples), desc="hashing images", unit=" images", disable=not progress,
              file=sys.stderr) as bar:
        for part, hashed in zip(parts, executor.map_ordered(hash_chunk, batches)):
            for (seq, _), digest in zip(part, hashed):
                if digest is not None:
                    digests[seq] = digest
            bar.update(len(part))
    return digests


def chunks_of(task: ShardTask, size: int) -> list[Chunk]:
    return [Chunk(task.samples[i:i + size], task.checks, task.read_ctx)
            for i in range(0, len(task.samples), size)]


class ShardBuilder:
    """The one writer of a shard task: takes outcomes in input order, keeps the accounting."""

    def __init__(self, task: ShardTask, open_shard: ShardFactory) -> None:
        self.task = task
        self.out = RotatingWriter(task.folder, f"task-{task.number:05d}", open_shard, task.shard_bytes)
        self.records = samples_table.PartWriter(task.part)  # streamed to a part file
        self.rejects: list[tuple[int, Reject]] = []

    def add(self, seq: int, sample: Sample, outcome: Outcome) -> None:
        if isinstance(outcome, Refused):
            self.rejects.append((seq, Reject(sample.source, outcome.reason, outcome.detail, sample.id)))
            return
        shard, index = self.out.add(outcome.label, outcome.data)
        # one row in samples_table.COLUMNS order; finalize gives the shard its final name
        self.records.add((self.task.split, shard, index, sample.id, sample.source, sample.group,
                          outcome.label, outcome.width, outcome.height, len(outcome.data),
                          outcome.sha1))

    def close(self) -> ShardResult:
        shards = self.out.close()
        self.records.close()
        return ShardResult(self.task.split, self.task.number, shards, self.records.path,
                           self.records.rows, self.records.chars, self.records.has_group,
                           self.rejects)

    def abort(self) -> None:
        self.out.abort()
        self.records.abort()


def build_shards(tasks: list[ShardTask], executor: Executor, open_shard: ShardFactory,
                 on_samples: Callable[[int], None]) -> Iterator[ShardResult]:
    """Check every task's chunks on ``executor``; write each task's shards in order through
    ``open_shard`` (the output format's ``ShardWriter``); yield results."""
    per_task = [chunks_of(task, executor.chunk_samples) for task in tasks]
    outcomes = executor.map_ordered(check_chunk, (c for chunks in per_task for c in chunks))
    for task, chunks in zip(tasks, per_task):
        builder = ShardBuilder(task, open_shard)
        try:
            for chunk in chunks:
                for (seq, sample), outcome in zip(chunk.samples, next(outcomes)):
                    builder.add(seq, sample, outcome)
                on_samples(len(chunk.samples))
        except BaseException:
            builder.abort()
            raise
        yield builder.close()


