"""Mutation run of the page-format converters, continued (test_mutants_pages.py holds
pagejson, minhon and icdar2015): paddle_det, label_studio, coco_text/textocr, labelme and
ndl_layout, each through the CLI on small real files, read back as a user reads them."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from helpers import rejects_of, run_cli
from pages import noise_page, png, pixels
from fmt_util import convert, written
from hostile_util import assert_one_line_error, write_files


def crops_by_label(out) -> dict[str, np.ndarray]:
    return {label: pixels(data) for _, label, data in written(out)}


def reject_rows(out) -> list[tuple[str, str, str, str]]:
    """(reason, detail, source, id) of every reject."""
    return [(r["reason"], r["detail"], r["source"], r["id"]) for r in rejects_of(str(out))]


# --- paddle_det --------------------------------------------------------------------------

def paddle_error(tmp_path, line: str) -> str:
    write_files(str(tmp_path / "src"), {"label.txt": line.encode()})
    result = run_cli("paddle-det", "-q", "-i", tmp_path / "src", "--labels", tmp_path / "src" / "label.txt",
                     "-o", tmp_path / "out", expect=None)
    return assert_one_line_error(result)


def test_paddle_det_bad_json_is_one_line_naming_the_place(tmp_path):
    payload = '[{"transcription": "a", "points": [[1, 2], [3, 4]}]'
    column = len("img/p.png\t") + payload.index("}") + 1  # counted on the whole line, from 1
    assert paddle_error(tmp_path / "a", f"img/p.png\t{payload}\n") == \
        f"error: label.txt:1: invalid JSON at column {column}: Expecting ',' delimiter"
    assert paddle_error(tmp_path / "b", "img/p.png\t" + "[" * 100000 + "\n") == \
        "error: label.txt:1: JSON nested too deeply to be a box list"
    with pytest.raises(ValueError) as e:
        json.loads("7" * 5000)
    assert len(str(e.value)) > 120
    assert paddle_error(tmp_path / "c", "img/p.png\t[" + "7" * 5000 + "]\n") == \
        f"error: label.txt:1: invalid JSON: {str(e.value)[:120]}"


def test_paddle_det_regions_are_named_by_line_and_box(tmp_path):
    page = noise_page(40)
    boxes = [{"transcription": "글", "points": [[23, 31], [87, 31], [87, 49], [23, 49]]},
             {"transcription": "*", "points": [[1, 1], [9, 1], [9, 9], [1, 9]]}]
    write_files(str(tmp_path / "src"), {"img/p.png": png(page),
                                        "label.txt": f"img/p.png\t{json.dumps(boxes)}\n".encode()})
    convert("paddle-det", tmp_path / "src", tmp_path / "out", "--labels", tmp_path / "src" / "label.txt")
    [(sid, label, data)] = written(tmp_path / "out")
    assert (sid, label) == ("img/p.png#0", "글") and np.array_equal(pixels(data), page[31:49, 23:87])
    assert reject_rows(tmp_path / "out") == [("dont_care", "transcription '*'", "label.txt:1[1]", "img/p.png#1")]


def test_paddle_det_labels_must_be_a_file(tmp_path):
    write_files(str(tmp_path / "src" / "labels"), {"x.txt": b""})
    result = run_cli("paddle-det", "-q", "-i", tmp_path / "src", "--labels", tmp_path / "src" / "labels",
                     "-o", tmp_path / "out", expect=2)
    assert "is a directory" in result.output


def test_paddle_det_a_line_without_tab_and_a_missing_label_file(tmp_path):
    page = noise_page(41)
    box = [{"transcription": "글", "points": [[23, 31], [87, 31], [87, 49], [23, 49]]}]
    lines = f"p.png {json.dumps(box)}\n\np.png\t{json.dumps(box)}\n"  # no TAB, blank, good
    write_files(str(tmp_path / "src"), {"p.png": png(page), "label.txt": lines.encode()})
    convert("paddle-det", tmp_path / "src", tmp_path / "out", "--labels", tmp_path / "src" / "label.txt")
    assert [(sid, label) for sid, label, _ in written(tmp_path / "out")] == [("p.png#0", "글")]
    line = f"p.png {json.dumps(box)}"
    assert reject_rows(tmp_path / "out") == [("no_separator", f"no TAB in {line[:80]!r}", "label.txt:1", "label.txt:1")]
    result = run_cli("paddle-det", "-q", "-i", tmp_path / "src", "--labels", tmp_path / "gone.txt",
                     "-o", tmp_path / "none", expect=None)
    assert result.exit_code == 2 and f"option labels: {tmp_path / 'gone.txt'}: no such file or folder" in result.output


# --- label_studio --------------------------------------------------------------------------

W, H = 160, 120  # the noise page


def ls_region(rid: str, kind: str, value: dict, text: str | None = None, **extra) -> list[dict]:
    """The results of one region: its geometry (``kind``) and, when ``text`` is given, its textarea."""
    common = {"id": rid, "to_name": "image", "original_width": W, "original_height": H, **extra}
    out = [{**common, "type": kind, "from_name": "bbox", "value": value}]
    if text is not None:
        out.append({**common, "type": "textarea", "from_name": "transcription", "value": {"text": [text]}})
    return out


def pct(x: float, y: float, w: float, h: float) -> dict:
    return {"x": x * 100 / W, "y": y * 100 / H, "width": w * 100 / W, "height": h * 100 / H}


def ls_export(root, tasks: list, files: dict[str, bytes]) -> str:
    write_files(str(root), {"export.json": json.dumps(tasks).encode(), **{f"images/{k}": v for k, v in files.items()}})
    return str(root / "export.json")


def ls_convert(tmp_path, tasks: list, files: dict[str, bytes], *args: str) -> dict:
    path = ls_export(tmp_path / "src", tasks, files)
    return convert("label-studio", tmp_path / "src" / "images", tmp_path / "out", "--export", path, *args)


def ls_task(tid, data: dict, result: list, **annotation) -> dict:
    return {"id": tid, "data": data, "annotations": [{"id": 1, "result": result, **annotation}]}


def test_label_studio_image_references_and_geometry_kinds(tmp_path):
    page = noise_page(50)
    poly = {"points": [[23 * 100 / W, 31 * 100 / H], [87 * 100 / W, 31 * 100 / H],
                       [87 * 100 / W, 49 * 100 / H], [23 * 100 / W, 49 * 100 / H]]}
    tasks = [ls_task(1, {"image": "/data/local-files/?d=sub%2Fdir%2Fp%20q.png"},
                     ls_region("a", "rectanglelabels", {**pct(23, 31, 64, 18), "rectanglelabels": ["t"]}, "로컬")),
             ls_task(2, {"ocr": "s3://bucket/dir/%ED%95%9C.png"}, ls_region("b", "polygonlabels", poly, "한글")),
             ls_task(3, {"ocr": "C:\\uploads\\8f2c1d0a-win.png"}, ls_region("c", "polygon", poly, "윈도")),
             ls_task(4, {"ocr": "/data/upload/3/8f2c1d0a-up.png"},
                     ls_region("d", "rectangle", pct(23, 31, 64, 18), "올림"))]
    ls_convert(tmp_path, tasks, {"p q.png": png(page), "한.png": png(page), "win.png": png(page), "up.png": png(page)})
    crops = crops_by_label(tmp_path / "out")
    assert sorted(crops) == sorted(["로컬", "한글", "윈도", "올림"])
    for crop in crops.values():
        assert np.array_equal(crop, page[31:49, 23:87])


def test_label_studio_export_must_be_an_existing_file(tmp_path):
    write_files(str(tmp_path / "images"), {"a.png": png(noise_page())})
    for export, message in ((tmp_path / "gone.json", "does not exist"), (tmp_path / "images", "is a directory")):
        result = run_cli("label-studio", "-q", "-i", tmp_path / "images", "--export", export, "-o", tmp_path / "out",
                         expect=2)
        assert message in result.output


def test_label_studio_latest_annotation_and_geometry_before_textarea(tmp_path):
    page = noise_page(51)
    box = pct(23, 31, 64, 18)
    rect = ls_region("a", "rectangle", box)
    textarea = {**rect[0], "type": "textarea", "from_name": "transcription",
                "value": {**pct(0, 0, 10, 10), "text": ["최신"]}}  # a stale rectangle of its own
    annotations = [{"id": 1, "updated_at": "2024-03-01T10:00:00Z", "result": [textarea] + rect},
                   {"id": 2, "updated_at": "2024-01-01T10:00:00Z",
                    "result": ls_region("a", "rectangle", box, "옛것")},
                   {"id": 3, "result": ls_region("a", "rectangle", box, "날짜없음")}]
    ls_convert(tmp_path, [{"id": 1, "data": {"image": "p.png"}, "annotations": annotations}], {"p.png": png(page)})
    crops = crops_by_label(tmp_path / "out")
    assert list(crops) == ["최신"] and np.array_equal(crops["최신"], page[31:49, 23:87])


def test_label_studio_a_textarea_alone_carries_the_rectangle(tmp_path):
    page = noise_page(54)
    [textarea] = [r for r in ls_region("a", "rectangle", pct(23, 31, 64, 18), "글") if r["type"] == "textarea"]
    textarea["value"].update(pct(23, 31, 64, 18))
    labels = {**textarea, "type": "labels", "from_name": "label", "value": {"labels": ["Text"]}}
    ls_convert(tmp_path, [ls_task(1, {"image": "p.png"}, [labels, textarea])], {"p.png": png(page)})
    assert np.array_equal(crops_by_label(tmp_path / "out")["글"], page[31:49, 23:87])


def test_label_studio_rotated_in_tool_and_bad_page_size_details(tmp_path):
    rotated = ls_region("a", "rectangle", pct(23, 31, 64, 18), "돌림", image_rotation=90)
    sizeless = ls_region("b", "rectangle", pct(23, 60, 64, 18), "크기", original_width=None)
    good = ls_region("c", "rectangle", pct(23, 90, 64, 18), "바름")
    ls_convert(tmp_path, [ls_task(7, {"image": "p.png"}, rotated + sizeless + good)], {"p.png": png(noise_page(56))})
    assert reject_rows(tmp_path / "out") == [
        ("rotated_in_tool", "export.json:[0]:a: image_rotation 90", "export.json:[0]:a", "7#a"),
        ("degenerate_box", "export.json:[0]:b original_width/height [None, 120]: not a number: None",
         "export.json:[0]:b", "7#b")]


def test_label_studio_bad_points_and_rotation_details(tmp_path):
    points = ls_region("a", "polygon", {"points": [[10, 10], [20, "x"], [20, 20], [10, 20]]}, "점")
    turned = ls_region("b", "rectangle", {**pct(23, 60, 64, 18), "rotation": "z"}, "돌림")
    bare = [r for r in ls_region("d", "rectangle", {}, "맨글") if r["type"] == "textarea"]  # no geometry at all
    ls_convert(tmp_path, [ls_task(8, {"image": "p.png"}, points + turned + bare + ls_region("c", "rectangle",
               pct(23, 90, 64, 18), "바름"))], {"p.png": png(noise_page(58))})
    assert reject_rows(tmp_path / "out") == [
        ("degenerate_box", "export.json:[0]:a points [20, 'x']: not a number: 'x'", "export.json:[0]:a", "8#a"),
        ("degenerate_box", "export.json:[0]:b rotation ['z']: not a number: 'z'", "export.json:[0]:b", "8#b"),
        ("degenerate_box", "export.json:[0]:d: no rectangle or polygon", "export.json:[0]:d", "8#d")]


def test_label_studio_transcription_entries_joined_by_a_space(tmp_path):
    page = noise_page(59)
    many = ls_region("a", "rectangle", pct(23, 31, 64, 18), "x")
    many[1]["value"]["text"] = [" 두 ", "", 5, "줄 "]
    one = ls_region("b", "rectangle", pct(23, 60, 64, 18), "x")
    one[1]["value"]["text"] = "한줄"
    ls_convert(tmp_path, [ls_task(9, {"image": "p.png"}, many + one)], {"p.png": png(page)})
    crops = crops_by_label(tmp_path / "out")
    assert sorted(crops) == ["두 줄", "한줄"] and np.array_equal(crops["두 줄"], page[31:49, 23:87])


def test_label_studio_unannotated_task_and_missing_image(tmp_path):
    tasks = [ls_task(7, {"image": "gone.png"}, ls_region("a", "rectangle", pct(23, 31, 64, 18), "없음")),
             {"id": 8, "data": {"image": "p.png"}, "annotations": [{"id": 1, "was_cancelled": True, "result": []}]},
             {"data": {"image": "p.png"},  # no task id: its position names it
              "annotations": [{"id": 1, "result": ls_region("b", "rectangle", pct(23, 31, 64, 18), "번호없음")}]}]
    ls_convert(tmp_path, tasks, {"p.png": png(noise_page(63))})
    assert [(sid, label) for sid, label, _ in written(tmp_path / "out")] == [("2#b", "번호없음")]
    assert reject_rows(tmp_path / "out") == [
        ("missing_image", "no image with the stem of 'gone.png' under the source folder", "export.json:[0]:a", "7#a"),
        ("unannotated_image", "no annotation that is not cancelled", "export.json:[1]", "task:8")]


def test_label_studio_which_data_key_names_the_image(tmp_path):
    page = noise_page(64)
    box = pct(23, 31, 64, 18)
    tasks = [ls_task(1, {"img": "p.png", "n": 3}, ls_region("a", "rectangle", box, "하나")),
             ls_task(2, {"ocr": "p.png", "x": "p.png"}, ls_region("a", "rectangle", box, "오씨알")),
             ls_task(3, {"image": "p.png", "x": "p.png"}, ls_region("a", "rectangle", box, "이미지")),
             ls_task(4, {"x": "y", "z": "w"}, ls_region("a", "rectangle", box, "모름")),
             ls_task(5, {"image": ""}, ls_region("a", "rectangle", box, "빈칸")),
             ls_task(6, {k: 1 for k in "fedcba"}, ls_region("a", "rectangle", box, "숫자"))]
    ls_convert(tmp_path, tasks, {"p.png": png(page)})
    assert sorted(label for _, label, _ in written(tmp_path / "out")) == sorted(["하나", "오씨알", "이미지"])
    assert [row[:2] for row in reject_rows(tmp_path / "out")] == [
        ("missing_image", "task data has no image reference (keys ['x', 'z'])"),
        ("missing_image", "task data has no image reference (keys ['image'])"),
        ("missing_image", "task data has no image reference (keys ['a', 'b', 'c', 'd', 'e'])")]
    path = str(tmp_path / "src" / "export.json")
    convert("label-studio", tmp_path / "src" / "images", tmp_path / "keyed", "--export", path, "--data-key", "x")
    assert sorted(label for _, label, _ in written(tmp_path / "keyed")) == sorted(["오씨알", "이미지"])
    none = "task data has no image reference (keys "
    assert {row[1] for row in reject_rows(tmp_path / "keyed")} == {
        "no image with the stem of 'y' under the source folder", f"{none}['image'])", f"{none}['img', 'n'])",
        f"{none}['a', 'b', 'c', 'd', 'e'])"}


def test_label_studio_polygons_in_geometric_order_clamping_and_page_ids(tmp_path):
    page = noise_page(65)
    poly = {"points": [[87 * 100 / W, 49 * 100 / H], [23 * 100 / W, 49 * 100 / H],
                       [23 * 100 / W, 31 * 100 / H], [87 * 100 / W, 31 * 100 / H]]}  # from bottom-right
    result = (ls_region("p", "polygon", poly, "다각") + ls_region("l", "rectangle", pct(-3, 60, 43, 20), "왼쪽")
              + ls_region("n", "rectangle", pct(23, 90, 64, 18)))
    ls_convert(tmp_path, [ls_task(7, {"image": "p.png"}, result)], {"p.png": png(page)})
    crops = crops_by_label(tmp_path / "out")
    assert np.array_equal(crops["다각"], page[31:49, 23:87]) and np.array_equal(crops["왼쪽"], page[60:80, 0:40])
    assert reject_rows(tmp_path / "out") == [("missing_label", "the region has no transcription (textarea)",
                                              "export.json:[0]:n", "7#n")]
    run_cli("label-studio", "-q", "-i", tmp_path / "src" / "images", "--export", tmp_path / "src" / "export.json",
            "-o", tmp_path / "det", "--task", "det", "--split", "none")
    import pandas as pd

    table = pd.read_parquet(tmp_path / "det" / "samples.parquet")
    assert list(zip(table.source_id, table.source)) == [("task:7", "export.json:[0]")]


# --- ndl_layout -------------------------------------------------------------------------------

def voc(*objects: str) -> bytes:
    return ("<annotation><filename>stale.jpg</filename>" + "".join(f"<object>{o}</object>" for o in objects)
            + "</annotation>").encode()


def bndbox(x0, y0, x1, y1) -> str:
    return f"<bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox>"


def test_ndl_layout_class_specs(tmp_path):
    write_files(str(tmp_path / "src"), {"p.xml": voc(f"<name>3_typography</name>{bndbox(10, 20, 50, 40)}",
                                                     f"{bndbox(60, 20, 90, 40)}"), "p.png": png(noise_page(52))})
    run_cli("ndl-layout", "-i", tmp_path / "src", "-o", tmp_path / "eq", "-q", "--split", "none",
            "--classes", "3_typography=a=b")
    coco = json.loads((tmp_path / "eq" / "annotations" / "train.json").read_text())
    assert [c["name"] for c in coco["categories"]] == ["a=b"] and len(coco["annotations"]) == 1
    assert reject_rows(tmp_path / "eq") == [("unmapped_class", "class ''", "p.xml:object[1]", "p#1")]
    run_cli("ndl-layout", "-i", tmp_path / "src", "-o", tmp_path / "copy", "-q", "--split", "none")
    [image] = (tmp_path / "copy" / "images").rglob("*.png")
    assert not image.is_symlink() and image.read_bytes() == (tmp_path / "src" / "p.png").read_bytes()
    for spec in ("=text", "3_typography=", "3_typography"):
        result = run_cli("ndl-layout", "-i", tmp_path / "src", "-o", tmp_path / "bad", "--classes", spec, expect=None)
        assert assert_one_line_error(result) == f"error: --classes {spec!r}: expected text, all, or SRC=DST,SRC=DST"


def test_ndl_layout_a_page_without_its_image(tmp_path):
    write_files(str(tmp_path / "src"), {"d/p.xml": voc(f"<name>3_typography</name>{bndbox(10, 20, 50, 40)}"),
                                        "d/q.xml": voc(f"<name>3_typography</name>{bndbox(10, 20, 50, 40)}"),
                                        "d/q.png": png(noise_page(57))})
    run_cli("ndl-layout", "-i", tmp_path / "src", "-o", tmp_path / "out", "-q", "--split", "none")
    assert reject_rows(tmp_path / "out") == [
        ("missing_image", "no image p.* under the source folder", "d/p.xml:object[0]", "d/p#0")]


def test_ndl_layout_link_needs_a_folder(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "src.zip", "w") as z:
        z.writestr("p.xml", voc(f"<name>3_typography</name>{bndbox(10, 20, 50, 40)}"))
        z.writestr("p.png", png(noise_page(59)))
    result = run_cli("ndl-layout", "-q", "-i", tmp_path / "src.zip", "-o", tmp_path / "out", "--link", expect=None)
    assert assert_one_line_error(result) == \
        f"error: {tmp_path / 'src.zip'}: --link needs a folder: archive members cannot be linked to"


def test_ndl_layout_a_folder_without_xml_says_so(tmp_path):
    write_files(str(tmp_path / "src"), {"p.png": png(noise_page(55))})
    result = run_cli("ndl-layout", "-q", "-i", tmp_path / "src", "-o", tmp_path / "out", expect=None)
    assert assert_one_line_error(result) == f"error: {tmp_path / 'src'}: no Pascal VOC .xml files found"


@pytest.mark.parametrize("xml, message", [
    (voc(f"<name>x</name><bndbox><ymin>1</ymin><xmax>2</xmax><ymax>3</ymax></bndbox>"),
     "p.xml: not a Pascal VOC annotation (not a plain decimal number: '')"),
    (voc("<name>x</name>"), "p.xml: not a Pascal VOC annotation (an <object> has no <bndbox>)"),
    (b"<annotation><object>", "p.xml: not a Pascal VOC annotation (no element found: line 1, column 20)"),
    (b'<?xml version="1.0" encoding="x-nonesuch"?><annotation/>',
     "p.xml: the XML declaration names an unknown encoding (unknown encoding: x-nonesuch)"),
])
def test_ndl_layout_malformed_files_are_one_line(tmp_path, xml, message):
    write_files(str(tmp_path / "src"), {"p.xml": xml, "p.png": png(noise_page(53))})
    result = run_cli("ndl-layout", "-q", "-i", tmp_path / "src", "-o", tmp_path / "out", expect=None)
    assert assert_one_line_error(result) == f"error: {message}"


# --- coco_text / textocr -----------------------------------------------------------------

def coco_doc(anns: dict) -> bytes:
    imgs = {"1": {"id": 1, "file_name": "COCO_train2014_000000000001.jpg", "set": "train"},
            "2": {"id": 2, "file_name": "b.png", "set": "val"}}
    return json.dumps({"imgs": imgs, "anns": anns, "imgToAnns": {}}).encode()


def test_coco_text_polygon_or_box_illegible_and_image_faults(tmp_path):
    page = noise_page(60)
    box = [23, 31, 64, 18]
    anns = {"10": {"image_id": 1, "bbox": [0, 0, 10, 10], "mask": [23, 31, 87, 31, 87, 49, 23, 49],
                   "utf8_string": "mask", "legibility": "legible"},  # 8 numbers: the polygon wins
            "11": {"image_id": 1, "bbox": box, "mask": [0, 0, 10, 0, 10, 10], "utf8_string": "box",
                   "legibility": "legible"},  # 6 numbers: no polygon, the box
            "12": {"image_id": 1, "bbox": box, "utf8_string": "흐림", "legibility": "illegible"},
            "13": {"image_id": 1, "bbox": box, "legibility": "legible"},  # no text at all
            "14": {"image_id": 1, "bbox": box, "mask": [23, 31, 87, 31, 87, 49, 23, 49, 5],
                   "utf8_string": "odd", "legibility": "legible"},
            "15": {"image_id": 99, "bbox": box, "utf8_string": "x", "legibility": "legible"},
            "16": {"image_id": 2, "bbox": box, "utf8_string": "val", "legibility": "legible"},
            "17": {"image_id": 1, "bbox": box, "utf8_string": "again", "legibility": "legible"}}
    write_files(str(tmp_path / "src"), {"COCO_Text.json": coco_doc(anns),
                                        "train2014/COCO_train2014_000000000001.jpg": png(page),
                                        "val2014/b.png": png(noise_page(61))})
    convert("coco-text", tmp_path / "src", tmp_path / "out", "--set", "train")
    crops = crops_by_label(tmp_path / "out")
    assert sorted(crops) == ["again", "box", "mask", "odd"]  # an odd trailing mask value is dropped
    for crop in crops.values():
        assert np.array_equal(crop, page[31:49, 23:87])
    rows = reject_rows(tmp_path / "out")
    assert rows[:2] == [("illegible", "'흐림'", "COCO_Text.json:anns[12]", "12"),
                        ("illegible", "''", "COCO_Text.json:anns[13]", "13")]
    assert rows[2:] == [("unknown_image_id", "image_id '99' has no imgs entry", "COCO_Text.json:anns[15]", "15"),
                        ("excluded_set", "set 'val'", "COCO_Text.json:anns[16]", "16")]


def test_coco_text_labels_option_and_a_missing_file(tmp_path):
    page = noise_page(62)
    anns = {"1": {"image_id": 1, "bbox": [23, 31, 64, 18], "utf8_string": "w", "legibility": "legible"}}
    write_files(str(tmp_path / "src"), {"COCO_train2014_000000000001.jpg": png(page)})
    write_files(str(tmp_path / "ann"), {"v2.json": coco_doc(anns)})
    result = run_cli("coco-text", "-q", "-i", tmp_path / "src", "-o", tmp_path / "none", expect=None)
    assert assert_one_line_error(result) == \
        f"error: {tmp_path / 'src' / 'COCO_Text.json'}: no such annotation file; pass --labels FILE"
    convert("coco-text", tmp_path / "src", tmp_path / "out", "--labels", tmp_path / "ann" / "v2.json")
    assert [(sid, label) for sid, label, _ in written(tmp_path / "out")] == [("1", "w")]
    assert rejects_of(str(tmp_path / "out")) == []
    for labels, message in ((tmp_path / "ann", "is a directory"),
                            (tmp_path / "gone.json",
                             f"option labels: {tmp_path / 'gone.json'}: no such file or folder")):
        result = run_cli("coco-text", "-q", "-i", tmp_path / "src", "--labels", labels, "-o", tmp_path / "x", expect=2)
        assert message in result.output
    run_cli("coco-text", "-q", "-i", tmp_path / "src", "--labels", tmp_path / "ann" / "v2.json", "-o", tmp_path / "det",
            "--task", "det", "--split", "none")
    import pandas as pd

    table = pd.read_parquet(tmp_path / "det" / "samples.parquet")
    assert list(zip(table.source_id, table.source)) == [("image:1", "v2.json:imgs[1]")]


# --- labelme -------------------------------------------------------------------------------

def labelme_doc(shapes: list, image_path: str | None, image_data: str | None = None) -> bytes:
    return json.dumps({"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": image_path,
                       "imageData": image_data}).encode()


def rect(label: str, x0, y0, x1, y1, **more) -> dict:
    return {"label": label, "points": [[x0, y0], [x1, y1]], "shape_type": "rectangle", **more}


def test_labelme_shapes_text_keys_and_dont_care(tmp_path):
    page = noise_page(70)
    shapes = [{"label": "셋", "points": [[1, 1], [9, 9], [5, 5]], "shape_type": "rectangle"},
              {"label": "문자", "points": [[1, 1]], "shape_type": "rectangle"},
              {"label": "수", "points": [[1, "x"], [9, 1], [9, 9]], "shape_type": "polygon"},
              {"label": "원", "points": [[5, 5], [9, 9]], "shape_type": "circle"},
              rect("라벨", 23, 31, 87, 49, text="  ", description="설명"),  # a blank text key is skipped
              rect("?", 1, 1, 9, 9), rect("###", 1, 1, 9, 9), rect("", 1, 1, 9, 9),
              {"label": "거꾸로", "points": [[87, 79], [23, 79], [23, 61], [87, 61]], "shape_type": "polygon"},
              {"label": "짝", "points": [[1, 1], "y" * 100], "shape_type": "polygon"},
              rect("XXX", 23, 90, 87, 108)]  # no illegible marker in labelme: a word
    write_files(str(tmp_path / "src"), {"ann/a.json": labelme_doc(shapes, "../img/a.png"), "img/a.png": png(page)})
    convert("labelme", tmp_path / "src", tmp_path / "out", "--text-keys", " text , ,description,label",
            "--dont-care", "?", "--dont-care", "###")
    got = {sid: (label, pixels(data)) for sid, label, data in written(tmp_path / "out")}
    assert sorted(got) == ["ann/a#shapes[10]", "ann/a#shapes[4]", "ann/a#shapes[8]"]
    assert got["ann/a#shapes[10]"][0] == "XXX" and np.array_equal(got["ann/a#shapes[10]"][1], page[90:108, 23:87])
    assert got["ann/a#shapes[4]"][0] == "설명" and np.array_equal(got["ann/a#shapes[4]"][1], page[31:49, 23:87])
    assert got["ann/a#shapes[8]"][0] == "거꾸로" and np.array_equal(got["ann/a#shapes[8]"][1], page[61:79, 23:87])
    assert reject_rows(tmp_path / "out") == [
        ("degenerate_box", "shapes[0]: a rectangle has 2 points, not 3", "ann/a.json:shapes[0]", "ann/a#shapes[0]"),
        ("degenerate_box", "shapes[1]: a rectangle has 2 points, not 1", "ann/a.json:shapes[1]", "ann/a#shapes[1]"),
        ("degenerate_box", "shapes[2].points [1, 'x']: not a number: 'x'", "ann/a.json:shapes[2]", "ann/a#shapes[2]"),
        ("unsupported_shape", "shapes[3]: shape_type 'circle' is no text box", "ann/a.json:shapes[3]",
         "ann/a#shapes[3]"),
        ("dont_care", "text '?'", "ann/a.json:shapes[5]", "ann/a#shapes[5]"),
        ("dont_care", "text '###'", "ann/a.json:shapes[6]", "ann/a#shapes[6]"),
        ("dont_care", "text None", "ann/a.json:shapes[7]", "ann/a#shapes[7]"),
        ("degenerate_box", f"shapes[9]: points {str([[1, 1], 'y' * 100])[:80]} are not [x, y] pairs",
         "ann/a.json:shapes[9]", "ann/a#shapes[9]")]


def test_labelme_where_the_image_is_found(tmp_path):
    pages = {name: noise_page(seed) for seed, name in enumerate("bcfo", 71)}
    shape = [rect("글", 23, 31, 87, 49)]
    write_files(str(tmp_path / "src"), {
        "b.json": labelme_doc(shape, "missing/b.png"), "elsewhere/b.png": png(pages["b"]),  # by imagePath's stem
        "c.json": labelme_doc(shape, "zz.png"), "pics/c.png": png(pages["c"]),  # by the JSON's stem
        "sub/f.json": labelme_doc(shape, "..\\pics\\f.png"), "pics/f.png": png(pages["f"]),  # beside, Windows path
        "other/f.png": png(pages["o"]),
        "d.json": labelme_doc(shape, None, "!!not base64!!"),
        "e.json": labelme_doc(shape, "gone.png"),
        "g.json": labelme_doc(shape, "gone2.png", base64.b64encode(png(pages["o"])).decode()),
        "h.json": labelme_doc(shape, None),
        "i.json": labelme_doc(shape, None, "*" + base64.b64encode(png(pages["o"])).decode())})  # a stray '*' 
    convert("labelme", tmp_path / "src", tmp_path / "out")
    got = {sid: pixels(data) for sid, _, data in written(tmp_path / "out")}
    assert sorted(got) == ["b#shapes[0]", "c#shapes[0]", "g#shapes[0]", "sub/f#shapes[0]"]
    for sid, page in (("b", pages["b"]), ("c", pages["c"]), ("sub/f", pages["f"]), ("g", pages["o"])):
        assert np.array_equal(got[f"{sid}#shapes[0]"], page[31:49, 23:87])
    assert [row[:2] for row in reject_rows(tmp_path / "out")] == [
        ("undecodable_image", "d.json: imageData is not base64"),
        ("missing_image", "no image with the stem of 'gone.png' under the source folder"),
        ("missing_image", "no image with the stem of 'h.json' under the source folder"),
        ("undecodable_image", "i.json: imageData is not base64")]



def test_labelme_detection_keeps_a_readable_box_as_text(tmp_path):
    shapes = [rect("글", 23, 31, 87, 49), rect("###", 23, 60, 87, 78)]
    write_files(str(tmp_path / "src"), {"a.json": labelme_doc(shapes, "a.png"), "a.png": png(noise_page(76))})
    run_cli("labelme", "-q", "-i", tmp_path / "src", "-o", tmp_path / "det", "--task", "det", "--split", "none")
    [line] = (tmp_path / "det" / "train" / "det_gt.txt").read_text("utf-8").splitlines()
    assert [b["transcription"] for b in json.loads(line.split("\t")[1])] == ["글", "###"]
