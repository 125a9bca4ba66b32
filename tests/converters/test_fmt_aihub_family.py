"""The rest of the AI Hub OCR family (Text in the wild, 야외 실제 촬영, 다양한 형태, 공공행정문서,
NIA 2021+): ``dataconv aihub --type auto`` recognises each by its key shape, every quirk
of the spec is a counted reject or a rule whose result is checked on real bytes (crops
against numpy slices of a noise page, EXIF-turned photos, clamped boxes), and the
compatibility-jamo rule holds in every format."""
from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from helpers import rejects_of, run_cli
from pages import H, W, noise_page, pixels
from fmt_util import convert, labels, make_fixture, written
from hostile_util import assert_one_line_error, write_files
from dataconv.errors import SampleRejected
from dataconv.validators.label import COMPATIBILITY_JAMO, reject_loose_jamo

FAMILY = ["aihub-tiw", "aihub-outdoor", "aihub-forms", "aihub-admin", "aihub-nia"]


def encoded(page: np.ndarray, fmt: str = "PNG", exif_orientation: int | None = None) -> bytes:
    buf = io.BytesIO()
    kw = {}
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kw["exif"] = exif.tobytes()
    Image.fromarray(page).save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("name", FAMILY)
def test_auto_recognises_each_set_and_converts_it_like_its_own_command(name, tmp_path):
    info = make_fixture(name, tmp_path / "src")
    own = convert(name, tmp_path / "src", tmp_path / "own")
    auto = convert("aihub", tmp_path / "src", tmp_path / "auto", "--type", "auto")
    assert own["counts"]["input"] == auto["counts"]["input"] == info["expected"]["input"]
    assert own["rejects"] == auto["rejects"] == info["expected"]["rejects"]
    assert sorted(labels(tmp_path / "auto").values()) == sorted(info["labels"])
    assert written(tmp_path / "own") == written(tmp_path / "auto")


def test_auto_still_reads_handwriting(tmp_path):
    info = make_fixture("aihub-htr", tmp_path / "src", n=9)
    card = convert("aihub", tmp_path / "src", tmp_path / "out", "--type", "auto")
    assert card["counts"]["input"] == info["expected"]["input"]
    assert card["rejects"] == info["expected"]["rejects"]


def test_auto_refuses_a_folder_mixing_sets_and_one_with_no_known_shape(tmp_path):
    make_fixture("aihub-outdoor", tmp_path / "mix" / "a")
    make_fixture("aihub-nia", tmp_path / "mix" / "b")
    result = run_cli("aihub", "-q", "--type", "auto", "-i", str(tmp_path / "mix"), "-o", str(tmp_path / "out"),
                     expect=None)
    assert_one_line_error(result, "several AI Hub sets", "nia:", "outdoor:")
    write_files(str(tmp_path / "other"), {"notes.json": b'{"hello": [1, 2]}', "a.png": encoded(noise_page())})
    result = run_cli("aihub", "-q", "--type", "auto", "-i", str(tmp_path / "other"), "-o", str(tmp_path / "out"),
                     expect=None)
    assert_one_line_error(result, "no AI Hub label file of a known shape", "--type")
    assert not os.path.exists(tmp_path / "out")


def tiw_source(root, boxes: list[tuple[str, list, str]], disk_name: str = "AB12.JPG") -> np.ndarray:
    page = noise_page()
    anns = [{"id": str(k), "image_id": "00000001", "text": text, "bbox": box, "attributes": {"class": kind}}
            for k, (text, box, kind) in enumerate(boxes)]
    doc = {"images": [{"id": "00000001", "file_name": "ab12.jpg", "type": "sign", "width": W, "height": H}],
           "annotations": anns}
    write_files(str(root), {"textinthewild_data_info.json": json.dumps(doc).encode(),
                            f"Singboard/{disk_name}": encoded(page)})
    return page


def test_tiw_crops_are_the_boxes_and_a_left_overshoot_is_clamped_never_abs(tmp_path):
    page = tiw_source(tmp_path / "src", [("서울", [23, 31, 64, 18], "word"),
                                         ("왼쪽", [-6, 40, 30, 20], "word"),  # spills 6 px left
                                         ("음수", [90, 31, -40, 18], "word")])  # negative width
    convert("aihub-tiw", tmp_path / "src", tmp_path / "out")
    crops = {label: pixels(data) for _, label, data in written(tmp_path / "out")}
    assert np.array_equal(crops["서울"], page[31:49, 23:87])
    assert np.array_equal(crops["왼쪽"], page[40:60, 0:24])  # clamped to x=0, not abs(-6)=6
    rows = rejects_of(str(tmp_path / "out"))
    assert [(r["reason"], "never made positive" in r["detail"]) for r in rows] == [("degenerate_box", True)]


def test_tiw_kind_character_and_a_long_character_label(tmp_path):
    tiw_source(tmp_path / "src", [("서울", [23, 31, 64, 18], "word"), ("서", [23, 31, 30, 18], "character"),
                                  ("울산", [53, 31, 30, 18], "character"), (None, [1, 1, 9, 9], "ignored")])
    card = convert("aihub-tiw", tmp_path / "src", tmp_path / "out", "--kind", "character")
    assert set(labels(tmp_path / "out").values()) == {"서"}
    assert card["rejects"] == {"broken_label": 1, "dont_care": 1, "excluded_kind": 1}


