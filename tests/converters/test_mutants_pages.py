"""Mutation run of the page-format converters (converters/pagejson.py and the formats built
on it, icdar2015, coco_text, textocr, labelme, label_studio, minhon, ndl_layout,
paddle_det): each test converts small real files and reads back what a user sees: the
crops (numpy slices of a noise page), the labels, the reject reasons and their details."""
from __future__ import annotations

import json

import os

import numpy as np
import pandas as pd

from helpers import array_png, rejects_of, run_cli
from pages import noise_page, png, pixels
from fmt_util import convert, written
from hostile_util import write_files


def crops_by_label(out) -> dict[str, np.ndarray]:
    return {label: pixels(data) for _, label, data in written(out)}


def reject_rows(out) -> list[tuple[str, str]]:
    return [(r["reason"], r["detail"]) for r in rejects_of(str(out))]


def reject_places(out) -> list[tuple[str, str, str]]:
    """(reason, source, id) of every reject."""
    return [(r["reason"], r["source"], r["id"]) for r in rejects_of(str(out))]


def sample_places(out) -> list[tuple[str, str, str]]:
    """(id, source, label) of every written sample, from samples.parquet."""
    table = pd.read_parquet(os.path.join(out, "samples.parquet"))
    return sorted(zip(table.source_id, table.source, table.label))


# --- pagejson: pairing, boxes, illegible marker (through aihub-outdoor/forms/nia) ---------

def outdoor(file_name: str, anns: list[dict], vertical: str | None = None) -> bytes:
    doc = {"images": [{"id": 1, "file_name": file_name}], "annotations": anns}
    if vertical is not None:
        doc["metadata"] = {"wordorientation": vertical}
    return json.dumps(doc, ensure_ascii=False).encode()


def test_a_windows_file_name_pairs_by_its_stem(tmp_path):
    page = noise_page(11)
    write_files(str(tmp_path / "src"), {
        "l/a.json": outdoor("C:\\photos\\간판_1.jpg", [{"id": 1, "text": "약국", "bbox": [23, 31, 64, 18]}]),
        "i/간판_1.JPG": png(page),
        "l/b.json": outdoor("없음.png", [{"id": 1, "text": "약", "bbox": [1, 1, 9, 9]}])})
    convert("aihub-outdoor", tmp_path / "src", tmp_path / "out")
    assert np.array_equal(crops_by_label(tmp_path / "out")["약국"], page[31:49, 23:87])
    assert reject_rows(tmp_path / "out") == [
        ("missing_image", "no image with the stem of '없음.png' under the source folder")]


def test_a_stem_found_twice_takes_the_exact_name_else_is_ambiguous(tmp_path):
    first, second = noise_page(12), noise_page(13)
    box = [{"id": 1, "text": "가", "bbox": [23, 31, 64, 18]}]
    write_files(str(tmp_path / "src"), {
        "l/a.json": outdoor("p.png", box), "l/b.json": outdoor("p.jpg", [{**box[0], "text": "나"}]),
        "a/p.jpg": png(first), "b/p.png": png(second),
        "l/c.json": outdoor("q.png", [{**box[0], "text": "다"}]),
        **{f"{d}/q.{ext}": png(first) for d, ext in (("c", "png"), ("d", "png"), ("e", "jpg"), ("f", "jpeg"))}})
    card = convert("aihub-outdoor", tmp_path / "src", tmp_path / "out")
    crops = crops_by_label(tmp_path / "out")
    assert np.array_equal(crops["가"], second[31:49, 23:87]) and np.array_equal(crops["나"], first[31:49, 23:87])
    assert card["rejects"] == {"ambiguous_image": 1}
    assert reject_rows(tmp_path / "out") == [("ambiguous_image", "'q.png' pairs with c/q.png, d/q.png, e/q.jpg")]


