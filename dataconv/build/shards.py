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
was split or where it ran. Workers need to see the source and the output folder, or, for
an object-storage output, only the source: each work item then stages what it writes
(``dataconv.outputs.staging``).
"""
from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import os
from array import array
from dataclasses import dataclass
from collections.abc import Sequence
from typing import Any, Callable, Iterable, Iterator, NamedTuple

import numpy as np

from dataconv.build import spool
from dataconv.build.sample_index import SampleIndex
from dataconv.build.splits import GROUP_HASH, Grouping
from dataconv.build.fetch_ahead import fetched_ahead
from dataconv.outputs import samples_table
from dataconv.outputs.shard_writer import RotatingWriter, ShardFactory, ShardRecord
from dataconv.outputs.staging import Stage
from dataconv.errors import SampleRejected
from dataconv.build.executors import Executor
from dataconv.sample import FileImage, ImageRef, ReadContext, Reject, Sample
from dataconv.validators.base import Check, CheckOptions, Candidate, make_checks, run_checks


class PacksSamples:
    """Holds its ``samples`` packed (``sample_index.SampleIndex``): a task or segment
    travels to a worker, and sits there, as a few buffers rather than objects."""

    samples: Sequence[tuple[int, Sample]]

    def __post_init__(self) -> None:
        if not isinstance(self.samples, SampleIndex):
            self.samples = SampleIndex.of(self.samples)


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
    stage: Stage  # where the worker leaves the shards and the part file (outputs/staging.py)

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


def read_and_check(sample: Sample, checks: list[Check], ctx: ReadContext) -> tuple[Outcome, bytes]:
    """Read one sample's image and run every check on it: its outcome, and the sha1 of the
    image bytes as read (b"" when they cannot be read), which the split needs whatever the
    outcome (``splits.assign_splits``)."""
    item = Candidate(sample=sample, label=sample.label)
    digest = b""
    try:
        raw = item.data = sample.image.read(ctx)
        digest = hashlib.sha1(raw).digest()
        error = run_checks(item, checks)
    except SampleRejected as e:
        error = e
    if error is not None:
        return Rejected(error.reason, error.detail), digest
    written = digest if item.data is raw else hashlib.sha1(item.data).digest()
    return Accepted(item.label, item.data, item.width, item.height, written.hex()), digest


def check_sample(sample: Sample, checks: list[Check], ctx: ReadContext) -> Outcome:
    """Read one sample's image and run every check on it."""
    return read_and_check(sample, checks, ctx)[0]


Checked = tuple[int, Sample, Outcome]  # (seq, sample, outcome)


def check_samples(samples: Sequence[tuple[int, Sample]], options: CheckOptions,
                  ctx: ReadContext) -> Iterator[Checked]:
    """Each sample with its outcome, in order, as it is checked."""
    checks = _checks(options)
    return ((seq, sample, check_sample(sample, checks, ctx)) for seq, sample in fetched_ahead(samples, ctx))


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
    """The one writer of a shard task: takes outcomes in input order, keeps the accounting.
    ``local`` gives the path to write each build-folder path at (``Stage.scratch``)."""

    def __init__(self, task: ShardTask, open_shard: ShardFactory, local: Callable[[str], str]) -> None:
        self.task = task
        self.out = RotatingWriter(local(task.folder), f"task-{task.number:05d}", open_shard, task.shard_bytes)
        self.records = samples_table.PartWriter(local(task.part))  # streamed to a part file
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
        return ShardResult(self.task.split, self.task.number, shards, self.task.part,
                           self.records.rows, self.records.chars, self.records.has_group,
                           self.rejects)

    def abort(self) -> None:
        self.out.abort()
        self.records.abort()


def write_outcomes(task: ShardTask, open_shard: ShardFactory, checked: Iterable[Checked]) -> ShardResult:
    """Write a task's shards from its samples' outcomes, in input order, and stage them."""
    with task.stage.scratch() as local:
        builder = ShardBuilder(task, open_shard, local)
        try:
            for seq, sample, outcome in checked:
                builder.add(seq, sample, outcome)
        except BaseException:
            builder.abort()
            raise
        return builder.close()


# --- the checked pass: every image read once, then written from spools ---------------------

GUIDE = 2  # a segment takes 1/(GUIDE x workers) of the samples left
NO_DIGEST = bytes(20)  # in a Spooled's digests: the image could not be read


@dataclass
class Segment(PacksSamples):
    """Consecutive input samples that a worker reads, checks and hashes, spooling each
    outcome (image bytes included) to ``path``."""

    samples: Sequence[tuple[int, Sample]]
    checks: CheckOptions
    read_ctx: ReadContext
    path: str  # inside the temporary output folder
    stage: Stage
    grouping: Grouping | None = None  # the run's split, hashed here for each sample