def outdoor_source(root, page: np.ndarray, box: list, orientation: int | None) -> None:
    doc = {"images": [{"id": 1, "file_name": "간판_000001.jpg"}],
           "annotations": [{"id": 1, "text": "약국", "bbox": box}], "metadata": {"wordorientation": "가로"}}
    write_files(str(root), {"[라벨]/1.간판/간판_000001.json": json.dumps(doc, ensure_ascii=False).encode(),
                            "[원천]/간판_000001.JPG": encoded(page, "PNG", orientation)})


def test_outdoor_boxes_refer_to_the_upright_photo(tmp_path):
    upright = noise_page(3)
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # EXIF 6: view = stored turned 90 clockwise
    outdoor_source(tmp_path / "src", stored, [23, 31, 64, 18], 6)
    convert("aihub-outdoor", tmp_path / "src", tmp_path / "out")
    [(_, label, data)] = written(tmp_path / "out")
    assert label == "약국" and np.array_equal(pixels(data), upright[31:49, 23:87])
    convert("aihub-outdoor", tmp_path / "src", tmp_path / "raw", "--ignore-exif")
    [(_, _, raw)] = written(tmp_path / "raw")
    assert np.array_equal(pixels(raw), stored[31:49, 23:87])


def test_nia_corners_give_the_bounding_rectangle_and_repeated_case_keys_are_refused(tmp_path):
    page = noise_page(5)
    doc = {"Images": {"identifier": "IMG_1", "type": "png"},
           "Bbox": [{"id": 1, "data": "합계", "x": [23, 23, 87, 87], "y": [31, 49, 31, 49]}]}
    write_files(str(tmp_path / "src"), {"l/IMG_1.json": json.dumps(doc).encode(), "i/IMG_1.PNG": encoded(page)})
    convert("aihub-nia", tmp_path / "src", tmp_path / "out")
    [(_, _, data)] = written(tmp_path / "out")
    assert np.array_equal(pixels(data), page[31:49, 23:87])
    doc["bbox"] = doc["Bbox"]
    write_files(str(tmp_path / "src"), {"l/IMG_1.json": json.dumps(doc).encode()})
    result = run_cli("aihub-nia", "-q", "-i", str(tmp_path / "src"), "-o", str(tmp_path / "out2"), expect=None)
    assert_one_line_error(result, "IMG_1.json", "'bbox' appear twice")


def test_forms_wordbox_is_corner_pairs(tmp_path):
    page = noise_page(7)
    doc = {"image": {"file_name": "00100000001.jpg"},
           "text": {"word": [{"value": "신청인", "wordbox": [23, 31, 87, 49]}]}}
    write_files(str(tmp_path / "src"), {"[라벨]Training_인쇄체/001/00100000001.json": json.dumps(doc).encode(),
                                        "[원천]Training_인쇄체/001/00100000001.jpg": encoded(page)})
    convert("aihub-forms", tmp_path / "src", tmp_path / "out")
    [(_, _, data)] = written(tmp_path / "out")
    assert np.array_equal(pixels(data), page[31:49, 23:87])


def test_admin_schema_violation_names_the_file_and_the_json_path(tmp_path):
    doc = {"images": [{"image.file.name": "a.jpg"}], "annotations": [{"annotation.text": 5, "annotation.bbox": []}]}
    write_files(str(tmp_path / "src"), {"a.json": json.dumps(doc).encode(), "a.jpg": encoded(noise_page())})
    result = run_cli("aihub-admin", "-q", "-i", str(tmp_path / "src"), "-o", str(tmp_path / "out"), expect=None)
    assert_one_line_error(result, "a.json", "annotations[0]", "annotation.text")


def test_compatibility_jamo_labels_are_broken_in_every_format(tmp_path):
    lines = "a.png\t국ㅇㄴ\nb.png\tㅋㅋ\nc.png\t국어\n"
    write_files(str(tmp_path / "src"), {"gt.txt": lines.encode(), "a.png": encoded(noise_page(1)),
                                        "b.png": encoded(noise_page(2)), "c.png": encoded(noise_page(3))})
    card = convert("gt-txt", tmp_path / "src", tmp_path / "out")
    assert card["rejects"] == {"broken_label": 2}
    assert list(labels(tmp_path / "out").values()) == ["국어"]
    card = convert("gt-txt", tmp_path / "src", tmp_path / "keep", "--jamo-labels", "keep")
    assert card["rejects"] == {} and card["counts"]["written"] == 3


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12))
def test_jamo_rule_is_exactly_the_compatibility_jamo_block(text):
    class Item:  # the check reads only .label
        label = text

    has_jamo = any("\u3131" <= ch <= "\u318e" for ch in text)
    try:
        reject_loose_jamo(Item())
        rejected = False
    except SampleRejected as e:
        rejected = e.reason == "broken_label"
    assert rejected == has_jamo == bool(COMPATIBILITY_JAMO.search(text))
