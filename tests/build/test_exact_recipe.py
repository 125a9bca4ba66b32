"""A recipe's manifest ``sources`` and ``mixing`` worked out by hand, and ``ratio``/``cap``
tested at their boundaries.

Three gt-txt sources: ``big`` 20 samples (weight 0.6), ``mid`` 5 good samples and one
without its image (weight 0.3), ``small`` 2 samples (no weight: it gets what is left, 0.1).
How often a sample of each must be seen so that its source fills its share of a batch:
big 0.6/20 = 0.03, mid 0.3/5 = 0.06, small 0.1/2 = 0.05. So

- clovaai ``--batch_ratio 0.6-0.3-0.1`` (the shares themselves);
- PaddleOCR ``ratio_list`` (each source's fraction read per epoch, the most-needed one whole):
  0.03/0.06 = 0.5, 1.0, 0.05/0.06 = 0.8333;
- MMOCR ``RepeatDataset`` times (relative to the least-needed): 1, 2, round(1.667) = 2.
"""
from __future__ import annotations

import hashlib
import math
import re

import pytest

from helpers import assert_accounted, load_json, run_cli
from hostile_util import assert_one_line_error, png, write_files

SIZES = {"big": 20, "mid": 5, "small": 2}


def source(root, name: str, n: int, missing: int = 0) -> None:
    lines = "".join(f"{name}{i}.png\t{name} {i}\n" for i in range(n + missing))
    write_files(str(root / name), {"gt.txt": lines.encode(), **{f"{name}{i}.png": png(i) for i in range(n)}})


@pytest.fixture
def root(tmp_path):
    for name, n in SIZES.items():
        source(tmp_path, name, n, missing=1 if name == "mid" else 0)
    return tmp_path


def build(root, sources: str, per_source_folders: bool = True, expect: int = 0):
    text = (f"output: out\nsplit: none\nper_source_folders: {str(per_source_folders).lower()}\n"
            f"sources:\n{sources}")
    (root / "recipe.yaml").write_text(text, encoding="utf-8")
    result = run_cli("build", str(root / "recipe.yaml"), "-q", "--workers", "1", expect=expect)
    return result, load_json(str(root / "out" / "manifest.json"))


WEIGHTED = ("  - {name: big, format: gt-txt, input: big, weight: 0.6}\n"
            "  - {name: mid, format: gt-txt, input: mid, weight: 0.3}\n"
            "  - {name: small, format: gt-txt, input: small}\n")


def test_sources_and_mixing_by_hand(root):
    result, card = build(root, WEIGHTED)
    assert_accounted(str(root / "out"))
    assert card["sources"] == {
        "big": {"format": "gt-txt", "input": 20, "written": 20, "rejected": 0, "rejects": {}},
        "mid": {"format": "gt-txt", "input": 6, "written": 5, "rejected": 1, "rejects": {"missing_image": 1}},
        "small": {"format": "gt-txt", "input": 2, "written": 2, "rejected": 0, "rejects": {}}}
    mixing = card["mixing"]
    assert mixing["share"] == {"big": 0.6, "mid": 0.3, "small": 0.1}
    assert mixing["clovaai"] == "--train_data OUT/train --select_data big-mid-small --batch_ratio 0.6-0.3-0.1"
    assert mixing["paddleocr"] == {"data_dir": ["OUT/train/big", "OUT/train/mid", "OUT/train/small"],
                                   "ratio_list": [0.5, 1.0, 0.8333]}
    assert re.findall(r"times=(\d+), dataset=dict\(type='ConcatDataset', datasets=\[dict\(type='RecogLMDBDataset', "
                      r"ann_file='([^']+)'\)\]", mixing["mmocr"]) == [
        ("1", "OUT/train/big/shard-00000"), ("2", "OUT/train/mid/shard-00000"), ("2", "OUT/train/small/shard-00000")]
    assert ("    paddleocr: data_dir: ['OUT/train/big', 'OUT/train/mid', 'OUT/train/small']  "
            "ratio_list: [0.5, 1.0, 0.8333]") in result.stdout.splitlines()


def test_no_weights_share_by_written_samples_and_read_each_sample_once(root):
    _, card = build(root, "".join(f"  - {{name: {n}, format: gt-txt, input: {n}}}\n" for n in SIZES))
    mixing = card["mixing"]  # 20 + 5 + 2 written: every sample is needed as often
    assert mixing["share"] == {"big": round(20 / 27, 4), "mid": round(5 / 27, 4), "small": round(2 / 27, 4)}
    assert mixing["paddleocr"]["ratio_list"] == [1.0, 1.0, 1.0]
    assert re.findall(r"times=(\d+)", mixing["mmocr"]) == ["1", "1", "1"]


