"""The one-way flow: converter -> validators -> splitter -> shard writer -> OUT.

``run`` is the one run function of every format: it opens the temporary output folder,
lets the converter's output (``OUTPUTS``: LMDB shards, or COCO files) write into it, and
finishes every output through ``dataconv.outputs.accounting`` (rejects.jsonl, manifest,
the accounting check). The LMDB output runs in four steps:

1. collect (dataconv/build/collect.py): parse the source into samples and rejects,
   numbering every input sample (``seq``) and rejecting duplicated ids; in the driver, or
   on the workers when the converter cuts its source into parts.
2. plan: assign each sample a split from its group key (groups that share a byte-identical
   image merged), cut each split into shard tasks.
3. build (dataconv/build/shards.py, ``build_shards``): the executor's workers read, check
   and write. When the plan needs the image digests (a split, --dedupe) or there are fewer
   tasks than workers, they first read, check and hash every image once in segments,
   spooling the outcomes (the checked pass, before the plan), then write each task from
   the spools; otherwise each writes whole tasks. The driver receives digests and
   accounting, never image bytes.
4. finalize: number shards, write samples.parquet (streamed from the tasks' part files,
   see dataconv/outputs/samples_table.py) and charset.txt; ``run`` then writes
   rejects.jsonl and manifest.json, and the temporary folder is renamed into place.
"""
from __future__ import annotations

import dataclasses
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
from tqdm import tqdm

from dataconv.build import shards as build
from dataconv.build.collect import Collected, collect, collect_parts
from dataconv.build.sample_index import SampleIndex
from dataconv.build.shards import ShardResult, ShardTask
from dataconv.converters.base import Converter
from dataconv.outputs import coco
from dataconv.outputs import lmdb_writer
from dataconv.outputs import manifest
from dataconv.outputs import samples_table
from dataconv.outputs import staging
from dataconv.outputs.staging import Stage
from dataconv.outputs.accounting import Accounts, finish
from dataconv.io.dataset_reader import split_folder
from dataconv.errors import DataconvError
from dataconv.numbers import env_count
from dataconv.build.executors import Executor, open_executor
from dataconv.outputs.atomic import output_folder
from dataconv.sample import ReadContext, Reject, Sample
from dataconv.build import interrupts
from dataconv.build import splits as splitter
from dataconv.validators.base import CheckOptions
from dataconv.validators.image import DecodeOptions
from dataconv.validators.corrections import Corrections, LabelEdit, corrections_of, refuse_without_samples
from dataconv.validators.label_rules import rules_of

# tqdm's monitor thread only retunes the refresh rate of stalled bars; off, so that no
# thread of ours ever runs when a local pool forks this process (executors/local.py).
tqdm.monitor_interval = 0


PART_BYTES = 256 << 10  # a part of about 6,000 gt.txt lines: about 35 ms to parse
PART_BYTES_ENV = "DATACONV_PART_BYTES"


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
    executor: str | None = None  # a registered executor's name [default: what workers and dask choose]
    follow_symlinks: bool = False
    dedupe: bool = False  # write byte-identical images once (the first in input order)
    checks: CheckOptions = field(default_factory=CheckOptions)
    manifest_options: dict[str, Any] = field(default_factory=dict)
    progress: bool = True
    # A folder under each split for a sample (a recipe's one folder per source), or None.
    subfolder: Callable[[Sample], str] | None = None
    # The split of each page by id (``--task rec,det``): a crop goes where its page went.
    page_splits: dict[str, str] | None = None
    # With several workers, a source the converter cuts into parts (``Converter.parts``)
    # is parsed on the workers in parts of about this many bytes (build/collect.py).
    part_bytes: int = field(default_factory=lambda: env_count(PART_BYTES_ENV, PART_BYTES))

    def read_context(self) -> ReadContext:
        """How this run opens and decodes images (every read of the run uses it)."""
        return ReadContext(follow_symlinks=self.follow_symlinks,
                           max_pixels=self.checks.of(DecodeOptions).max_pixels)


