"""Building shards: workers read, check and write; the driver only coordinates.

No image byte travels back to the process that runs the conversion (the driver): it sends
work items (samples, never bytes) and receives each shard task's small ``ShardResult``
(shard names and digests, reject list, label characters). Two ways, both giving the output
``--workers 1`` gives, byte for byte:

* **whole tasks** (at least as many shard tasks as workers, which is every dataset of
  ``workers x --shard-size`` samples or more): each worker checks and writes whole shard
  tasks, exactly as one process would (``write_task``);
* **segments** (fewer tasks than workers, e.g. a dataset of one shard): every task is cut
  into ``Segment``s that workers check in parallel, spooling the outcomes (image bytes
  included) to a file in the temporary folder (``spool_segment``); then one worker per
  task writes the task's shards from its spools in input order (``join_task``).

Either way each task's shards are written by one writer fed the outcomes in input order,
so shard boundaries, keys, digests and samples.parquet rows do not depend on how the work
was split or where it ran. Workers need to see the source and the output folder.
"""
from __future__ import annotations

import hashlib
import itertools
import math
import os
import pickle
from dataclasses import dataclass, fields
from collections.abc import Sequence
from typing import Any, Callable, Iterable, Iterator, NamedTuple

from dataconv.outputs import samples_table
from dataconv.outputs.shard_writer import RotatingWriter, ShardFactory, ShardRecord
from dataconv.errors import SampleRejected
from dataconv.build.executors import Executor
from dataconv.sample import FileImage, ImageRef, ReadContext, Reject, Sample
from dataconv.validators.base import Check, CheckOptions, Candidate, make_checks, run_checks


SAMPLE_COLUMNS = [f.name for f in fields(Sample) if f.name != "image"]


def pack_samples(samples: Sequence[tuple[int, Sample]]) -> tuple[Any, ...]:
    """``samples`` as columns for the trip to a worker: pickling a list of strings per field
    costs 0.9 us a sample against 3.8 for the objects, and rebuilding them in the worker
    4.4 us against 8.8 (50,000 gt.txt samples), which is most of the driver's work per
    sample. Image files under one root are sent as their relative names; anything else
    (other sample or image types) travels as it is."""
    if not all(type(sample) is Sample for _, sample in samples):
        return ("objects", samples)
    images = [sample.image for _, sample in samples]
    roots = {image.root for image in images if type(image) is FileImage}
    columns = {name: [getattr(sample, name) for _, sample in samples] for name in SAMPLE_COLUMNS}
    seqs = [seq for seq, _ in samples]
    if len(roots) == 1 and all(type(image) is FileImage for image in images):
        return ("files", seqs, columns, roots.pop(), [image.rel for image in images])
    return ("columns", seqs, columns, images)


def unpack_samples(packed: tuple[Any, ...]) -> Sequence[tuple[int, Sample]]:
    return packed[1] if packed[0] == "objects" else SampleColumns(packed)


class SampleColumns(Sequence):
    """Packed samples as a read-only sequence whose (seq, Sample) pairs are built as they
    are reached: a worker holds its task as columns of strings (17 MB for 50,000 gt.txt
    samples) rather than also as objects (13 MB more)."""

    def __init__(self, packed: tuple[Any, ...]) -> None:
        self.packed = packed

    def __len__(self) -> int:
        return len(self.packed[1])

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._build(i) for i in range(*index.indices(len(self)))]
        return self._build(range(len(self))[index])

    def __iter__(self) -> Iterator[tuple[int, Sample]]:
        return (self._build(i) for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (list, SampleColumns)) and list(self) == list(other)

    def _build(self, i: int) -> tuple[int, Sample]:
        kind, seqs, columns = self.packed[:3]
        image = FileImage(self.packed[3], self.packed[4][i]) if kind == "files" else self.packed[3][i]
        return seqs[i], Sample(image=image, **{name: columns[name][i] for name in SAMPLE_COLUMNS})


class PacksSamples:
    """Pickles its ``samples`` through ``pack_samples`` (tasks and segments sent to workers)."""

    samples: Sequence[tuple[int, Sample]]

    def __getstate__(self) -> dict[str, Any]:
        samples = self.samples
        packed = samples.packed if isinstance(samples, SampleColumns) else pack_samples(samples)
        return {**self.__dict__, "samples": packed}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, samples=unpack_samples(state["samples"]))


@dataclass
class ShardTask(PacksSamples):
    """Consecutive samples of one split that one writer turns into one or more shards."""

    split: str
    number: int
    folder: str  # the split's folder inside the temporary output
    samples: Sequence[tuple[int, Sample]]  # (seq, sample)
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


class Accepted(NamedTuple):
    label: str
    data: bytes
    width: int | None
    height: int | None
    sha1: str


class Rejected(NamedTuple):
    reason: str
    detail: str


Outcome = Accepted | Rejected
_CHECKS: dict[CheckOptions, list[Check]] = {}  # per process: checks built once per option set


def _checks(options: CheckOptions) -> list[Check]:
    if options not in _CHECKS:
        _CHECKS[options] = make_checks(options)
    return _CHECKS[options]


def check_sample(sample: Sample, checks: list[Check], ctx: ReadContext) -> Outcome:
    """Read one sample's image and run every check on it."""
    item = Candidate(sample=sample, label=sample.label)
    try:
        item.data = sample.image.read(ctx)
        error = run_checks(item, checks)
    except SampleRejected as e:
        error = e
    if error is not None:
        return Rejected(error.reason, error.detail)
    return Accepted(item.label, item.data, item.width, item.height,
                    hashlib.sha1(item.data).hexdigest())


