"""dataconv coco-text: COCO-Text v2 JSON to crops; illegible text rejected."""
from __future__ import annotations

from fmt_util import convert, labels, make_fixture


def test_fixture(tmp_path):
    truth = make_fixture("coco-text", tmp_path / "src")
    card = convert("coco-text", tmp_path / "src", tmp_path / "out")
    assert labels(tmp_path / "out") == truth["labels"]
    assert card["rejects"] == {"illegible": truth["illegible"], "unknown_image_id": 1}


def test_set_filter(tmp_path):
    make_fixture("coco-text", tmp_path / "src")
    card = convert("coco-text", tmp_path / "src", tmp_path / "out", "--set", "val")
    assert card["rejects"]["excluded_set"] > 0 and card["counts"]["written"] == 2