def grouping(config: Config) -> splitter.Grouping:
    return splitter.Grouping(config.seed, config.group_by, config.group_regex)


def split_numbers(samples: SampleIndex, config: Config, digests: dict[int, str] | None,
                  hashes: np.ndarray | None) -> np.ndarray:
    """Each sample's split, as its number in SPLITS, by position: from the group hashes
    the checked pass computed (``hashes``), else from the samples themselves; a page's
    split, when the run has them (``--task rec,det``), wins."""
    if hashes is not None:
        numbers = splitter.assign_hashed(samples, config.split, grouping(config), digests or {}, hashes)
    elif config.split is None and not (config.group_by or config.group_regex):
        numbers = np.zeros(len(samples), np.int8)  # all in train, nothing to hash or check
    else:
        splits = splitter.assign_splits(samples, config.split, config.seed,
                                        config.group_by, config.group_regex, digests)
        numbers = np.array([splitter.SPLITS.index(splits[seq]) for seq in samples.seqs], np.int8)
    for at, (_, sample) in enumerate(samples if config.page_splits else ()):
        page = config.page_splits.get(sample.page or "")
        if page is not None:
            numbers[at] = splitter.SPLITS.index(page)
    return numbers


def plan(collected: Collected, config: Config, stage: Stage, digests: dict[int, str] | None = None,
         hashes: np.ndarray | None = None) -> list[ShardTask]:
    """Each sample's split, then each split cut into shard tasks written in ``stage.root``."""
    tmp, samples = stage.root, collected.samples
    numbers = split_numbers(samples, config, digests, hashes)
    by_split = {s: np.flatnonzero(numbers == k) for k, s in enumerate(splitter.SPLITS)}  # positions
    del numbers
    ctx = config.read_context()
    tasks = []
    for split, rows in by_split.items():
        number = 0
        for sub, part in by_subfolder(samples, rows, config.subfolder):
            folder = os.path.join(tmp, split_folder(split, config.layout), sub)
            for start in range(0, len(part), config.shard_size):
                tasks.append(ShardTask(split, number, folder, samples.take(part[start:start + config.shard_size]),
                                       config.checks, ctx, config.shard_bytes,
                                       samples_table.part_path(tmp, split, number), stage))
                number += 1
    return tasks


def by_subfolder(samples: SampleIndex, rows: np.ndarray, subfolder: Callable[[Sample], str] | None
                 ) -> list[tuple[str, Any]]:
    """The positions ``rows`` of one split's samples per folder under it, in order of first
    appearance (one folder, ``""``, without ``subfolder``)."""
    if subfolder is None:
        return [("", rows)]
    groups: dict[str, list[int]] = {}
    for at, (_, sample) in zip(rows, samples.take(rows)):
        groups.setdefault(subfolder(sample), []).append(at)
    return list(groups.items())


