"""Conversion-time filters (shared by every converter) and leakage-free splits."""
from __future__ import annotations

import json
import os
import shutil
from collections import Counter, defaultdict

import pandas as pd
import pytest

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