def test_box_numbers_and_sizes_are_refused_with_their_detail(tmp_path):
    page = noise_page(14)
    long = list(range(100, 140))
    anns = [{"id": 1, "text": "하나", "bbox": [23, 31, 1, 18]},  # one pixel wide: a crop
            {"id": 2, "text": "둘", "bbox": [23, 31, 64, 1]},  # one pixel high: a crop
            {"id": 3, "text": "셋", "bbox": [23, 31, 0, 18]},
            {"id": 4, "text": "넷", "bbox": [23, 31, 64, 0]},
            {"id": 5, "text": "다섯", "bbox": long},
            {"id": 6, "text": "여섯", "bbox": [23, 31, 64, True]},
            {"id": 7, "text": "일곱", "bbox": [23, 31, 64, "n" * 90]}]
    write_files(str(tmp_path / "src"), {"a.json": outdoor("a.png", anns), "a.png": png(page)})
    convert("aihub-outdoor", tmp_path / "src", tmp_path / "out")
    crops = crops_by_label(tmp_path / "out")
    assert np.array_equal(crops["하나"], page[31:49, 23:24]) and np.array_equal(crops["둘"], page[31:32, 23:87])
    never = "a zero or negative size is rejected, never made positive"
    assert reject_rows(tmp_path / "out") == [
        ("degenerate_box", f"bbox: width 0, height 18: {never}"),
        ("degenerate_box", f"bbox: width 64, height 0: {never}"),
        ("degenerate_box", f"bbox {str(long)[:80]}: not 4 numbers"),
        ("degenerate_box", "bbox [23, 31, 64, True]: not a number: True"),
        ("degenerate_box", f"bbox {str([23, 31, 64, 'n' * 90])[:80]}: not a number: {'n' * 90!r:.40}")]


def test_forms_swapped_corners_are_refused_never_reordered(tmp_path):
    page = noise_page(15)
    words = [{"value": "좋음", "wordbox": [23, 31, 87, 49]}, {"value": "좌우", "wordbox": [87, 31, 23, 49]},
             {"value": "상하", "wordbox": [23, 49, 87, 31]}]
    doc = {"image": {"file_name": "f.png"}, "text": {"word": words}}
    write_files(str(tmp_path / "src"), {"f.json": json.dumps(doc).encode(), "f.png": png(page)})
    convert("aihub-forms", tmp_path / "src", tmp_path / "out")
    assert list(crops_by_label(tmp_path / "out")) == ["좋음"]
    never = "a zero or negative size is rejected, never made positive"
    assert reject_rows(tmp_path / "out") == [
        ("degenerate_box", f"word[1].wordbox: width -64, height 18: {never}"),
        ("degenerate_box", f"word[2].wordbox: width 64, height -18: {never}")]


def test_nia_flat_corners_and_bad_lists_name_the_axis(tmp_path):
    page = noise_page(16)
    boxes = [{"id": 1, "data": "좋음", "x": [23, 23, 87, 87], "y": [31, 49, 31, 49]},
             {"id": 2, "data": "세로선", "x": [23, 23, 23, 23], "y": [31, 49, 31, 49]},
             {"id": 3, "data": "가로선", "x": [23, 23, 87, 87], "y": [31, 31, 31, 31]},
             {"id": 4, "data": "엑스", "x": [23, 87], "y": [31, 49, 31, 49]},
             {"id": 5, "data": "와이", "x": [23, 23, 87, 87], "y": [31, 49]}]
    doc = {"Images": {"identifier": "N", "type": "png"}, "bbox": boxes}
    write_files(str(tmp_path / "src"), {"N.json": json.dumps(doc).encode(), "N.png": png(page)})
    convert("aihub-nia", tmp_path / "src", tmp_path / "out")
    assert np.array_equal(crops_by_label(tmp_path / "out")["좋음"], page[31:49, 23:87])
    never = "a zero or negative size is rejected, never made positive"
    assert reject_rows(tmp_path / "out") == [
        ("degenerate_box", f"bbox[1]: width 0, height 18: {never}"),
        ("degenerate_box", f"bbox[2]: width 64, height 0: {never}"),
        ("degenerate_box", "bbox[3].x [23, 87]: not 4 numbers"),
        ("degenerate_box", "bbox[4].y [31, 49]: not 4 numbers")]