@dataclass
class Spooled:
    """What a segment's worker sends back: per sample, the sha1 of its image bytes as read
    (NO_DIGEST where they could not be), where its record ends in the spool, and its
    ``Grouping.hashes`` (none without a grouping)."""

    digests: bytes  # 20 bytes a sample
    ends: array
    groups: bytes = b""  # splits.GROUP_HASH bytes a sample


def segment_sizes(total: int, workers: int, least: int) -> list[int]:
    """Guided self-scheduling: each segment takes 1/(GUIDE x workers) of the samples left,
    at least ``least``. The first segments are big (few spools and round trips), the last
    ones small, so that at the end no worker waits long for another's last segment,
    whatever the mix of cheap and costly images."""
    sizes, left = [], total
    while left > 0:
        sizes.append(min(left, max(least, math.ceil(left / (GUIDE * workers)))))
        left -= sizes[-1]
    return sizes


def spool_path(folder: str, number: int) -> str:
    return os.path.join(folder, f"segment-{number:05d}.spool")


def spool_segment(segment: Segment) -> Spooled:
    """Read, check and hash a segment's samples, writing each outcome to its spool."""
    checks = _checks(segment.checks)
    digests, groups = bytearray(), bytearray()
    with segment.stage.scratch() as local, spool.SpoolWriter(local(segment.path)) as out:
        for _, sample in fetched_ahead(segment.samples, segment.read_ctx):
            outcome, digest = read_and_check(sample, checks, segment.read_ctx)
            out.add(tuple(outcome))
            digests += digest or NO_DIGEST
            if segment.grouping is not None:
                groups += segment.grouping.hashes(sample)
    return Spooled(bytes(digests), out.ends, bytes(groups))


@dataclass
class Spools:
    """Every input sample after the checked pass, by its place in the input: its seq, the
    spool its outcome is in and where that record ends, its image digest."""

    folder: str  # the spools' folder
    stage: Stage  # where they were left
    seqs: np.ndarray  # int64, increasing
    spools: np.ndarray  # int32
    ends: np.ndarray  # int64
    digests: np.ndarray  # S20
    readable: np.ndarray  # bool
    groups: np.ndarray | None = None  # uint8, GROUP_HASH a sample (Grouping.hashes)

    def duplicated(self) -> dict[int, str]:
        """seq -> sha1 (hex) of every sample whose image bytes another sample has: the
        only digests the split's merging of groups and --dedupe act on
        (``splits.assign_splits``, ``splits.drop_duplicates``)."""
        _, inverse, counts = np.unique(self.digests, return_inverse=True, return_counts=True)
        shared = (counts[inverse.reshape(-1)] > 1) & self.readable
        return {int(seq): bytes(digest).ljust(20, b"\0").hex()
                for seq, digest in zip(self.seqs[shared], self.digests[shared])}

    def group_hashes(self, samples: SampleIndex) -> np.ndarray | None:
        """The ``Grouping.hashes`` of each of ``samples``, a row each, in order (None when
        the pass hashed no groups)."""
        if self.groups is None:
            return None
        return self.groups[np.searchsorted(self.seqs, np.frombuffer(samples.seqs, np.int64))]

    def locations(self, samples: SampleIndex) -> tuple[array, array, array]:
        """Each sample's spool and record (start and end), in order."""
        at = np.searchsorted(self.seqs, np.frombuffer(samples.seqs, np.int64))
        before = np.maximum(at - 1, 0)
        starts = np.where((at > 0) & (self.spools[before] == self.spools[at]), self.ends[before], 0)
        return array("i", self.spools[at].tobytes()), array("q", starts.tobytes()), array("q", self.ends[at].tobytes())


def check_all(samples: SampleIndex, options: CheckOptions, ctx: ReadContext,
              executor: Executor, folder: str, stage: Stage, on_samples: Callable[[int], None],
              grouping: Grouping | None = None) -> Spools:
    """Read, check and hash every sample once on ``executor``'s workers, in segments cut by
    ``segment_sizes``, spooling the outcomes under ``folder`` (left where ``stage`` says);
    with a ``grouping``, the workers hash each sample's group for the split too."""
    os.makedirs(folder, exist_ok=True)
    sizes = segment_sizes(len(samples), getattr(executor, "workers", 1), executor.chunk_samples)
    bounds = list(itertools.accumulate(sizes, initial=0))
    segments = (Segment(samples[a:b], options, ctx, spool_path(folder, k), stage, grouping)
                for k, (a, b) in enumerate(zip(bounds, bounds[1:])))
    digests, ends, groups = [], [], []
    for spooled in executor.map_ordered(spool_segment, segments):
        digests.append(spooled.digests)
        ends.append(np.frombuffer(spooled.ends, np.int64))
        groups.append(spooled.groups)
        on_samples(len(spooled.ends))
    blob = b"".join(digests)
    hashed = np.frombuffer(b"".join(groups), np.uint8).reshape(-1, GROUP_HASH) if grouping is not None else None
    return Spools(folder, stage, np.frombuffer(samples.seqs, np.int64),
                   np.repeat(np.arange(len(sizes), dtype=np.int32), sizes),
                   np.concatenate(ends) if ends else np.zeros(0, np.int64),
                   np.frombuffer(blob, "S20"), np.frombuffer(blob, np.uint8).reshape(-1, 20).any(axis=1), hashed)


