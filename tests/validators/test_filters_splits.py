"""Conversion-time filters (shared by every converter) and leakage-free splits."""
from __future__ import annotations

import json
import os
import shutil
import re
from collections import Counter, defaultdict

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import load_json, run_cli
from dataconv.fixtures.aihub import make_aihub
from dataconv.sample import BytesImage, Sample
from dataconv.build import splits as splitter


@pytest.fixture(scope="module")
def aihub(tmp_path_factory):
    src = tmp_path_factory.mktemp("aihub")
    truth = make_aihub(str(src), n=45, faults=False)
    return str(src), truth


def rejects(out: str) -> list[dict]:
    with open(os.path.join(out, "rejects.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def convert(src: str, out: str, *extra: str) -> dict:
    run_cli("aihub", "-i", src, "-o", out, "-q", "--workers", "1", *extra)
    card = load_json(os.path.join(out, "manifest.json"))
    assert card["counts"]["input"] == card["counts"]["written"] + card["counts"]["rejected"]
    return card


@pytest.mark.parametrize("args,reason,expected", [
    (("--min-height", "100"), "too_small", lambda t: [k for k, v in t.items() if _size(v)[1] < 100]),
    (("--max-aspect", "4"), "aspect_ratio", lambda t: [k for k, v in t.items() if _size(v)[0] > 4 * _size(v)[1]]),
    (("--max-label-length", "3"), "label_too_long", lambda t: [k for k, v in t.items() if len(v["label"]) > 3]),
    (("--charset", "가을하늘바다사랑학교 "), "out_of_charset",
     lambda t: [k for k, v in t.items() if set(v["label"]) - set("가을하늘바다사랑학교 ")]),
])
def test_each_filter_rejects_with_its_reason(aihub, tmp_path, args, reason, expected):
    src, truth = aihub
    card = convert(src, str(tmp_path / "out"), *args)
    want = sorted(expected(truth["good"]))
    assert want, "the fixture must exercise the filter"
    got = sorted(r["id"] for r in rejects(str(tmp_path / "out")) if r["reason"] == reason)
    assert got == want
    assert card["rejects"].get(reason) == len(want)


def _size(entry: dict) -> tuple[int, int]:
    from PIL import Image
    import io

    return Image.open(io.BytesIO(entry["bytes"])).size


def test_charset_policy_keep_writes_everything(aihub, tmp_path):
    src, truth = aihub
    card = convert(src, str(tmp_path / "out"), "--charset", "가", "--charset-policy", "keep")
    assert card["counts"]["written"] == len(truth["good"])


def test_dedupe_keeps_the_first_copy_and_copies_never_straddle(aihub, tmp_path):
    src = str(tmp_path / "src")
    shutil.copytree(aihub[0], src)
    truth = aihub[1]["good"]
    ids = sorted(truth)
    first = os.path.join(src, truth[ids[0]]["path"])
    for other in ids[1:6]:
        shutil.copyfile(first, os.path.join(src, truth[other]["path"]))
    card = convert(src, str(tmp_path / "d"), "--dedupe")
    dups = [r for r in rejects(str(tmp_path / "d")) if r["reason"] == "duplicate_image"]
    assert sorted(r["id"] for r in dups) == ids[1:6]
    assert all("annotations[0]" in r["detail"] for r in dups) and card["rejects"]["duplicate_image"] == 5
    convert(src, str(tmp_path / "n"), "--split", "0.34,0.33,0.33")
    frame = pd.read_parquet(str(tmp_path / "n" / "samples.parquet"))
    assert frame[frame.source_id.isin(ids[:6])].split.nunique() == 1


@pytest.mark.parametrize("key", ["meta:gender", "meta:age", "label"])
def test_group_by_keeps_a_group_in_one_split(aihub, tmp_path, key):
    src, _ = aihub
    out = str(tmp_path / "out")
    card = convert(src, out, "--group-by", key, "--split", "0.5,0.25,0.25")
    assert card["options"]["group_by"] == key
    doc = load_json(os.path.join(src, "handwriting_data_info1.json"))
    attrs = {a["id"]: {**a["attributes"], "label": a["text"]} for a in doc["annotations"]}
    frame = pd.read_parquet(os.path.join(out, "samples.parquet"))
    splits_of = defaultdict(set)
    for sid, split in zip(frame.source_id, frame.split):
        splits_of[attrs[sid][key.split(":")[-1]]].add(split)
    assert all(len(s) == 1 for s in splits_of.values())
    if key != "meta:gender":
        assert frame.split.nunique() > 1


def _lines(n_books: int, pages: int, lines: int) -> list[tuple[int, Sample]]:
    out = []
    for b in range(n_books):
        for p in range(pages):
            for ln in range(lines):
                sid = f"book{b:04d}_p{p:03d}_l{ln:02d}"
                out.append((len(out), Sample(sid, "x", BytesImage(sid.encode()), sid)))
    return out


def test_group_regex_never_straddles_and_ratios_hold_at_10k():
    samples = _lines(100, 10, 10)  # 10,000 line crops of 100 books
    got = splitter.assign_splits(samples, (0.9, 0.05, 0.05), 0, None, r"^(book\d+)_")
    books = defaultdict(set)
    for seq, sample in samples:
        books[sample.id.split("_")[0]].add(got[seq])
    assert len(books) == 100 and all(len(s) == 1 for s in books.values())
    singles = splitter.assign_splits(samples, (0.9, 0.05, 0.05), 0)
    counts = Counter(singles.values())
    for split, ratio in zip(splitter.SPLITS, (0.9, 0.05, 0.05)):
        assert abs(counts[split] / 10_000 - ratio) <= 0.01, counts
    assert splitter.assign_splits(samples, (0.9, 0.05, 0.05), 0, "id") == singles


def test_identical_images_merge_their_groups():
    samples = _lines(40, 1, 5)
    digests = {seq: f"d{seq}" for seq, _ in samples}
    for seq in range(0, 200, 5):  # the first line of every book is the same image
        digests[seq] = "same"
    got = splitter.assign_splits(samples, (0.34, 0.33, 0.33), 0, None, r"^(book\d+)_", digests)
    assert len(set(got.values())) == 1
    apart = splitter.assign_splits(samples, (0.34, 0.33, 0.33), 0, None, r"^(book\d+)_")
    assert len(set(apart.values())) == 3


def test_bad_group_regex_is_a_one_line_error(aihub, tmp_path):
    result = run_cli("aihub", "-i", aihub[0], "-o", str(tmp_path / "o"), "-q", "--group-regex", "(", expect=1)
    assert "--group-regex" in result.stderr


GROUPS = st.sampled_from([None, "", "g1", "g2", "page-7"])
IDS = st.sampled_from(["book1_a", "book1_b", "book2_a", "book3_c", "x", "book2_zz", "\ud55c_1", "lone\udc80"])


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(IDS, GROUPS, st.sampled_from(["", "m1", "m2"]), st.integers(0, 4)),
                     min_size=1, max_size=25, unique_by=lambda row: row[0]),
       options=st.sampled_from([(None, None), ("group", None), (None, r"^(book\d+)_"), ("meta:m", None),
                                ("label", None), ("source", r"(\d)")]),
       ratios=st.sampled_from([(0.9, 0.05, 0.05), (0.34, 0.33, 0.33), (0.0, 0.5, 0.5), (1.0, 0.0, 0.0)]),
       seed=st.integers(0, 3), shared=st.integers(0, 4))
