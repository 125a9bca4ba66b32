"""dataconv paddle-rec: PaddleOCR recognition labels (the gt-txt parser under its own name)."""
from __future__ import annotations

from fmt_util import convert, labels, make_fixture, written


def test_fixture(tmp_path):
    truth = make_fixture("paddle-rec", tmp_path / "src")
    convert("paddle-rec", tmp_path / "src", tmp_path / "out", "--labels", tmp_path / "src" / "rec_gt_train.txt")
    assert labels(tmp_path / "out") == truth["labels"]


def test_real_styletext_list(realdata, tmp_path):
    """PaddleOCR StyleText's own example list: a Chinese label beside an English one; the
    images go in byte for byte and the charset is exactly the labels' characters."""
    root = realdata / "paddleocr_doc_words" / "StyleText" / "examples"
    card = convert("paddle-rec", root, tmp_path / "out", "--labels", root / "image_list.txt")
    assert card["counts"] == {"input": 2, "written": 2, "rejected": 0, "splits": {"train": 2}}
    got = {sid: (label, data) for sid, label, data in written(tmp_path / "out")}
    assert {sid: label for sid, (label, _) in got.items()} == {
        "style_images/1.jpg": "NEATNESS", "style_images/2.jpg": "锁店君和宾馆"}
    assert all(data == (root / sid).read_bytes() for sid, (_, data) in got.items())
    assert card["charset"] == "".join(sorted(set("NEATNESS锁店君和宾馆")))


def test_real_icdar2015_rec_list(realdata, tmp_path):
    root = realdata / "icdar2015_words"
    card = convert("paddle-rec", root, tmp_path / "out", "--labels", root / "ic15_data" / "rec_gt_train.txt")
    assert card["counts"]["written"] == 4468
    assert labels(tmp_path / "out")["train/word_1.png"] == "GenaxisTheatre"
