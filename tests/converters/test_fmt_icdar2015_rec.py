"""dataconv icdar2015-rec: ICDAR word gt (`word_1.png, "label"`), labels exactly as written."""
from __future__ import annotations

import csv

from fmt_util import convert, labels, make_fixture


def test_real_gt_4468_labels_quotes_and_escapes_resolved(realdata, tmp_path):
    root = realdata / "icdar2015_words" / "train"
    card = convert("icdar2015-rec", root, tmp_path / "out", "--normalize", "none")
    assert card["counts"]["input"] == card["counts"]["written"] == 4468
    with open(root / "gt.txt", encoding="utf-8-sig", newline="") as f:
        expected = {row[0]: row[1] for row in csv.reader(f, skipinitialspace=True, escapechar="\\")}
    got = labels(tmp_path / "out")
    assert got == expected
    assert got["word_1013.png"] == 'READER"' and got["word_1018.png"] == '"SCAN"'
    assert got["word_159.png"] == "100,000" and got["word_1409.png"] == "CAFÉ"


def test_fixture(tmp_path):
    truth = make_fixture("icdar2015-rec", tmp_path / "src")
    convert("icdar2015-rec", tmp_path / "src", tmp_path / "out")
    assert labels(tmp_path / "out") == truth["labels"]
