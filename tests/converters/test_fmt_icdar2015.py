"""dataconv icdar2015 (detection gt to crops) on the MMOCR toy set and on the fixture."""
from __future__ import annotations

import cv2
import numpy as np

from helpers import rejects_of
from fmt_util import convert, decode, make_fixture, written
from dataconv.converters.icdar2015 import parse_box_line


def test_toy_dataset_82_boxes_21_upright_crops(realdata, tmp_path):
    root = realdata / "mmocr_toy" / "toy_dataset"
    card = convert("icdar2015", root, tmp_path / "out")
    assert card["counts"] == {"input": 82, "written": 21, "rejected": 61, "splits": {"train": 21}}
    assert card["rejects"] == {"dont_care": 61}
    samples = written(tmp_path / "out")
    assert samples[0][1] == "Genaxis Theatre"  # BOM gone
    scores = []
    for sid, label, data in samples:
        gt, lineno = sid.rsplit(":", 1)
        line = (root / gt).read_text("utf-8-sig").splitlines()[int(lineno) - 1]
        page = root / "imgs" / "test" / gt.split("gt_")[1].replace(".txt", ".jpg")
        upright, turned = _likeness(decode(data), page, [float(v) for v in line.split(",")[:8]])
        assert upright > turned, label
        scores.append(upright)
    assert np.mean(scores) > 0.8


def _likeness(crop: np.ndarray, page_path, coords: list[float]) -> tuple[float, float]:
    """Correlation of the crop with an independent affine cut of the box (first corner at
    the top-left), and with the same cut turned upside down."""
    page = cv2.imread(str(page_path))
    h, w = crop.shape[:2]
    src = np.float32([coords[0:2], coords[2:4], coords[6:8]])
    matrix = cv2.getAffineTransform(src, np.float32([[0, 0], [w, 0], [0, h]]))
    ref = cv2.warpAffine(page, matrix, (w, h)).astype(float)
    corr = lambda a, b: float(np.corrcoef(a.ravel(), b.ravel())[0, 1])  # noqa: E731
    return corr(crop.astype(float), ref), corr(crop.astype(float), ref[::-1, ::-1])


def test_fixture_bom_crlf_dont_care_and_missing_image(tmp_path):
    truth = make_fixture("icdar2015", tmp_path / "src")
    card = convert("icdar2015", tmp_path / "src", tmp_path / "out", "--pad", "0.1")
    assert sorted(lab for _, lab, _ in written(tmp_path / "out")) == sorted(truth["labels"])
    assert card["rejects"] == {"dont_care": truth["dont_care"], "missing_image": truth["missing_image"]}
    assert {r["reason"] for r in rejects_of(str(tmp_path / "out"))} == {"dont_care", "missing_image"}


def test_transcriptions_keep_their_commas():
    assert parse_box_line("1,2,3,4,5,6,7,8,100,000") == ([1, 2, 3, 4, 5, 6, 7, 8], "100,000")
    assert parse_box_line("1,2,3,4,5,6,7,text") is None
