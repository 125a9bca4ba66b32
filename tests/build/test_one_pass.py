"""One read of each image: the checked pass hashes while it checks and spools, the split
and --dedupe act on those digests, the writers copy the spooled outcomes."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import rejects_of, run_cli
from dataconv.build import shards, spool
from dataconv.build import splits as splitter
from dataconv.fixtures.ocr_mix import word_crop
from dataconv.outputs.staging import Stage, local_reader
from dataconv.sample import BytesImage, Sample

COPIES = 3  # ids per distinct image


@pytest.fixture(scope="module")
def copies(tmp_path_factory) -> str:
    """A gt.txt source whose images come in byte-identical copies under different ids
    (and names), one of them a corrupt image, in shuffled order."""
    src = tmp_path_factory.mktemp("copies")
    rng = random.Random(4)
    images = [word_crop(rng) for _ in range(40)] + [b"\xff\xd8 not a jpeg"]
    lines = []
    for i, data in enumerate(images):
        for c in range(COPIES):
            name = f"img{i:03d}_{c}.jpg"
            (src / name).write_bytes(data)
            lines.append(f"{name}\tlabel{i}\n")
    rng.shuffle(lines)
    (src / "gt.txt").write_text("".join(lines), encoding="utf-8")
    return str(src)


def _table(out: str) -> pd.DataFrame:
    return pd.read_parquet(os.path.join(out, "samples.parquet"))


@pytest.mark.parametrize("workers", ["1", "2"])
def test_identical_images_never_straddle_splits(copies, tmp_path, workers):
    out = str(tmp_path / "out")
    run_cli("gt-txt", "-i", copies, "-o", out, "-q", "--workers", workers, "--split", "0.34,0.33,0.33")
    table = _table(out)
    assert len(table) == 40 * COPIES
    assert table.groupby("sha1").split.nunique().max() == 1
    assert table.split.nunique() == 3  # the split still spreads the images


def test_dedupe_keeps_the_first_copy_of_each_image(copies, tmp_path):
    out = str(tmp_path / "out")
    run_cli("gt-txt", "-i", copies, "-o", out, "-q", "--workers", "2", "--dedupe")
    table = _table(out)
    assert len(table) == 40 and table.sha1.is_unique
    lines = open(os.path.join(copies, "gt.txt"), encoding="utf-8").read().splitlines()
    first = {}
    for line in lines:
        first.setdefault(line.split("\t")[1], line.split("\t")[0])
    assert sorted(table.source_id) == sorted(v for k, v in first.items() if k != "label40")
    reasons = [r["reason"] for r in rejects_of(out)]
    assert sorted(reasons) == ["duplicate_image"] * (41 * (COPIES - 1)) + ["undecodable_image"]


READS = """
import collections, json, os, sys
opened = collections.Counter()
def hook(event, args):
    if event == "open" and isinstance(args[0], str) and args[0].endswith(".jpg"):
        opened[os.path.basename(args[0])] += 1
sys.addaudithook(hook)
from dataconv.cli.main import cli
try:
    cli(sys.argv[1:], standalone_mode=False)
finally:
    print(json.dumps(opened))
"""


@pytest.mark.parametrize("options", [(), ("--dedupe",), ("--split", "none", "--dedupe")])
def test_each_image_is_opened_once(copies, tmp_path, options):
    """Every open of an image file, seen by an audit hook in the converting process."""
    proc = subprocess.run([sys.executable, "-c", READS, "gt-txt", "-i", copies, "-o", str(tmp_path / "o"),
                           "-q", "--workers", "1", *options], check=True, capture_output=True, text=True)
    opened = json.loads(proc.stdout.splitlines()[-1])
    assert len(opened) == 41 * COPIES and set(opened.values()) == {1}, opened


# --- the digests the driver keeps ----------------------------------------------------------

TOKENS = st.sampled_from([b"a", b"b", b"c", b"d", b"\x01" + bytes(19), None])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["g1", "g2", "g3", "g4", "g5", "g6"]), TOKENS), max_size=40),
       st.integers(0, 3))
def test_shared_digests_alone_give_the_same_splits_and_dedupe(rows, seed):
    """The split's merging of groups and --dedupe given only the digests that several
    samples share (``Spools.duplicated``) decide as with every sample's digest."""
    digest = {None: None, b"\x01" + bytes(19): b"\x01" + bytes(19)}
    samples = [(seq * 2, Sample(f"{group}-{seq}", "x", BytesImage(b""), "s", group=group))
               for seq, (group, _) in enumerate(rows)]
    raw = [digest[t] if t in digest else hashlib.sha1(t).digest() for _, t in rows]
    full = {seq: d.hex() for (seq, _), d in zip(samples, raw) if d is not None}
    checked = shards.Spools("", Stage(""), np.array([seq for seq, _ in samples], np.int64), np.zeros(len(rows), np.int32),
                             np.zeros(len(rows), np.int64),
                             np.array([d or shards.NO_DIGEST for d in raw], "S20"),
                             np.array([d is not None for d in raw], bool))
    shared = checked.duplicated()
    assert set(shared.items()) <= set(full.items())
    for ratios in ((0.34, 0.33, 0.33), (0.9, 0.05, 0.05)):
        assert (splitter.assign_splits(samples, ratios, seed, digests=shared)
                == splitter.assign_splits(samples, ratios, seed, digests=full))
    assert splitter.drop_duplicates(samples, shared) == splitter.drop_duplicates(samples, full)