def finalize(stage: Stage, results: list[ShardResult], collected: Collected, config: Config,
             subfolders: dict[tuple[str, int], str] | None = None) -> Accounts:
    """Give shards their final names (numbered per folder), write samples.parquet and
    charset.txt; return the accounts for ``accounting.finish``. ``subfolders`` names the
    folder under its split of each task (``(split, number)``) that has one."""
    tmp = stage.root
    shard_entries: list[dict[str, Any]] = []
    parts: list[tuple[str, dict[str, str]]] = []  # in output row order
    chars: set[str] = set()
    split_counts: Counter[str] = Counter()
    rejects = list(collected.rejects)
    for split in splitter.SPLITS:
        final_numbers: Counter[str] = Counter()
        for result in (r for r in results if r.split == split):
            sub = (subfolders or {}).get((split, result.number), "")
            folder = "/".join(filter(None, (split_folder(split, config.layout), sub)))
            rejects.extend(result.rejects)
            renamed = {}
            for temp_name, count, digest in result.shards:
                name = f"shard-{final_numbers[folder]:05d}"
                stage.rename(os.path.join(tmp, folder, temp_name), os.path.join(tmp, folder, name))
                renamed[temp_name] = f"{folder}/{name}"
                shard_entries.append({"split": split, "path": f"{folder}/{name}", "count": count,
                                      "sha256": digest})
                final_numbers[folder] += 1
            stage.fetch(result.part)
            parts.append((result.part, renamed))
            chars |= result.chars
            split_counts[split] += result.written
    rejects.sort(key=lambda pair: pair[0])
    samples_table.write_final(tmp, os.path.join(tmp, manifest.SAMPLES), parts,
                              sum(split_counts.values()), any(r.has_group for r in results))
    stage.remove(samples_table.parts_folder(tmp))
    charset = "".join(sorted(chars))
    with open(os.path.join(tmp, manifest.CHARSET), "w", encoding="utf-8") as f:
        f.write("".join(ch + "\n" for ch in charset))
    return Accounts(total=collected.total,
                    split_counts={s: split_counts[s] for s in splitter.SPLITS if split_counts.get(s)},
                    rejects=[r for _, r in rejects], shards=shard_entries, charset=charset)


SPOOL_FOLDER = ".spool"  # the checked pass's spools, inside the temporary folder


def build_shards(collected: Collected, config: Config, executor: Executor, stage: Stage
                 ) -> tuple[Collected, list[ShardTask], list[ShardResult]]:
    """Check and write every sample: the collected samples (less --dedupe's duplicates),
    the shard tasks and their results.

    When the plan needs the image digests (a split: byte-identical images never straddle
    two splits; --dedupe) or there are fewer shard tasks than workers, the checked pass
    reads, checks and hashes every image once, spooling the outcomes; then the plan, and
    the writers copy the spooled outcomes into the shards. Otherwise each worker checks
    and writes whole tasks."""
    needs_digests = config.split is not None or config.dedupe
    tasks = None if needs_digests else plan(collected, config, stage)
    if tasks is not None and build.whole_tasks_fit([len(t) for t in tasks], executor.workers):
        with _bar(config, sum(len(t) for t in tasks), "checking and writing") as bar:
            results = build.write_whole_tasks(tasks, executor, lmdb_writer.ShardWriter, bar.update)
        return collected, tasks, results
    with _bar(config, len(collected.samples), "checking") as bar:
        spools = build.check_all(collected.samples, config.checks, config.read_context(), executor,
                                  os.path.join(stage.root, SPOOL_FOLDER), stage, bar.update,
                                  grouping(config) if config.split is not None else None)
    digests = spools.duplicated()
    if config.dedupe:
        kept, dups = splitter.drop_duplicates(collected.samples, digests)
        collected = Collected(collected.samples.take(kept), collected.rejects + dups, collected.total)
    if tasks is None:
        tasks = plan(collected, config, stage, digests, spools.group_hashes(collected.samples))
    with _bar(config, sum(len(t) for t in tasks), "writing") as bar:
        return collected, tasks, build.join_tasks(tasks, spools, executor, lmdb_writer.ShardWriter, bar.update)


def _bar(config: Config, total: int, desc: str) -> tqdm:
    return tqdm(total=total, desc=desc, unit=" samples", disable=not config.progress, file=sys.stderr)


