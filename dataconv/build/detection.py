"""The detection task (``--task det``): pages to page images and detector label files.

1. collect: number the pages of ``converter.pages()``; runs of one page (the same id and
   annotation file) are joined, a page id seen again from another place is ``duplicate_id``.
2. split: by page, with the LMDB output's rules (``splits.assign_splits``: the seed, the
   group, byte-identical page images in one split), so ``--task rec,det`` puts a page and
   every crop cut from it in the same split.
3. place (on the executor's workers): read and fully decode the page, drop its EXIF
   orientation (``dataconv.io.exif``), check every box (``dataconv.io.polygons``), write the
   image under ``<split>/images/``.
4. finish: each layout's label file per split (``dataconv.outputs.detlabels``),
   samples.parquet with one row per page; the accounts count pages, and boxes apart.

A box is a region of the page, not a sample: a region whose text is unusable stays in the
labels as a don't-care region; one whose geometry is unusable is removed, counted on its
page (``removed``) and listed in rejects.jsonl with ``"level": "box"``;
``--on-bad-box drop-page`` rejects such a page instead (``bad_box_page``).
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import re
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from dataconv.build import splits as splitter
from dataconv.build.executors import Executor, open_executor
from dataconv.build.shards import hash_samples
from dataconv.errors import DataconvError, SampleRejected
from dataconv.io import decode, exif
from dataconv.io.polygons import det_points, finite_points, plain
from dataconv.outputs import detlabels, manifest
from dataconv.outputs.accounting import Accounts
from dataconv.outputs.staging import Stage
from dataconv.page import Region, TextPage
from dataconv.sample import BytesImage, FileImage, ReadContext, Reject, Sample
from dataconv.validators.base import Candidate, Check, CheckOptions, make_checks, run_checks

PAGES_PER_TASK = 16
# PaddleOCR's DetLabelEncode reads a box transcribed as one of these as don't care, whatever
# the source meant: such a box is a don't-care region in all three label files alike.
IGNORE_TAGS = ("###", "*")


@dataclass
class Collected:
    pages: list[tuple[int, TextPage]]
    rejects: list[tuple[int, Reject]]
    total: int


def collect(items: Iterator[TextPage | Reject], progress: bool) -> Collected:
    pages: dict[str, tuple[int, TextPage]] = {}
    rejects: list[tuple[int, Reject]] = []
    seq = -1
    for item in tqdm(items, desc="reading pages", unit=" pages", disable=not progress, file=sys.stderr):
        if isinstance(item, Reject):
            seq += 1
            rejects.append((seq, item))
        elif item.id in pages and pages[item.id][1].source == item.source:
            pages[item.id][1].regions.extend(item.regions)  # the same page, listed in runs
        elif item.id in pages:
            seq += 1
            rejects.append((seq, Reject(item.source, "duplicate_id", f"page {item.id!r} already read from "
                                                                    f"{pages[item.id][1].source}", item.id)))
        else:
            seq += 1
            pages[item.id] = (seq, item)
    return Collected(list(pages.values()), rejects, seq + 1)


def page_image(page: TextPage) -> Any:
    if page.data is not None:
        return BytesImage(page.data)
    return FileImage(page.root, page.image if isinstance(page.image, str) else "")


def page_splits(collected: Collected, config: Any, executor: Executor) -> dict[int, str]:
    """seq -> split for every page: by its group (else its id) and image bytes."""
    as_samples = [(seq, Sample(id=page.id, label="", image=page_image(page), source=page.source,
                               group=page.group, meta=dict(page.meta)))
                  for seq, page in collected.pages]
    rejected = {seq for seq, page in collected.pages if isinstance(page.image, SampleRejected)}
    readable = [(seq, s) for seq, s in as_samples if seq not in rejected]
    digests = hash_samples(readable, config.read_context(), executor, config.progress) if config.split else {}
    return splitter.assign_splits(as_samples, config.split, config.seed, config.group_by,
                                  config.group_regex, digests)


def image_name(page: TextPage) -> str:
    """Where the page image goes under ``<split>/images``: its path under -i, or for an
    embedded page the annotation file's stem with the image format's extension."""
    if page.data is not None:
        with decode.opened(page.data, None) as im:
            ext = (im.format or "img").lower().replace("jpeg", "jpg")
        return f"{posixpath.splitext(page.source.replace(os.sep, '/'))[0]}.{ext}"
    return posixpath.normpath(str(page.image).replace("\\", "/")).lstrip("/")


# Characters a line-based label file cannot hold in a path: PaddleOCR splits its det label
# lines on a TAB and reads the file line by line (Python's line boundaries).
UNWRITABLE = re.compile("[\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def written_name(name: str, used: set[str]) -> str:
    """The name the page image is written under: ``name``, with any character the label
    files cannot hold replaced by ``_``, and ``~N`` before the extension when that name is
    taken in the split (the page's id and source in samples.parquet keep the original)."""
    clean = UNWRITABLE.sub("_", name)
    stem, ext = posixpath.splitext(clean)
    count = 1
    while clean in used:
        clean, count = f"{stem}~{count}{ext}", count + 1
    used.add(clean)
    return clean


@dataclass
class PlaceTask:
    pages: list[tuple[int, str, str, TextPage]]  # (seq, split, image name, page)
    ctx: ReadContext
    on_bad_box: str
    checks: CheckOptions  # the run's checks: their label checks judge each box's text
    stage: Stage  # the detection dataset's temporary folder (root), where the worker leaves the page images


@dataclass
class Outcome:
    placed: detlabels.PlacedPage | None
    reject: Reject | None
    removed: list[Reject]


def place_task(task: PlaceTask) -> list[Outcome]:
    """Runs on a worker: every page of the task read, checked and written."""
    checks = label_checks(task.checks)
    with task.stage.scratch() as local:
        return [place(seq, split, name, page, local(task.stage.root), task.ctx, task.on_bad_box, checks)
                for seq, split, name, page in task.pages]


_LABEL_CHECKS: dict[CheckOptions, list[Check]] = {}  # per process: built once per option set


def label_checks(options: CheckOptions) -> list[Check]:
    if options not in _LABEL_CHECKS:
        _LABEL_CHECKS[options] = make_checks(options, label_only=True)
    return _LABEL_CHECKS[options]


def place(seq: int, split: str, name: str, page: TextPage, folder: str, ctx: ReadContext,
          on_bad_box: str, checks: list[Check]) -> Outcome:
    regions = [r for r in page.regions if r.skip is None]
    try:
        if any(r.points is None for r in regions):
            raise SampleRejected("not_a_page", "the regions are whole images, not boxes on a page")
        if isinstance(page.image, SampleRejected):
            raise page.image
        data = page_image(page).read(ctx)
        width, height = decode.decode_plain(data, ctx.max_pixels).size  # a complete decode
    except SampleRejected as e:
        return Outcome(None, Reject(page.source, e.reason, e.detail, page.id), [])
    orientation = exif.orientation(data)
    if orientation != 1:
        data = exif.without_exif(data)
        width, height = exif.stored_size(data)
    boxes, removed = [], []
    for region in regions:
        try:
            boxes.append(det_box(region, orientation if page.upright else 1, width, height, checks))
        except SampleRejected as e:
            removed.append(Reject(region.where, e.reason, e.detail, region.id, level="box"))
    if removed and on_bad_box == "drop-page":
        first = removed[0]
        return Outcome(None, Reject(page.source, "bad_box_page", f"{first.source}: {first.reason}: "
                                                                  f"{first.detail}"[:300], page.id), [])
    rel = f"images/{name}"
    target = os.path.join(folder, split, rel)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as f:
        f.write(data)
    placed = detlabels.PlacedPage(seq, page.id, page.source, split, rel, width, height, len(data),
                                  hashlib.sha1(data).hexdigest(), boxes, len(removed))
    return Outcome(placed, None, removed)


def det_box(region: Region, orientation: int, width: int, height: int,
            checks: list[Check]) -> detlabels.DetBox:
    """The region as a label box on the stored pixels, or SampleRejected (its geometry).
    Its text is a don't-care region's when it is unusable or a label check rejects it."""
    for failure in (region.fault, region.points):
        if isinstance(failure, SampleRejected):
            raise failure
    points = finite_points(region.points)
    if orientation != 1:
        points = exif.to_stored(points, orientation, width, height)
    points = det_points(points, width, height, region.reading_order)
    text, ignore = region.text, region.unusable_text() is not None or region.text in IGNORE_TAGS
    if not ignore and text is not None:
        candidate = Candidate(Sample(region.id, text, BytesImage(b""), region.where), text)
        ignore = run_checks(candidate, checks) is not None
        text = candidate.label
    return detlabels.DetBox([[plain(x), plain(y)] for x, y in points], text, ignore)


def plan(collected: Collected, splits: dict[int, str], config: Any, stage: Stage, workers: int,
         on_bad_box: str) -> tuple[list[PlaceTask], list[tuple[int, Reject]]]:
    """Tasks of pages in input order; a second page naming an image file already placed in
    its split is ``duplicate_image``."""
    first: dict[tuple[str, str], str] = {}
    used: dict[str, set[str]] = {split: set() for split in splitter.SPLITS}
    todo, rejects = [], []
    for seq, page in collected.pages:
        split = splits[seq]
        try:
            name = image_name(page) if not isinstance(page.image, SampleRejected) else ""
        except SampleRejected as e:
            rejects.append((seq, Reject(page.source, e.reason, e.detail, page.id)))
            continue
        if name and (split, name) in first:
            rejects.append((seq, Reject(page.source, "duplicate_image", f"{name} is also the image of "
                                                                        f"{first[split, name]}", page.id)))
            continue
        if name:
            first[split, name] = page.source
        todo.append((seq, split, written_name(name, used[split]) if name else name, page))
    size = max(1, min(PAGES_PER_TASK, len(todo) // max(1, workers * 4) or 1))
    tasks = [PlaceTask(todo[i:i + size], config.read_context(), on_bad_box, config.checks, stage)
             for i in range(0, len(todo), size)]
    return tasks, rejects


def write_det(converter: Any, config: Any, stage: Stage) -> tuple[Accounts, dict[str, str]]:
    """The detection dataset in ``stage.root``; its accounts and each written page's split by id."""
    folder = stage.root
    with open_executor(config.workers, config.dask, config.executor) as executor:
        collected = collect(converter.pages(), config.progress)
        if collected.total == 0:
            raise DataconvError(f"{config.src}: no pages found")
        splits = page_splits(collected, config, executor)
        tasks, planned = plan(collected, splits, config, stage, executor.workers,
                              converter.options.page.on_bad_box)
        rejects = collected.rejects + planned
        placed, removed = [], []
        with tqdm(total=sum(len(t.pages) for t in tasks), desc="placing pages", unit=" pages",
                  disable=not config.progress, file=sys.stderr) as bar:
            for outcomes in executor.map_ordered(place_task, tasks):
                for outcome in outcomes:
                    if outcome.reject is not None:
                        rejects.append((outcome.placed.seq if outcome.placed else -1, outcome.reject))
                    else:
                        placed.append(outcome.placed)
                    removed.extend(outcome.removed)
                bar.update(len(outcomes))
    rejects = order_rejects(rejects, collected)
    accounts = finish(folder, placed, rejects, removed, collected)
    return accounts, {p.id: p.split for p in placed}


def order_rejects(rejects: list[tuple[int, Reject]], collected: Collected) -> list[Reject]:
    """Page rejects in input order (a worker's reject carries its page's id)."""
    seq_of = {page.id: seq for seq, page in collected.pages}
    keyed = [(seq if seq >= 0 else seq_of.get(r.id or "", -1), r) for seq, r in rejects]
    return [r for _, r in sorted(keyed, key=lambda pair: pair[0])]


def finish(folder: str, placed: list[detlabels.PlacedPage], rejects: list[Reject],
           removed: list[Reject], collected: Collected) -> Accounts:
    files = []
    for split in splitter.SPLITS:
        pages = [p for p in placed if p.split == split]
        if pages:
            os.makedirs(os.path.join(folder, split), exist_ok=True)  # its images may be staged elsewhere
            files += [f"{split}/{name}" for name in detlabels.write_split(os.path.join(folder, split), pages)]
    write_page_table(os.path.join(folder, manifest.SAMPLES), placed)
    boxes = [b for p in placed for b in p.boxes]
    counts = Counter(p.split for p in placed)
    return Accounts(
        total=collected.total, split_counts={s: counts[s] for s in splitter.SPLITS if counts[s]},
        rejects=rejects, removed=removed,
        extra={"task": "det", "label_files": files,
               "files": ["manifest.json", "rejects.jsonl", "samples.parquet", "<split>/images/",
                         *sorted({f.split("/", 1)[1] for f in files})],
               "boxes": {"written": len(boxes), "ignore": sum(b.ignore for b in boxes),
                         "removed": len(removed),
                         "removed_by_reason": dict(sorted(Counter(r.reason for r in removed).items()))}})


PAGE_COLUMNS = [("split", pa.string()), ("source_id", pa.string()), ("source", pa.string()),
                ("path", pa.string()), ("width", pa.int32()), ("height", pa.int32()),
                ("bytes", pa.int64()), ("sha1", pa.string()), ("boxes", pa.int32()),
                ("ignore", pa.int32()), ("removed", pa.int32())]


def write_page_table(path: str, placed: list[detlabels.PlacedPage]) -> None:
    """samples.parquet of a detection dataset: one row per written page, in output order."""
    rows = sorted(placed, key=lambda p: (splitter.SPLITS.index(p.split), p.seq))
    values = {"split": [p.split for p in rows], "source_id": [p.id for p in rows], "source": [p.source for p in rows],
              "path": [p.path for p in rows], "width": [p.width for p in rows], "height": [p.height for p in rows],
              "bytes": [p.size for p in rows], "sha1": [p.sha1 for p in rows],
              "boxes": [len(p.boxes) for p in rows], "ignore": [sum(b.ignore for b in p.boxes) for p in rows],
              "removed": [p.removed for p in rows]}
    table = pa.table({name: pa.array(values[name], kind) for name, kind in PAGE_COLUMNS})
    pq.write_table(table, path)