def test_per_image_regions_ids_null_text_and_clamping(tmp_path):
    page = noise_page(17)
    anns = [{"id": 1, "text": "왼쪽", "bbox": [-6, 40, 30, 20]},  # spills 6 px left: clamped
            {"id": 2, "text": None, "bbox": [23, 31, 64, 18]}]
    write_files(str(tmp_path / "src"), {"d/a.json": outdoor("a.png", anns), "a.png": png(page)})
    convert("aihub-outdoor", tmp_path / "src", tmp_path / "out")
    assert np.array_equal(crops_by_label(tmp_path / "out")["왼쪽"], page[40:60, 0:24])
    assert sample_places(tmp_path / "out") == [("d/a#1", "d/a.json:1", "왼쪽")]
    assert reject_places(tmp_path / "out") == [("dont_care", "d/a.json:2", "d/a#2")]
    assert reject_rows(tmp_path / "out") == [("dont_care", "text None")]


def test_forms_crop_the_stored_pixels_and_leave_orientation_to_the_shape(tmp_path):
    """A format that does not say otherwise crops the pixels as stored (no EXIF turn) and
    lets --rotate-vertical judge each crop by its shape."""
    stored = noise_page(18)
    doc = {"image": {"file_name": "f.png"}, "text": {"word": [{"value": "세로", "wordbox": [23, 10, 41, 100]}]}}
    write_files(str(tmp_path / "src"), {"f.json": json.dumps(doc).encode(), "f.png": array_png(stored, 6)})
    convert("aihub-forms", tmp_path / "src", tmp_path / "out", "--rotate-vertical")
    assert np.array_equal(crops_by_label(tmp_path / "out")["세로"], np.rot90(stored[10:100, 23:41], 1))


# --- minhon: line pairs and page JSON --------------------------------------------------

MiB = 1 << 20


def test_minhon_line_labels_bom_newlines_size_limit_and_infixes(tmp_path):
    files = {"a.png": png(noise_page(20, 40, 16)), "a.gt.txt": "\ufeffTAX\r\n".encode(),
             "b.nrm.png": png(noise_page(21, 40, 16)), "b.gt.txt": b"nrm",
             "c.bin.png": png(noise_page(22, 40, 16)), "c.txt": b"bin\n",
             "full.png": png(noise_page(23, 40, 16)), "full.txt": b"f" * MiB,
             "over.png": png(noise_page(24, 40, 16)), "over.txt": b"o" * (MiB + 1)}
    write_files(str(tmp_path / "src"), files)
    card = convert("minhon", tmp_path / "src", tmp_path / "out")
    assert sorted((key, label) for key, label, _ in written(tmp_path / "out")) == \
        [("a", "TAX"), ("b", "nrm"), ("c", "bin"), ("full", "f" * MiB)]
    assert card["rejects"] == {"label_too_big": 1}
    assert reject_rows(tmp_path / "out") == [("label_too_big", f"over.txt is over {MiB} bytes: not a line label")]


def minhon_line(box, text, **flags) -> dict:
    return {"boundingBox": box, "text": text, **flags}


def quad(x0, y0, x1, y1) -> list:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def test_minhon_page_json_layouts_and_string_flags(tmp_path):
    page = noise_page(25)
    lines = [minhon_line(quad(10, 10, 70, 30), "넓음", isVertical="True"),  # wide, said vertical: turned
             minhon_line(quad(80, 10, 100, 100), "높음", isVertical="False"),  # tall, said horizontal: kept
             minhon_line(quad(10, 40, 70, 60), "글줄", isTextline="True"),
             minhon_line(quad(10, 70, 70, 90), "그림", isTextline="False"),
             minhon_line(quad(90, 105, 150, 115)[2:] + quad(90, 105, 150, 115)[:2], "거꾸로")]  # from bottom-right
    write_files(str(tmp_path / "src"), {
        "p.png": png(page), "p.json": json.dumps({"contents": [lines[:2], lines[2:]]}).encode(),
        "q.png": png(page), "q.json": json.dumps([lines[:1], lines[1:3]]).encode()})
    card = convert("minhon", tmp_path / "src", tmp_path / "out", "--rotate-vertical")
    assert card["rejects"] == {"not_textline": 1}
    got = {key: pixels(data) for key, _, data in written(tmp_path / "out")}
    assert sorted(got) == ["p#0", "p#1", "p#2", "p#4", "q#0", "q#1", "q#2"]
    assert np.array_equal(got["p#4"], page[105:115, 90:150])  # corners in geometric order, not as listed
    for k in "pq":
        assert np.array_equal(got[f"{k}#0"], np.rot90(page[10:30, 10:70], 1))
        assert np.array_equal(got[f"{k}#1"], page[10:100, 80:100])
        assert np.array_equal(got[f"{k}#2"], page[40:60, 10:70])