@dataclass
class Join:
    """The work item that writes a task's shards from the spooled outcomes of its samples."""

    task: ShardTask
    folder: str  # the spools' folder (left where ``task.stage`` says)
    spools: array  # per sample: its spool's number,
    starts: array  # and where its record starts
    ends: array  # and ends
    open_shard: ShardFactory

    def cost(self) -> int:
        """About a nanosecond a byte and JOIN_SAMPLE_NS a sample, to run the costliest first."""
        return sum(self.ends) - sum(self.starts) + JOIN_SAMPLE_NS * len(self.task)


# LMDB put, digest and samples.parquet row (about 15 us, docs/scale.md) and the record's read
JOIN_SAMPLE_NS = 18_000


def join_task(join: Join) -> ShardResult:
    """Write a task's shards from its samples' spooled outcomes, in input order."""
    paths = {k: spool_path(join.folder, k) for k in set(join.spools)}
    stage = join.task.stage
    records = spool.read_records(paths, join.spools, join.starts, join.ends, stage.reader, stage.read_gap)
    checked = ((seq, sample, Accepted(*record) if len(record) == len(Accepted._fields) else Rejected(*record))
               for (seq, sample), record in zip(join.task.samples, records, strict=True))
    return write_outcomes(join.task, join.open_shard, checked)


def join_tasks(tasks: list[ShardTask], spools: Spools, executor: Executor, open_shard: ShardFactory,
               on_samples: Callable[[int], None]) -> list[ShardResult]:
    """Write every task from the spools on ``executor``'s workers, the costliest first (so
    that no worker is left with a long last one); results in task order. The spools are
    removed at the end."""
    joins = [Join(task, spools.folder, *spools.locations(task.samples), open_shard) for task in tasks]
    results = costliest_first(join_task, joins, [join.cost() for join in joins], executor,
                              lambda join: on_samples(len(join.task)))
    spools.stage.remove(spools.folder)
    return results


def costliest_first(fn: Callable[[Any], ShardResult], items: list[Any], costs: list[int],
                    executor: Executor, on_done: Callable[[Any], None]) -> list[ShardResult]:
    """``fn`` of every item on ``executor``, submitted costliest first (longest processing
    time first: the cheap ones fill the gaps at the end, so no worker is left alone with a
    long last item); results in item order."""
    order = sorted(range(len(items)), key=lambda i: -costs[i])
    results: list[ShardResult | None] = [None] * len(items)
    for i, result in zip(order, executor.map_ordered(fn, (items[i] for i in order))):
        results[i] = result
        on_done(items[i])
    return results  # type: ignore[return-value]


def makespan(costs: list[int], workers: int) -> int:
    """When the last worker finishes, the items given out costliest first to whichever
    worker is free first."""
    finish = [0] * max(1, workers)
    for cost in sorted(costs, reverse=True):
        heapq.heapreplace(finish, finish[0] + cost)
    return max(finish)


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


WHOLE_TASK_SLACK = 0.15  # the checked pass's spools cost about this much more CPU a sample


def whole_tasks_fit(sizes: list[int], workers: int) -> bool:
    """Whether whole tasks of ``sizes`` samples keep every worker busy to within
    WHOLE_TASK_SLACK of an even share (else the checked pass spreads the samples over
    every worker): 3 tasks of 50,000 samples on 2 workers leave one idle for a third of
    the run; 50,000, 50,000 and 5,016 for 5%."""
    return makespan(sizes, workers) <= (1 + WHOLE_TASK_SLACK) * sum(sizes) / max(1, workers)


def write_whole_tasks(tasks: list[ShardTask], executor: Executor, open_shard: ShardFactory,
                      on_samples: Callable[[int], None]) -> list[ShardResult]:
    """Check and write every task on ``executor``'s workers through ``open_shard`` (the
    output format's ``ShardWriter``), a whole task per worker; results in task order."""
    items = [WholeTask(task, open_shard) for task in tasks]
    return costliest_first(write_task, items, [len(task) for task in tasks], executor,
                           lambda item: on_samples(len(item.task)))
