"""The one-way flow: converter -> validators -> splitter -> shard writer -> OUT.

1. collect: parse the source into samples and rejects, numbering every input sample
   (``seq``) and rejecting duplicated ids.
2. plan: hash every image once (for --dedupe and so that identical images share a split),
   assign each sample a split from its group key, cut each split into shard tasks.
3. build (dataconv/build/shards.py): chunks of each task are read and checked in-process, in a
   pool or on Dask; one writer per shard writes the outcomes in input order.
4. finalize: number shards, write samples.parquet (streamed from the tasks' part files,
   see dataconv/outputs/samples_table.py), rejects.jsonl, charset.txt, manifest.json; the
   temporary folder is renamed into place.
"""
from __future__ import annotations

import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator

from tqdm import tqdm

from dataconv.build import shards as build
from dataconv.outputs import hints
from dataconv.outputs import manifest
from dataconv.outputs import samples_table
from dataconv.io.decode import DEFAULT_MAX_PIXELS
from dataconv.errors import DataconvError
from dataconv.build.executors import Executor, open_executor
from dataconv.outputs.atomic import atomic_output
from dataconv.sample import ReadContext, Reject, Sample
from dataconv.build import splits as splitter

# tqdm's monitor thread only retunes the refresh rate of stalled bars; off, so that no
# thread of ours ever runs when a local pool forks this process (executors.LocalPool).
tqdm.monitor_interval = 0


@dataclass
class Config:
    src: str
    out: str
    overwrite: bool = False
    split: tuple[float, float, float] | None = (0.9, 0.05, 0.05)
    seed: int = 0
    group_by: str | None = None  # see dataconv/build/splits.py group_key
    group_regex: str | None = None
    shard_size: int = 50_000
    shard_bytes: int = 2 * 1024**3
    layout: str = "standard"
    workers: int = 1
    dask: str | None = None  # a scheduler address, or "local"
    follow_symlinks: bool = False
    check_opts: dict[str, Any] = field(default_factory=dict)
    manifest_options: dict[str, Any] = field(default_factory=dict)
    progress: bool = True

    def read_context(self) -> ReadContext:
        """How this run opens and decodes images (every read of the run uses it)."""
        return ReadContext(follow_symlinks=self.follow_symlinks,
                           max_pixels=int(self.check_opts.get("max_pixels") or DEFAULT_MAX_PIXELS))


@dataclass
class ShardTask:
    split: str
    number: int
    folder: str  # the split's folder inside the temporary output
    samples: list[tuple[int, Sample]]  # (seq, sample)
    check_opts: dict[str, Any]
    read_ctx: ReadContext
    shard_bytes: int
    part: str  # the part file its samples.parquet rows are streamed to

    def __len__(self) -> int:
        return len(self.samples)


@dataclass
class ShardResult:
    split: str
    number: int
    shards: list[tuple[str, int, str]]  # temporary folder names, counts, digests, in order
    part: str  # its samples.parquet rows (temporary shard names), see samples_table
    written: int
    chars: set[str]  # every character of the written labels
    has_group: bool  # whether any written sample has a group
    rejects: list[tuple[int, Reject]]


@dataclass
class Collected:
    samples: list[tuple[int, Sample]]
    rejects: list[tuple[int, Reject]]
    total: int


def split_folder(split: str, layout: str) -> str:
    """Where a split's shards live: PARSeq reads training data from ``train/real``."""
    return "train/real" if (split == "train" and layout == "parseq") else split


def collect(samples: Iterator[Sample | Reject], progress: bool) -> Collected:
    kept: list[tuple[int, Sample]] = []
    rejects: list[tuple[int, Reject]] = []
    seen: dict[str, str] = {}
    seq = -1
    for seq, item in enumerate(tqdm(samples, desc="reading annotations", unit=" samples",
                                    disable=not progress, file=sys.stderr)):
        if isinstance(item, Reject):
            rejects.append((seq, item))
        elif item.id in seen:
            rejects.append((seq, Reject(item.source, "duplicate_id",
                                        f"id {item.id!r} already used at {seen[item.id]}", item.id)))
        else:
            seen[item.id] = item.source
            kept.append((seq, item))
    return Collected(kept, rejects, seq + 1)


def plan(collected: Collected, config: Config, tmp: str,
         digests: dict[int, str] | None = None) -> list[ShardTask]:
    by_split: dict[str, list[tuple[int, Sample]]] = {s: [] for s in splitter.SPLITS}
    splits = splitter.assign_splits(collected.samples, config.split, config.seed,
                                    config.group_by, config.group_regex, digests)
    for seq, sample in collected.samples:
        by_split[splits[seq]].append((seq, sample))
    ctx = config.read_context()
    tasks = []
    for split, members in by_split.items():
        folder = os.path.join(tmp, split_folder(split, config.layout))
        for number, start in enumerate(range(0, len(members), config.shard_size)):
            tasks.append(ShardTask(split, number, folder, members[start:start + config.shard_size],
                                   config.check_opts, ctx, config.shard_bytes,
                                   samples_table.part_path(tmp, split, number)))
    return tasks


