"""dataconv paddle-det: PaddleOCR detection labels to crops; absent images are rejects."""
from __future__ import annotations

from fmt_util import convert, decode, make_fixture, written


def test_icdar2015_subset_1287_boxes_839_ignored(realdata, tmp_path):
    root = realdata / "icdar2015_det_paddleocr"
    card = convert("paddle-det", root, tmp_path / "out", "--labels", root / "test_icdar2015_label.subset100.txt")
    assert card["counts"]["input"] == 1287 and card["counts"]["written"] == 448
    assert card["rejects"] == {"dont_care": 839}
    assert all(decode(data).size for _, _, data in written(tmp_path / "out"))


def test_full_list_names_absent_images_each_a_reject(realdata, tmp_path):
    """The full list names 500 images, 400 of them absent: each of their 1,629 readable boxes
    is a missing_image reject, and every ``###`` box (3,153 over all 500 pages) a dont_care,
    absent image or not (figures counted from the list with json and os.path.exists)."""
    root = realdata / "icdar2015_det_paddleocr"
    card = convert("paddle-det", root, tmp_path / "out", "--labels", root / "test_icdar2015_label.full.txt")
    assert card["counts"] == {"input": 5230, "written": 448, "rejected": 4782, "splits": {"train": 448}}
    assert card["rejects"] == {"missing_image": 1629, "dont_care": 3153}


def test_fixture_star_hash_and_polygon(tmp_path):
    truth = make_fixture("paddle-det", tmp_path / "src")
    card = convert("paddle-det", tmp_path / "src", tmp_path / "out", "--labels", tmp_path / "src" / "label.txt")
    assert sorted(lab for _, lab, _ in written(tmp_path / "out")) == sorted(truth["labels"])
    assert card["rejects"] == {"dont_care": truth["dont_care"], "missing_image": 1}