def test_splits_from_the_workers_group_hashes_are_the_driver_splits(rows, options, ratios, seed, shared):
    """``assign_hashed`` (group hashes computed where each sample is checked, only the
    samples sharing an image built again) gives ``assign_splits``'s split for every
    sample, groups merged through shared images included, or the same usage error."""
    import numpy as np

    from dataconv.build.sample_index import SampleIndex
    from dataconv.errors import UsageError

    samples = SampleIndex.of((seq * 3, Sample(sid, f"label{digest}", BytesImage(b"x"), f"gt.txt:{seq}", group,
                                               {"m": meta} if meta else {}))
                             for seq, (sid, group, meta, digest) in enumerate(rows))
    # images shared between samples: those whose digest number is below ``shared``
    digests = {seq * 3: f"d{digest}" for seq, (_, _, _, digest) in enumerate(rows) if digest < shared}
    digests = {seq: d for seq, d in digests.items() if list(digests.values()).count(d) > 1}
    grouping = splitter.Grouping(seed, *options)
    try:
        want = splitter.assign_splits(samples, ratios, seed, *options, digests)
    except UsageError as e:
        with pytest.raises(UsageError, match=re.escape(str(e))):
            splitter.assign_hashed(samples, ratios, grouping, digests, np.zeros((len(samples), 24), np.uint8))
        return
    hashes = np.frombuffer(b"".join(grouping.hashes(s) for _, s in samples), np.uint8).reshape(-1, splitter.GROUP_HASH)
    got = splitter.assign_hashed(samples, ratios, grouping, digests, hashes)
    assert [splitter.SPLITS[n] for n in got] == [want[seq] for seq in samples.seqs]


def test_a_merged_group_takes_exactly_its_roots_hash():
    """Ratios cut exactly at the root key's hash: a sample merged into the group of "a"
    lands where "a" does (u == the cut: not below it), to the last bit."""
    import numpy as np

    from dataconv.build.sample_index import SampleIndex

    samples = SampleIndex.of([(0, Sample("a", "x", BytesImage(b"1"), "s:1")),
                              (1, Sample("b", "x", BytesImage(b"1"), "s:2")),
                              (2, Sample("c", "x", BytesImage(b"2"), "s:3"))])
    cut = splitter.unit_hash(0, "a")
    ratios = (cut, 1.0 - cut, 0.0)
    grouping = splitter.Grouping(0)
    hashes = np.frombuffer(b"".join(grouping.hashes(s) for _, s in samples), np.uint8).reshape(-1, 24)
    got = splitter.assign_hashed(samples, ratios, grouping, {0: "d", 1: "d"}, hashes)
    assert got[:2].tolist() == [1, 1]
    assert splitter.assign_splits(samples, ratios, 0, digests={0: "d", 1: "d"})[1] == "val"