def finalize(tmp: str, results: list[ShardResult], collected: Collected, config: Config,
             fmt: str) -> dict[str, Any]:
    """Give shards their final names and write the accounting files. Returns the manifest."""
    shard_entries: list[dict[str, Any]] = []
    parts: list[tuple[str, dict[str, str]]] = []  # in output row order
    chars: set[str] = set()
    split_counts: Counter[str] = Counter()
    rejects = list(collected.rejects)
    for split in splitter.SPLITS:
        folder = split_folder(split, config.layout)
        final_no = 0
        for result in (r for r in results if r.split == split):
            rejects.extend(result.rejects)
            renamed = {}
            for temp_name, count, digest in result.shards:
                name = f"shard-{final_no:05d}"
                os.rename(os.path.join(tmp, folder, temp_name), os.path.join(tmp, folder, name))
                renamed[temp_name] = f"{folder}/{name}"
                shard_entries.append({"split": split, "path": f"{folder}/{name}", "count": count,
                                      "sha256": digest})
                final_no += 1
            parts.append((result.part, renamed))
            chars |= result.chars
            split_counts[split] += result.written
    rejects.sort(key=lambda pair: pair[0])
    _write_rejects(tmp, [r for _, r in rejects])
    samples_table.write_final(tmp, os.path.join(tmp, manifest.SAMPLES), parts,
                              sum(split_counts.values()), any(r.has_group for r in results))
    charset = "".join(sorted(chars))
    with open(os.path.join(tmp, manifest.CHARSET), "w", encoding="utf-8") as f:
        f.write("".join(ch + "\n" for ch in charset))
    card = manifest.build(
        fmt=fmt, options=config.manifest_options, counts_input=collected.total,
        split_counts={s: split_counts.get(s, 0) for s in splitter.SPLITS if split_counts.get(s)},
        reject_counts=Counter(r.reason for _, r in rejects), shards=shard_entries, charset=charset)
    if card["counts"]["input"] != card["counts"]["written"] + card["counts"]["rejected"]:
        raise RuntimeError(f"accounting mismatch: {card['counts']}")  # a bug, never bad input
    warn_outcome(card, [r for _, r in rejects], hints.RunContext(config.src, fmt, config.manifest_options))
    manifest.write(tmp, card)
    return card


def warn_outcome(card: dict[str, Any], rejects: list[Reject], ctx: hints.RunContext) -> None:
    """A run that wrote nothing fails (DataconvError, so no OUT appears); one where a
    single reason rejected most samples says so on stderr and goes on."""
    counts = card["counts"]
    warning = hints.check_outcome(counts["written"], counts["input"], rejects, ctx)
    if warning is not None:
        print(f"warning: {warning}", file=sys.stderr, flush=True)


def _write_rejects(folder: str, rejects: list[Reject]) -> None:
    with open(os.path.join(folder, manifest.REJECTS), "w", encoding="utf-8") as f:
        for r in rejects:
            f.write(json.dumps(r.to_json(), ensure_ascii=False, sort_keys=True) + "\n")



def hash_pass(collected: Collected, config: Config, executor: Executor) -> dict[int, str]:
    """Image digests, read once before planning, when a global decision needs them:
    --dedupe, or a split (byte-identical images must not straddle splits). Chunks of
    samples are hashed on ``executor``, in parallel where it has workers."""
    if config.split is None and not config.check_opts.get("dedupe"):
        return {}
    ctx = config.read_context()
    return build.hash_samples(collected.samples, ctx, executor, config.progress)


def convert(converter: Any, config: Config) -> dict[str, Any]:
    """Run the whole conversion for one converter; returns the manifest.

    The executor starts first: a local pool's workers are forked before the sample index
    exists, so they never hold a copy of it (only the chunks they are sent)."""
    with atomic_output(config.out, config.overwrite) as tmp:
        with open_executor(config.workers, config.dask) as executor:
            collected = collect(converter.samples(), config.progress)
            if collected.total == 0:
                raise DataconvError(f"{config.src}: no samples found")
            digests = hash_pass(collected, config, executor)
            if config.check_opts.get("dedupe"):
                kept, dups = splitter.drop_duplicates(collected.samples, digests)
                collected = Collected(kept, collected.rejects + dups, collected.total)
            tasks = plan(collected, config, tmp, digests)
            with tqdm(total=sum(len(t) for t in tasks), desc="checking and writing",
                      unit=" samples", disable=not config.progress, file=sys.stderr) as bar:
                results = list(build.build_shards(tasks, executor, bar.update))
        # The sample index is not needed any more: freed before finalize loads pyarrow.
        del tasks, digests
        collected = Collected([], collected.rejects, collected.total)
        return finalize(tmp, results, collected, config, converter.name)