def test_minhon_a_line_a_little_taller_than_wide_is_vertical(tmp_path):
    line = noise_page(26, 20, 30)
    write_files(str(tmp_path / "src"), {"v.png": png(line), "v.txt": b"v"})
    convert("minhon", tmp_path / "src", tmp_path / "out", "--rotate-vertical")
    [(_, _, data)] = written(tmp_path / "out")
    assert np.array_equal(pixels(data), np.rot90(line, 1))


def minhon_det_source(root) -> None:
    lines = [minhon_line(quad(10, 10, 70, 30), "가")]
    write_files(str(root), {"p.png": png(noise_page(27)), "p.json": json.dumps(lines).encode(),
                            "a.png": png(noise_page(28, 40, 16)), "a.gt.txt": b"x", "o.gt.txt": b"y",
                            "z.png": png(noise_page(29, 40, 16))})


def test_minhon_detection_rejects_each_line_file_where_it_lies(tmp_path):
    minhon_det_source(tmp_path / "src")
    card = convert("minhon", tmp_path / "src", tmp_path / "out", "--task", "det")
    assert card["counts"]["written"] == 1
    detail = "a line image with its text: no boxes to detect"
    assert sorted(reject_places(tmp_path / "out")) == [("not_a_page", "a.png", "a"), ("not_a_page", "o.gt.txt", "o"),
                                                      ("not_a_page", "z.png", "z")]
    assert {d for _, d in reject_rows(tmp_path / "out")} == {detail}
    card = convert("minhon", tmp_path / "src", tmp_path / "rec")
    assert sorted(zip(reject_places(tmp_path / "rec"), reject_rows(tmp_path / "rec"))) == [
        (("missing_image", "o.gt.txt", "o"), ("missing_image", "no image beside o.gt.txt")),
        (("missing_label", "z.png", "z"), ("missing_label", "no .txt, .gt.txt or .json beside z.png"))]


def test_minhon_detection_does_not_count_notes_and_binders(tmp_path):
    """A .txt or .json with no image beside it is no label (codec lists, notes): not an
    input in detection either, as in recognition."""
    minhon_det_source(tmp_path / "src")
    write_files(str(tmp_path / "src"), {"notes.txt": b"n", "binder.json": b"[]"})
    card = convert("minhon", tmp_path / "src", tmp_path / "out", "--task", "det")
    assert card["counts"]["input"] == 4 and card["rejects"] == {"not_a_page": 3}
    card = convert("minhon", tmp_path / "src", tmp_path / "rec")
    assert card["counts"]["input"] == 4 and card["rejects"] == {"missing_image": 1, "missing_label": 1}


def test_minhon_label_and_image_clashes(tmp_path):
    lines = json.dumps([minhon_line(quad(2, 2, 30, 12), "가")]).encode()
    small = png(noise_page(30, 40, 16))
    write_files(str(tmp_path / "src"), {
        "m.png": small, "m.gt.txt": b"m", "m.json": lines,  # a page JSON and a line label
        "n.png": small, "n.txt": b"n", "n.json": lines,
        "k.jpg": small, "k.png": small, "k.txt": b"k",  # two images, one label
        "t.png": small, "t.txt": b"t", "t.gt.txt": b"t2",  # two labels
        "ok.png": small, "ok.txt": b"ok"})
    card = convert("minhon", tmp_path / "src", tmp_path / "out")
    assert [(key, label) for key, label, _ in written(tmp_path / "out")] == [("ok", "ok")]
    assert card["rejects"] == {"ambiguous_label": 3, "ambiguous_image": 1}
    assert sorted(zip(reject_places(tmp_path / "out"), reject_rows(tmp_path / "out"))) == [
        (("ambiguous_image", "k.jpg", "k"), ("ambiguous_image", "k.jpg, k.png share one label")),
        (("ambiguous_label", "m.png", "m"), ("ambiguous_label", "several labels for m.png")),
        (("ambiguous_label", "n.png", "n"), ("ambiguous_label", "several labels for n.png")),
        (("ambiguous_label", "t.png", "t"), ("ambiguous_label", "several labels for t.png"))]