def test_weights_adding_to_one_leave_an_unweighted_source_no_share(root):
    write_files(str(root / "none"), {"gt.txt": b"gone.png\tgone\n"})
    _, card = build(root, "  - {name: big, format: gt-txt, input: big, weight: 0.5}\n"
                          "  - {name: mid, format: gt-txt, input: mid, weight: 0.5}\n"
                          "  - {name: none, format: gt-txt, input: none}\n"
                          "  - {name: small, format: gt-txt, input: small}\n")
    # big and mid take all of it; small gets 1 - 1 = 0 of a batch; 'none' wrote nothing
    assert card["mixing"]["share"] == {"big": 0.5, "mid": 0.5, "small": 0.0}
    assert "none" not in card["mixing"]["clovaai"]


def test_without_per_source_folders_only_the_shares(root):
    result, card = build(root, WEIGHTED, per_source_folders=False)
    assert card["mixing"] == {"share": {"big": 0.6, "mid": 0.3, "small": 0.1}, "per_source_folders": False}
    assert "(set per_source_folders: true to mix by ratio in a trainer)" in result.stdout


# --- ratio and cap at their boundaries -------------------------------------------------------

def hash_of(seed: int, key: str) -> float:
    """The spec of a ratio: a sample is kept when this is below the ratio."""
    return int.from_bytes(hashlib.sha1(f"{seed}\x00{key}".encode()).digest()[:8], "big") / 2**64


def kept_ids(root) -> list[str]:
    import pandas as pd

    return sorted(pd.read_parquet(root / "out" / "samples.parquet")["source_id"])


@pytest.mark.parametrize("inside", [True, False])
def test_ratio_just_above_and_at_a_samples_hash(root, inside):
    ids = [f"big/big{i}.png" for i in range(20)]
    u = sorted(hash_of(0, i) for i in ids)[7]  # the 8th smallest: ratio u keeps 7, just above u keeps 8
    ratio = math.nextafter(u, 1.0) if inside else u
    _, card = build(root, f"  - {{name: big, format: gt-txt, input: big, ratio: {ratio!r}}}\n")
    expected = sorted(i for i in ids if hash_of(0, i) < ratio)
    assert len(expected) == (8 if inside else 7)
    assert kept_ids(root) == expected
    assert card["sources"]["big"]["rejects"] == {"sampled_out": 20 - len(expected)}


@pytest.mark.parametrize("cap,rejects", [(5, {"sampled_out": 1}), (4, {"sampled_out": 2}),
                                         (6, {"missing_image": 1}), (7, {"missing_image": 1}), (1, {"sampled_out": 5})])
def test_cap_at_the_count_of_the_formats_samples(root, cap, rejects):
    """mid's gt.txt names 6 images, the last of them missing: the cap counts what the format
    yields, in input order, before the image is looked for."""
    _, card = build(root, f"  - {{name: mid, format: gt-txt, input: mid, cap: {cap}}}\n")
    written = min(cap, 5)
    assert card["sources"]["mid"] == {"format": "gt-txt", "input": 6, "written": written, "rejected": 6 - written,
                                      "rejects": rejects}
    assert kept_ids(root) == sorted(f"mid/mid{i}.png" for i in range(written))  # the first, in input order


def test_cap_zero_and_ratio_zero_or_over_one_are_refused(root):
    for bad in ("cap: 0", "ratio: 0", "ratio: 1.0000001", "weight: -0.1"):
        (root / "recipe.yaml").write_text(f"output: out\nsplit: none\nsources:\n"
                                          f"  - {{name: mid, format: gt-txt, input: mid, {bad}}}\n", "utf-8")
        result = run_cli("build", str(root / "recipe.yaml"), "-q", expect=None)
        assert_one_line_error(result, "recipe.yaml", "sources[0]")
        assert not (root / "out").exists()


@pytest.mark.parametrize("given", ["a file beside the recipe", "the characters"])
def test_a_charset_file_is_found_beside_the_recipe_or_taken_as_characters(given, root, monkeypatch, tmp_path_factory):
    """``options: {charset_file: ...}`` names a file relative to the recipe's folder, run from
    anywhere, or, when no such file is there, the characters themselves (as ``--charset``)."""
    (root / "chars.txt").write_text("big 0123456789\n", encoding="utf-8")
    charset = "chars.txt" if given.startswith("a file") else "big 0123456789"
    (root / "recipe.yaml").write_text(
        f"output: out\nsplit: none\noptions: {{charset_file: '{charset}'}}\nsources:\n"
        "  - {name: big, format: gt-txt, input: big}\n  - {name: mid, format: gt-txt, input: mid}\n", "utf-8")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    run_cli("build", str(root / "recipe.yaml"), "-q", "--workers", "1")
    sources = load_json(str(root / "out" / "manifest.json"))["sources"]
    assert sources["big"]["written"] == 20  # 'big 0'..'big 19': every character listed
    assert sources["mid"]["rejects"] == {"missing_image": 1, "out_of_charset": 5}  # 'm' and 'd' are not
