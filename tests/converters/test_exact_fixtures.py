"""Every fixture generator states what a conversion must report (``expected``: the input
count and the rejects per reason), from what it wrote and not from the converter. A
converter that silently skips a line, a box or a record, or invents one, changes
``counts.input`` and fails here even when its own accounting still adds up."""
from __future__ import annotations

import os
import random
import unicodedata
from collections import Counter

import pytest

from helpers import assert_accounted, clovaai_tree, load_json, run_cli
from dataconv.fixtures.base import fixtures
from dataconv.fixtures.hostile import make_hostile_images

# fixture name -> (dataconv command, extra options, generator keywords)
RUNS: dict[str, tuple[str, tuple[str, ...], dict]] = {
    "aihub-htr": ("aihub", (), {"n": 30}),
    "aihub-tiw": ("aihub-tiw", (), {}),
    "aihub-outdoor": ("aihub-outdoor", (), {}),
    "aihub-forms": ("aihub-forms", (), {}),
    "aihub-admin": ("aihub-admin", (), {}),
    "aihub-nia": ("aihub-nia", (), {}),
    "labelme": ("labelme", (), {}),
    "label-studio": ("label-studio", ("--export", "export.json"), {}),
    "coco-text": ("coco-text", (), {}),
    "textocr": ("textocr", (), {}),
    "icdar2015": ("icdar2015", (), {}),
    "icdar2015-rec": ("icdar2015-rec", (), {}),
    "paddle-det": ("paddle-det", ("--labels", "label.txt"), {}),
    "paddle-rec": ("paddle-rec", ("--labels", "rec_gt_train.txt"), {}),
    "minhon": ("minhon", (), {}),
    "mjsynth": ("mjsynth", (), {}),
    "lmdb": ("lmdb", (), {}),
    "ndl-layout": ("ndl-layout", (), {}),
    "ocr-mix": ("gt-txt", (), {"n": 20, "lines": 2, "corrupt": 3}),
    "rendered-digits": ("gt-txt", (), {"n": 25}),
}


def convert(command: str, src: str, out: str, *extra: str) -> dict:
    args = list(extra)
    for flag in ("--labels", "--export"):  # the label file sits in the source
        if flag in args:
            k = args.index(flag) + 1
            args[k] = os.path.join(src, args[k])
    run_cli(command, "-i", src, "-o", out, "-q", "--workers", "1", "--split", "none", *args)
    return load_json(os.path.join(out, "manifest.json"))


def truth_labels(info: dict) -> list[str] | None:
    """The labels the fixture says must be written, where it says so."""
    if "labels" in info and isinstance(info["labels"], dict) and info.get("labels") and \
            all(isinstance(v, str) for v in info["labels"].values()):
        return list(info["labels"].values())
    if "labels" in info and isinstance(info["labels"], list):
        return info["labels"]
    if "good" in info:
        return [g["label"] if isinstance(g, dict) else g for g in info["good"].values()]
    return None


def test_every_fixture_is_covered() -> None:
    assert set(RUNS) | {"hostile-images"} == set(fixtures())


@pytest.mark.parametrize("name", sorted(RUNS))
def test_fixture_counts_are_exact(name: str, tmp_path) -> None:
    command, extra, kw = RUNS[name]
    generate = fixtures()[name][0]
    info = generate(str(tmp_path / "src"), **kw)
    want = info["expected"]
    card = convert(command, str(tmp_path / "src"), str(tmp_path / "out"), *extra)
    assert card["counts"]["input"] == want["input"]
    assert card["rejects"] == want["rejects"]
    assert card["counts"]["written"] == want["input"] - sum(want["rejects"].values())
    if command != "ndl-layout":
        assert_accounted(str(tmp_path / "out"))
        labels = truth_labels(info)
        if labels is not None:
            written = [label for shard in clovaai_tree(str(tmp_path / "out")).values() for label, _ in shard]
            assert Counter(written) == Counter(unicodedata.normalize("NFC", t) for t in labels)


def test_lmdb_fixture_labels_per_part(tmp_path) -> None:
    """The lmdb fixture states its good labels per source LMDB: all of them are written."""
    info = fixtures()["lmdb"][0](str(tmp_path / "src"))
    convert("lmdb", str(tmp_path / "src"), str(tmp_path / "out"))
    written = [label for shard in clovaai_tree(str(tmp_path / "out")).values() for label, _ in shard]
    assert Counter(written) == Counter(info["labels"]["train"] + info["labels"]["val"])


def test_minhon_fixture_labels(tmp_path) -> None:
    info = fixtures()["minhon"][0](str(tmp_path / "src"))
    convert("minhon", str(tmp_path / "src"), str(tmp_path / "out"))
    written = [label for shard in clovaai_tree(str(tmp_path / "out")).values() for label, _ in shard]
    want = [v["label"] for v in info["lines"].values()] + info["page_lines"]
    assert Counter(written) == Counter(want)


def test_hostile_images_reasons_are_exact(tmp_path) -> None:
    """Each hostile case states its own outcome; the run reports exactly those."""
    cases = make_hostile_images(str(tmp_path / "src"), seed=3)
    card = convert("gt-txt", str(tmp_path / "src"), str(tmp_path / "out"))
    want = Counter(c.reason for c in cases.values() if c.reason)
    assert card["counts"]["input"] == len(cases)
    assert card["rejects"] == dict(want)
    written = sorted(label for shard in clovaai_tree(str(tmp_path / "out")).values() for label, _ in shard)
    assert written == sorted(name for name, c in cases.items() if c.reason is None)


def test_expected_is_stated_without_a_converter() -> None:
    """``expected`` is plain data made by the generator: the same for the same seed, and it
    changes with ``n`` the way the generator's layout says (no converter involved)."""
    import tempfile

    gen = fixtures()["icdar2015"][0]
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        small, big = gen(a, n=2, seed=random.Random(1).randint(0, 9)), gen(b, n=5)
    assert small["expected"]["input"] == 4 * 2 + 1 and big["expected"]["input"] == 4 * 5 + 1
