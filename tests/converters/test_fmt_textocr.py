"""dataconv textocr: TextOCR JSON (train/ names, train_images/ on disk, '.' illegible)."""
from __future__ import annotations

from fmt_util import convert, labels, make_fixture


def test_fixture(tmp_path):
    truth = make_fixture("textocr", tmp_path / "src")
    card = convert("textocr", tmp_path / "src", tmp_path / "out", "--pad", "0.2")
    assert labels(tmp_path / "out") == truth["labels"]
    assert card["rejects"] == {"illegible": truth["illegible"], "unknown_image_id": 1}