# --- icdar2015 ---------------------------------------------------------------------------

def test_icdar2015_blank_lines_malformed_lines_and_dont_care(tmp_path):
    page = noise_page(31)
    bad = "10,20,30,x" + "y" * 90
    gt = ("\ufeff23,31,87,31,87,49,23,49,첫째\r\n\r\n"
          f"{bad}\r\n"
          "1,1,9,1,9,9,1,9,###\r\n"
          "23,60,87,60,87,78,23,78,둘,째\r\n")
    write_files(str(tmp_path / "src"), {"gt_img_1.txt": gt.encode(), "img_1.png": png(page)})
    card = convert("icdar2015", tmp_path / "src", tmp_path / "out")
    crops = crops_by_label(tmp_path / "out")
    assert np.array_equal(crops["첫째"], page[31:49, 23:87]) and np.array_equal(crops["둘,째"], page[60:78, 23:87])
    assert card["rejects"] == {"malformed_line": 1, "dont_care": 1}
    assert reject_rows(tmp_path / "out") == [
        ("malformed_line", f"expected x1,y1,...,x4,y4,text: {bad[:80]!r}"), ("dont_care", "### region")]


def test_icdar2015_pages_are_named_by_their_gt_file(tmp_path):
    box = "23,31,87,31,87,49,23,49,글\n".encode()
    write_files(str(tmp_path / "src"), {"a/gt_img_1.txt": box, "a/img_1.png": png(noise_page(32)),
                                        "gt_img_2.txt": box, "img_2.png": png(noise_page(33))})
    run_cli("icdar2015", "-i", tmp_path / "src", "-o", tmp_path / "out", "-q", "--task", "det", "--split", "none")
    table = pd.read_parquet(tmp_path / "out" / "samples.parquet")
    assert sorted(zip(table.source_id, table.source)) == [("a/gt_img_1", "a/gt_img_1.txt"),
                                                          ("gt_img_2", "gt_img_2.txt")]


def test_minhon_multiline_labels_and_not_textline_detail(tmp_path):
    long = "x" * 90 + "\ny"
    lines = [minhon_line(quad(2, 2, 30, 12), "가", isTextline=False)]
    small = png(noise_page(34, 40, 16))
    write_files(str(tmp_path / "src"), {"a.png": small, "a.txt": b"a\rb", "b.png": small, "b.txt": long.encode(),
                                        "c.png": small, "c.txt": b"c", "p.png": png(noise_page(35)),
                                        "p.json": json.dumps(lines).encode()})
    card = convert("minhon", tmp_path / "src", tmp_path / "out")
    assert card["rejects"] == {"multiline_label": 2, "not_textline": 1}
    assert sorted(reject_rows(tmp_path / "out")) == [
        ("multiline_label", repr("a\rb")), ("multiline_label", repr(long[:80])),
        ("not_textline", "isTextline is false")]
    assert sorted(reject_places(tmp_path / "out")) == [
        ("multiline_label", "a.txt", "a"), ("multiline_label", "b.txt", "b"), ("not_textline", "p.json[0]", "p#0")]


def test_per_image_json_detection_keeps_a_readable_box_as_text(tmp_path):
    anns = [{"id": 1, "text": "약국", "bbox": [23, 31, 64, 18]}, {"id": 2, "text": "xxx", "bbox": [23, 60, 64, 18]}]
    write_files(str(tmp_path / "src"), {"a.json": outdoor("a.png", anns), "a.png": png(noise_page(36))})
    run_cli("aihub-outdoor", "-q", "-i", tmp_path / "src", "-o", tmp_path / "det", "--task", "det", "--split", "none")
    [line] = (tmp_path / "det" / "train" / "det_gt.txt").read_text("utf-8").splitlines()
    boxes = json.loads(line.split("\t")[1])
    assert [b["transcription"] for b in boxes] == ["약국", "###"]
