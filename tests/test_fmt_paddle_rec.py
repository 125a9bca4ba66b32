"""dataconv paddle-rec: PaddleOCR recognition labels (the gt-txt parser under its own name)."""
from __future__ import annotations

from fmt_util import convert, labels, make_fixture


def test_fixture(tmp_path):
    truth = make_fixture("paddle-rec", tmp_path / "src")
    convert("paddle-rec", tmp_path / "src", tmp_path / "out", "--labels", tmp_path / "src" / "rec_gt_train.txt")
    assert labels(tmp_path / "out") == truth["labels"]


def test_real_styletext_list(realdata, tmp_path):
    root = realdata / "icdar2015_words"
    card = convert("paddle-rec", root, tmp_path / "out", "--labels", root / "ic15_data" / "rec_gt_train.txt")
    assert card["counts"]["written"] == 4468
    assert labels(tmp_path / "out")["train/word_1.png"] == "GenaxisTheatre"