Checked = tuple[int, Sample, Outcome]  # (seq, sample, outcome)


def check_samples(samples: Sequence[tuple[int, Sample]], options: CheckOptions,
                  ctx: ReadContext) -> Iterator[Checked]:
    """Each sample with its outcome, in order, as it is checked."""
    checks = _checks(options)
    return ((seq, sample, check_sample(sample, checks, ctx)) for seq, sample in samples)


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


class ShardBuilder:
    """The one writer of a shard task: takes outcomes in input order, keeps the accounting."""

    def __init__(self, task: ShardTask, open_shard: ShardFactory) -> None:
        self.task = task
        self.out = RotatingWriter(task.folder, f"task-{task.number:05d}", open_shard, task.shard_bytes)
        self.records = samples_table.PartWriter(task.part)  # streamed to a part file
        self.rejects: list[tuple[int, Reject]] = []

    def add(self, seq: int, sample: Sample, outcome: Outcome) -> None:
        if isinstance(outcome, Rejected):
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


def write_outcomes(task: ShardTask, open_shard: ShardFactory, checked: Iterable[Checked]) -> ShardResult:
    """Write a task's shards from its samples' outcomes, in input order."""
    builder = ShardBuilder(task, open_shard)
    try:
        for seq, sample, outcome in checked:
            builder.add(seq, sample, outcome)
    except BaseException:
        builder.abort()
        raise
    return builder.close()


# --- whole tasks ------------------------------------------------------------------------

@dataclass
class WholeTask:
    """The work item of a task a worker checks and writes by itself."""

    task: ShardTask
    open_shard: ShardFactory


def write_task(item: WholeTask) -> ShardResult:
    """Check and write one shard task: runs in a worker process, a Dask worker or in-process."""
    task = item.task
    return write_outcomes(task, item.open_shard, check_samples(task.samples, task.checks, task.read_ctx))


# --- segments, when there are fewer tasks than workers -----------------------------------

SEGMENTS_PER_WORKER = 4  # segments per worker per wave: evens out slow and fast segments
SPOOL_BATCH = 256  # outcomes per pickle in a spool file: what a join holds at a time


@dataclass
class Segment(PacksSamples):
    """Consecutive samples of one shard task, checked by a worker and spooled to ``path``."""

    samples: Sequence[tuple[int, Sample]]
    checks: CheckOptions
    read_ctx: ReadContext
    path: str  # inside the temporary output folder


@dataclass
class Join:
    """The work item that writes a task's shards from its segments' spools, in order."""

    task: ShardTask
    spools: list[str]
    open_shard: ShardFactory


def segments_of(task: ShardTask, count: int, min_samples: int) -> list[Segment]:
    """``task`` cut into about ``count`` segments of at least ``min_samples`` samples."""
    size = max(min_samples, math.ceil(len(task) / max(1, count)))
    return [Segment(task.samples[i:i + size], task.checks, task.read_ctx, f"{task.part}.{k:04d}.spool")
            for k, i in enumerate(range(0, len(task), size))]


def spool_segment(segment: Segment) -> int:
    """Check a segment and write its outcomes to its spool file (only this run's workers
    write and read it, inside the temporary folder, like the samples.parquet parts)."""
    os.makedirs(os.path.dirname(segment.path), exist_ok=True)
    checked = check_samples(segment.samples, segment.checks, segment.read_ctx)
    with open(segment.path, "wb") as f:
        while batch := [outcome for _, _, outcome in itertools.islice(checked, SPOOL_BATCH)]:
            pickle.dump(batch, f, protocol=pickle.HIGHEST_PROTOCOL)
    return len(segment.samples)


def read_spool(path: str) -> Iterator[Outcome]:
    with open(path, "rb") as f:
        while True:
            try:
                batch = pickle.load(f)
            except EOFError:
                return
            yield from batch


def join_task(join: Join) -> ShardResult:
    """Write a task's shards from its spools in input order, then remove the spools."""
    outcomes = itertools.chain.from_iterable(read_spool(path) for path in join.spools)
    checked = ((seq, sample, outcome)
               for (seq, sample), outcome in zip(join.task.samples, outcomes, strict=True))
    result = write_outcomes(join.task, join.open_shard, checked)
    for path in join.spools:
        os.remove(path)
    return result


# --- the build ----------------------------------------------------------------------------

def write_shards(tasks: list[ShardTask], executor: Executor, open_shard: ShardFactory,
                 on_samples: Callable[[int], None]) -> Iterator[ShardResult]:
    """Check and write every task on ``executor``'s workers through ``open_shard`` (the
    output format's ``ShardWriter``); yield the tasks' results in task order."""
    workers = getattr(executor, "workers", 1)
    if len(tasks) >= workers:
        items = (WholeTask(task, open_shard) for task in tasks)
        for task, result in zip(tasks, executor.map_ordered(write_task, items)):
            on_samples(len(task))
            yield result
        return
    per_task = [segments_of(task, math.ceil(workers * SEGMENTS_PER_WORKER / len(tasks)),
                            executor.chunk_samples) for task in tasks]
    segments = [segment for segments in per_task for segment in segments]
    for checked in executor.map_ordered(spool_segment, segments):
        on_samples(checked)
    joins = [Join(task, [s.path for s in segments], open_shard) for task, segments in zip(tasks, per_task)]
    yield from executor.map_ordered(join_task, joins)