def write_lmdb(converter: Converter, config: Config, tmp: str) -> Accounts:
    """The LMDB output: checked samples in LMDB shards, plus samples.parquet and charset.txt.

    The executor starts first: a local pool's workers are forked before the sample index
    exists, so they never hold a copy of it (only the chunks they are sent)."""
    stage = staging.for_output(config.out, tmp, interrupts.deferred)
    with open_executor(config.workers, config.dask, config.executor) as executor:
        rules, corrections = rules_of(config.checks), corrections_of(config.checks)
        collected = collect_source(converter, config, executor, corrections, rules)
        if collected.total == 0:
            raise DataconvError(f"{config.src}: {converter.none_found}")
        corrections.finish()
        collected, tasks, results = build_shards(collected, config, executor, stage)
    subfolders = {(t.split, t.number):
                  os.path.relpath(t.folder, os.path.join(tmp, split_folder(t.split, config.layout)))
                  for t in tasks} if config.subfolder is not None else {}
    # The sample index is not needed any more: freed before finalize loads pyarrow.
    del tasks
    collected = Collected(SampleIndex.of([]), collected.rejects, collected.total)
    accounts = finalize(stage, results, collected, config, subfolders)
    if rules is not None:
        accounts.extra["label_rules"] = rules.counts()
    accounts.extra.update(corrections.record())
    return accounts


def collect_source(converter: Converter, config: Config, executor: Executor, corrections: Corrections,
                   rules: LabelEdit | None) -> Collected:
    """The converter's samples collected: on the workers, part by part, where the converter
    cuts its source into parts, there are several workers and no label edits to apply in
    input order; else in this process."""
    edits = corrections.then(rules)
    several = getattr(executor, "workers", 1) > 1
    parts = converter.parts(config.part_bytes) if edits is None and several else None
    if parts:
        return collect_parts(parts, executor, config.progress)
    return collect(corrections.watch(converter.samples()), config.progress, edits)


def write_coco(converter: Converter, config: Config, tmp: str) -> Accounts:
    """The COCO output: pages (not boxes) are split, by the same hash as samples."""
    pages = list(converter.layout_pages())
    if not pages:
        raise DataconvError(f"{config.src}: {converter.none_found}")
    writer = coco.CocoWriter(converter.src, tmp, pages, config.read_context(), **converter.output_options())
    for page in pages:
        writer.add(page, splitter.assign(page.id, config.split, config.seed))
    return writer.finish()


def write_tasks(converter: Converter, config: Config, tmp: str) -> Accounts:
    """The tasks a page format derives (``--task``): word crops in LMDB shards (rec), the
    detection dataset (det), or both with every crop in its page's split (the detection
    dataset then sits complete in OUT/det, with its own manifest)."""
    tasks = converter.tasks()
    if "det" not in tasks:
        return write_lmdb(converter, config, tmp)
    from dataconv.build import detection  # shapely and OpenCV: only for detection runs

    stage = staging.for_output(config.out, tmp, interrupts.deferred)
    if "rec" not in tasks:
        return detection.write_det(converter, config, stage)[0]
    folder = os.path.join(tmp, DET_FOLDER)
    det_accounts, page_splits = detection.write_det(converter, config, stage.under(DET_FOLDER))
    det_card = finish(folder, det_accounts, converter.name, config.manifest_options, config.src)
    accounts = write_lmdb(converter, dataclasses.replace(config, page_splits=page_splits), tmp)
    accounts.extra.update(task="rec,det", det={"path": DET_FOLDER, "counts": det_card["counts"],
                                               "boxes": det_card["boxes"]})
    return accounts


DET_FOLDER = "det"

# Each output by name (``Converter.output``): writes its files into the temporary folder
# and returns what it wrote and rejected. A new output is a writer module and a line here.
OUTPUTS: dict[str, Callable[[Converter, Config, str], Accounts]] = {"lmdb": write_tasks, "coco": write_coco}


def run(converter: Converter, config: Config) -> dict[str, Any]:
    """Run the whole conversion for any format; returns the manifest."""
    write = OUTPUTS[converter.output]
    try:
        refuse_without_samples(config.checks, converter.output, converter.tasks())
        with output_folder(config.out, config.overwrite) as tmp:  # a folder, or a URL prefix
            accounts = write(converter, config, tmp)
            accounts.extra.update(converter.accounting(accounts.rejects, accounts.shards))
            return finish(tmp, accounts, converter.name, config.manifest_options, config.src)
    finally:
        converter.close()
