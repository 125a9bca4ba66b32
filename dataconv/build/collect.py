"""Collect: every parsed input sample numbered (``seq``) and packed (``sample_index``),
repeated ids rejected, the label edits applied.

Two ways, one result. ``collect`` parses the converter's ``samples()`` in the driver.
``collect_parts`` has the executor's workers parse the parts a converter cuts its source
into (``Converter.parts``: line spans of a label file), each into a packed index of its
own, with an 8-byte hash of each sample's id; the driver joins the indexes end to end and
finds the repeated ids among the hashes (``numpy.unique``), comparing the ids themselves
only where hashes repeat. Samples, seqs, rejects and their messages are the ones
``collect`` gives (``tests/build/test_collect_parts.py``)."""
from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np
from tqdm import tqdm

from dataconv.build.executors import Executor
from dataconv.build.sample_index import Builder, SampleIndex
from dataconv.sample import Parsed, Reject, Sample
from dataconv.validators.corrections import LabelEdit


@dataclass
class Collected:
    samples: SampleIndex
    rejects: list[tuple[int, Reject]]
    total: int


def collect(samples: Iterator[Parsed], progress: bool, rules: LabelEdit | None = None) -> Collected:
    """Number every parsed sample, reject repeated ids, and apply the label edits
    (``--corrections``, then ``--label-rules``). The samples are packed as they come
    (``sample_index``): only the ids stay objects until the parse ends."""
    kept = Builder()
    rejects: list[tuple[int, Reject]] = []
    seen: dict[str, int | str] = {}  # id -> its position in kept, or the source of a dropped one
    seq = -1
    for seq, item in enumerate(_bar(samples, progress)):
        if isinstance(item, Reject):
            rejects.append((seq, item))
        elif item.id in seen:
            rejects.append((seq, duplicate_id(item, _source(kept, seen[item.id]))))
        elif rules is not None and (dropped := rules.apply(item)) is not None:
            seen[item.id] = item.source
            rejects.append((seq, dropped))
        else:
            seen[item.id] = len(kept)
            kept.add(seq, item)
    return Collected(kept.finish(), rejects, seq + 1)


def duplicate_id(sample: Sample, first: str) -> Reject:
    return Reject(sample.source, "duplicate_id", f"id {sample.id!r} already used at {first}", sample.id)


def _source(kept: Builder, where: int | str) -> str:
    return kept.source(where) if isinstance(where, int) else where


def _bar(items: Iterable[Any] | None, progress: bool) -> tqdm:
    return tqdm(items, desc="reading annotations", unit=" samples", disable=not progress, file=sys.stderr)


# --- parts parsed on the workers ----------------------------------------------------------

Part = Callable[[], Iterator[Parsed]]  # picklable: a converter's parse of one part of its source


@dataclass
class ParsedPart:
    """What a worker sends back for a part: its samples and rejects numbered from 0 in
    the part, how many items it parsed, and a hash of each sample's id (8 bytes a sample)."""

    samples: SampleIndex
    rejects: list[tuple[int, Reject]]
    total: int
    id_hashes: bytes


def id_hash(sample_id: Any) -> bytes:
    text = sample_id if isinstance(sample_id, str) else repr(sample_id)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()


def parse_part(part: Part) -> ParsedPart:
    """Parse one part into a packed index (runs on a worker)."""
    kept, rejects, hashes, seq = Builder(), [], bytearray(), -1
    for seq, item in enumerate(part()):
        if isinstance(item, Reject):
            rejects.append((seq, item))
        else:
            kept.add(seq, item)
            hashes += id_hash(item.id)
    return ParsedPart(kept.finish(), rejects, seq + 1, bytes(hashes))


def collect_parts(parts: list[Part], executor: Executor, progress: bool) -> Collected:
    """``collect`` (without label edits) of the samples of ``parts`` end to end, each part
    parsed on ``executor``."""
    indexes, shifts, hashes, rejects, total = [], [], [], [], 0
    with _bar(None, progress) as bar:
        for parsed in executor.map_ordered(parse_part, parts):
            indexes.append(parsed.samples)
            shifts.append(total)
            hashes.append(parsed.id_hashes)
            rejects += [(seq + total, reject) for seq, reject in parsed.rejects]
            total += parsed.total
            bar.update(parsed.total)
    samples = SampleIndex.concat(indexes, shifts)
    repeated = repeated_ids(samples, np.frombuffer(b"".join(hashes), np.uint64))
    if repeated:
        rejects += [(samples.seqs[at], duplicate_id(samples[at][1], samples[first][1].source))
                    for at, first in repeated.items()]
        keep = np.ones(len(samples), bool)
        keep[list(repeated)] = False
        samples = samples.take(np.flatnonzero(keep))
    return Collected(samples, sorted(rejects, key=lambda pair: pair[0]), total)


def repeated_ids(samples: SampleIndex, hashes: np.ndarray) -> dict[int, int]:
    """position -> the position of the first sample with the same id, for every sample
    whose id an earlier sample has (only where two hashes are equal are ids compared)."""
    _, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    candidates = np.flatnonzero(counts[inverse.reshape(-1)] > 1)
    first: dict[Any, int] = {}
    repeated = {}
    for at, (_, sample) in zip(candidates.tolist(), samples.take(candidates)):
        if sample.id in first:
            repeated[at] = first[sample.id]
        else:
            first[sample.id] = at
    return repeated