# --- spools and segments -----------------------------------------------------------------

RECORD = st.tuples(st.text(max_size=5), st.binary(max_size=300))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(RECORD, max_size=12), min_size=1, max_size=3), st.data(), st.integers(1, 600))
def test_any_subsequence_of_spooled_records_reads_back(spools, data, read_bytes):
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as mp:
        mp.setattr(spool, "READ_BYTES", read_bytes)
        places = []
        for k, records in enumerate(spools):
            with spool.SpoolWriter(os.path.join(folder, str(k))) as out:
                for record in records:
                    out.add(record)
            starts = [0, *out.ends[:-1]]
            places += [(k, start, end, record) for start, end, record in zip(starts, out.ends, records)]
        picked = [p for p in places if data.draw(st.booleans())]
        paths = {k: os.path.join(folder, str(k)) for k in range(len(spools))}
        gap = data.draw(st.sampled_from([0, 1, 100, 1 << 30]))  # a staged spool's reads skip gaps
        reads = []

        @contextlib.contextmanager
        def recording(name):
            with local_reader(name) as read:
                yield lambda size, offset: reads.append((name, offset, size)) or read(size, offset)

        got = spool.read_records(paths, *([p[i] for p in picked] for i in range(3)), recording, gap)
        assert list(got) == [p[3] for p in picked]
        assert reads == expected_reads([(paths[k], start, end) for k, start, end, _ in picked], gap, read_bytes)


def expected_reads(records: list[tuple[str, int, int]], gap: int, read_bytes: int) -> list[tuple[str, int, int]]:
    """(spool, offset, size) of each read: a record joins the read before it when it is in
    the same spool, at most ``gap`` bytes after it, and the read stays within ``read_bytes``
    (a read of one record whatever its size)."""
    reads: list[list] = []
    for name, start, end in records:
        last = reads[-1] if reads else None
        if last and last[0] == name and 0 <= start - last[2] <= gap and end - last[1] <= read_bytes:
            last[2] = end
        else:
            reads.append([name, start, end])
    return [(name, start, end - start) for name, start, end in reads]


@pytest.mark.parametrize("gap, reads", [(0, 20), (1 << 20, 1)])
def test_records_apart_are_read_together_within_the_gap(tmp_path, gap, reads):
    """Every fifth of 100 records: one read each when nothing may be skipped (a local
    spool), one read of the whole span when the gap allows (a staged spool's ranged GET)."""
    path = str(tmp_path / "0")
    with spool.SpoolWriter(path) as out:
        for i in range(100):
            out.add((f"label{i}", bytes(200)))
    starts, ends = [0, *out.ends[:-1]], list(out.ends)
    count = []

    @contextlib.contextmanager
    def counting(name):
        with local_reader(name) as read:
            yield lambda size, offset: count.append(size) or read(size, offset)

    got = spool.read_records({0: path}, [0] * 20, starts[::5], ends[::5], counting, gap)
    assert [record[0] for record in got] == [f"label{i}" for i in range(0, 100, 5)]
    assert len(count) == reads


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 100_000), st.integers(1, 64), st.integers(1, 512))
def test_segments_cover_the_input_and_shrink_towards_the_end(total, workers, least):
    sizes = shards.segment_sizes(total, workers, least)
    assert sum(sizes) == total and all(s > 0 for s in sizes)
    assert sizes == sorted(sizes, reverse=True)
    assert all(s >= least for s in sizes[:-1])
    assert not sizes or sizes[0] <= max(least, -(-total // (shards.GUIDE * workers)))



@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(1, 60_000), max_size=20), st.integers(1, 16))
def test_makespan_of_costliest_first(costs, workers):
    """No earlier than an even share or the costliest item; no later than an even share
    plus (1 - 1/workers) of the costliest item (Graham's bound for list scheduling)."""
    got = shards.makespan(costs, workers)
    share, top = sum(costs) / workers, max(costs, default=0)
    assert max(share, top) <= got <= share + (1 - 1 / workers) * top + 1e-6


@pytest.mark.parametrize("sizes, workers, whole", [
    ([50_000, 50_000, 5_016], 2, True),  # one worker idle for 5% of the run
    ([50_000] * 3, 2, False),  # idle for a third: the checked pass instead
    ([50_000] * 4, 2, True), ([100] * 5, 8, False), ([10] * 5, 1, True),
])
def test_whole_tasks_only_when_they_keep_the_workers_busy(sizes, workers, whole):
    assert shards.whole_tasks_fit(sizes, workers) is whole
