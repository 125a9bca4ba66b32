"""Issue 26, mutation run of the AI Hub family converters (converters/aihub.py,
aihub_detect.py, aihub_tiw.py, aihub_admin.py, aihub_outdoor.py, aihub_nia.py,
aihub_forms.py): the survivors that meant a wrong answer, and the refusals the run found
untested. Real label files and images on disk, LMDBs read back."""
from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from fmt_util import labels, written
from helpers import rejects_of
from pages import noise_page, pixels, png as encoded
from hostile_util import (accounted, aihub_document, aihub_source, assert_one_line_error, convert, png,
                          write_files, written_labels)


def doc_bytes(document) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def usage_error(result, *fragments: str) -> str:
    """Exit 2, click's usage error naming every fragment, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)
    return result.stderr


# --- aihub: the id join and its near-miss hint ----------------------------------------

def test_near_miss_never_converts_an_id_to_int(tmp_path):
    """An id of more than 4300 digits (Python's int() limit) is text like any other: its
    near miss is still named, and nothing raises (it used to be a ValueError traceback)."""
    big = "1" + "0" * 5000
    document = aihub_document([("a", big, "가"), ("b", "1", "나")], files={"1": "1.png", "0" + big: "x.png"})
    src = aihub_source(str(tmp_path / "src"), document, {"1.png": png(1), "x.png": png(2)})
    convert("aihub", src, str(tmp_path / "out"))
    accounted(str(tmp_path / "out"))
    rows = {r["reason"]: r for r in rejects_of(str(tmp_path / "out"))}
    assert set(rows) == {"unknown_image_id", "unannotated_image"}
    assert f"images[] has id '0{big}'" in rows["unknown_image_id"]["detail"]
    assert written_labels(str(tmp_path / "out")) == ["나"]


def test_near_miss_only_between_ascii_digit_ids(tmp_path):
    """Non-digit ids and non-ASCII digits get no hint and no crash; 0 and 000 are near."""
    document = aihub_document([("a", "abc", "가"), ("b", "1", "나"), ("c", "²", "다"), ("d", "٣", "라"),
                               ("e", "0", "마"), ("f", "002", "바")],
                              files={"1": "1.png", "00000002": "2.png", "3": "3.png", "000": "4.png",
                                     "2": "5.png", "0abc": "6.png", "0٣": "7.png", "0²": "8.png"})
    src = aihub_source(str(tmp_path / "src"), document,
                       {f"{i}.png": png(i) for i in range(1, 9)})
    convert("aihub", src, str(tmp_path / "out"))
    accounted(str(tmp_path / "out"))
    detail = {r["id"]: r["detail"] for r in rejects_of(str(tmp_path / "out")) if r["reason"] == "unknown_image_id"}
    assert detail["a"] == "image_id 'abc' has no images[] entry"
    assert detail["c"] == "image_id '²' has no images[] entry"
    assert detail["d"] == "image_id '٣' has no images[] entry"  # Arabic-Indic 3 is not "3"
    assert detail["e"] == ("image_id '0' has no images[] entry (images[] has id '000': ids join by "
                           "exact text, not by number)")
    # "002" is near both "00000002" and "2": the first images[] entry is named
    assert "images[] has id '00000002'" in detail["f"]
    assert written_labels(str(tmp_path / "out")) == ["나"]


# --- aihub: --task det is refused for single text images, handed off for page sets ------

def test_task_det_refuses_handwriting_and_printed_naming_rec(tmp_path):
    src = aihub_source(str(tmp_path / "src"), aihub_document([("1", "1", "가"), ("2", "2", "나")]),
                       {"1.png": png(1), "2.png": png(2)})
    for args, kind in ((("--type", "htr"), "htr"), (("--type", "printed"), "printed"), (("--type", "auto"), "htr")):
        result = convert("aihub", src, str(tmp_path / "out"), "--task", "det", *args, expect=2)
        usage_error(result, f"--task det: {src} holds AI Hub {kind} images, one text each, not pages with boxes; "
                            "use --task rec")
        assert not os.path.exists(tmp_path / "out")


# --- aihub: --type auto -------------------------------------------------------------------

def test_auto_with_several_handwriting_label_files_is_refused_naming_them(tmp_path):
    data = doc_bytes(aihub_document([("1", "1", "가"), ("2", "2", "나")]))
    src = write_files(str(tmp_path / "src"), {"a/handwriting_data_info1.json": data,
                                              "b/printed_data_info.json": data, "1.png": png(1), "2.png": png(2)})
    result = convert("aihub", src, str(tmp_path / "out"), "--type", "auto", expect=None)
    assert_one_line_error(result, f"{src}: several handwriting/printed label files "
                                  "(a/handwriting_data_info1.json, b/printed_data_info.json); choose one with --labels")
    assert not os.path.exists(tmp_path / "out")
    # --labels picks one: auto then reads it as handwriting/printed, the other file is just a file
    convert("aihub", src, str(tmp_path / "out"), "--type", "auto", "--labels", os.path.join(src, "b/printed_data_info.json"))
    assert sorted(written_labels(str(tmp_path / "out"))) == ["가", "나"]


def test_auto_with_one_label_file_in_a_subfolder_reads_it(tmp_path):
    data = doc_bytes(aihub_document([("1", "1", "가"), ("2", "2", "나")]))
    src = write_files(str(tmp_path / "src"), {"labels/any_name.json": data, "img/1.png": png(1), "img/2.png": png(2)})
    convert("aihub", src, str(tmp_path / "out"), "--type", "auto")
    card = accounted(str(tmp_path / "out"))
    assert (card["counts"]["input"], card["counts"]["written"]) == (2, 2)
    assert sorted(written_labels(str(tmp_path / "out"))) == ["가", "나"]


# --- aihub: --kind -------------------------------------------------------------------------

def test_kind_selecting_nothing_in_an_empty_file_says_none_present(tmp_path):
    src = aihub_source(str(tmp_path / "src"), {"images": [], "annotations": []})
    result = convert("aihub", src, str(tmp_path / "out"), "--kind", "word", "--kind", "syllable", expect=2)
    usage_error(result, "--kind selects no annotation (attributes.type glyph); attributes.type values present: none"
                .replace("glyph", "글자(음절), 단어(어절)"))
    assert not os.path.exists(tmp_path / "out")


def kinds_source(root) -> str:
    document = {"images": [{"id": str(i), "file_name": f"{i}.png"} for i in (1, 2, 3)],
                "annotations": [{"id": str(i), "image_id": str(i), "text": text, "attributes": {"type": kind}}
                                for i, (text, kind) in enumerate((("가을 하늘", "문장"), ("하늘", "단어(어절)"),
                                                                  ("하", "글자(음절)")), 1)]}
    return aihub_source(str(root), document, {f"{i}.png": png(i) for i in (1, 2, 3)})


def test_each_kind_keeps_its_own_attributes_type(tmp_path):
    src = kinds_source(tmp_path / "src")
    for kind, label in (("sentence", "가을 하늘"), ("word", "하늘"), ("syllable", "하")):
        out = str(tmp_path / kind)
        convert("aihub", src, out, "--kind", kind)
        assert written_labels(out) == [label]
        assert accounted(out)["rejects"] == {"excluded_kind": 2}
    convert("aihub", src, str(tmp_path / "two"), "--kind", "word", "--kind", "syllable")
    assert sorted(written_labels(str(tmp_path / "two"))) == ["하", "하늘"]
    [row] = rejects_of(str(tmp_path / "two"))
    assert (row["id"], row["reason"], row["detail"]) == ("1", "excluded_kind", "attributes.type '문장'")


# --- aihub: the label file found by name -------------------------------------------------

def test_label_file_by_name_none_or_several_is_a_one_line_error(tmp_path):
    data = doc_bytes(aihub_document([("1", "1", "가")]))
    src = write_files(str(tmp_path / "src"), {"1.png": png(1), "printed_data_info.json": data})
    result = convert("aihub", src, str(tmp_path / "out"), "--type", "htr", expect=None)
    assert_one_line_error(result, f"error: {src}: no handwriting_data_info1.json found under the source folder; "
                                  "pass --labels FILE")
    write_files(src, {"a/handwriting_data_info1.json": data, "b/handwriting_data_info1.json": data})
    result = convert("aihub", src, str(tmp_path / "out"), expect=None)
    assert_one_line_error(result, f"error: {src}: several handwriting_data_info1.json files "
                                  f"({src}/a/handwriting_data_info1.json, {src}/b/handwriting_data_info1.json); "
                                  "choose one with --labels")
    assert not os.path.exists(tmp_path / "out")


# --- aihub-outdoor: wordorientation marks the whole image's crops -------------------------

def outdoor_doc(name: str, box: list, metadata) -> bytes:
    return doc_bytes({"images": [{"id": 1, "file_name": f"{name}.png"}],
                      "annotations": [{"id": 7, "text": name, "bbox": box}], "metadata": metadata})


def test_outdoor_wordorientation_decides_what_rotate_vertical_turns(tmp_path):
    """세로 turns even a wide crop, 가로 keeps even a tall one; metadata as a list or an
    object, the value stripped; anything else falls back to the crop's aspect ratio."""
    page = noise_page(11)
    wide, tall = [10, 20, 60, 20], [100, 10, 20, 60]
    cases = {"세로목록": (wide, [{"wordorientation": " 세로 "}], True),
             "가로객체": (tall, {"wordorientation": "가로"}, False),
             "빈목록": (tall, [], True), "이상값": (wide, {"wordorientation": "diagonal"}, False),
             "숫자": (tall, {"wordorientation": 3}, True), "목록숫자": (wide, [5], False)}
    files = {}
    for name, (box, metadata, _) in cases.items():
        files[f"label/{name}.json"] = outdoor_doc(name, box, metadata)
        files[f"image/{name}.png"] = encoded(page)
    write_files(str(tmp_path / "src"), files)
    out = str(tmp_path / "out")
    convert("aihub-outdoor", str(tmp_path / "src"), out, "--rotate-vertical")
    crops = {label: pixels(data) for _, label, data in written(out)}
    for name, ((x, y, w, h), _, turned) in cases.items():
        want = page[y:y + h, x:x + w]
        assert np.array_equal(crops[name], np.rot90(want) if turned else want), name
    # the sample id is the file and the annotation's id
    assert {sid for sid, _, _ in written(out)} == {f"label/{name}#7" for name in cases}


# --- aihub-forms: which files are handwritten words, which printed forms -----------------

def forms_doc(name: str, text) -> bytes:
    return doc_bytes({"image": {"file_name": f"{name}.png"}, "text": text})


def test_forms_kind_and_the_path_marks_decide_crop_or_whole_image(tmp_path):
    page = noise_page(13)
    printed = {"word": [{"value": "신청", "wordbox": [10, 20, 50, 40]}, {"value": "인", "wordbox": [60, 20, 80, 40]}]}
    letters = {"word": [{"value": "가"}, {"value": "나"}]}
    docs = {"인쇄/p": printed, "Set_HandWriting/h": letters, "필기체/n": {"word": [{"value": "다"}, {"value": None}]},
            "필기체/e": {"word": []}, "기타/l": {"letter": {"value": "라"}}}
    files = {f"{rel}.json": forms_doc(rel.split("/")[1], text) for rel, text in docs.items()}
    files.update({f"img/{rel.split('/')[1]}.png": encoded(page) for rel in docs})
    src = write_files(str(tmp_path / "src"), files)

    out = str(tmp_path / "auto")
    convert("aihub-forms", src, out)
    got = {sid: (label, pixels(data)) for sid, label, data in written(out)}
    assert sorted(got) == ["Set_HandWriting/h#word", "기타/l#letter", "인쇄/p#word[0]", "인쇄/p#word[1]"]
    assert got["Set_HandWriting/h#word"][0] == "가나" and np.array_equal(got["Set_HandWriting/h#word"][1], page)
    assert got["기타/l#letter"][0] == "라" and np.array_equal(got["기타/l#letter"][1], page)
    assert got["인쇄/p#word[0]"][0] == "신청" and np.array_equal(got["인쇄/p#word[0]"][1], page[20:40, 10:50])
    assert got["인쇄/p#word[1]"][0] == "인" and np.array_equal(got["인쇄/p#word[1]"][1], page[20:40, 60:80])
    assert {r["id"]: r["reason"] for r in rejects_of(out)} == {"필기체/n#word": "dont_care", "필기체/e#word": "dont_care"}

    out = str(tmp_path / "hand")
    convert("aihub-forms", src, out, "--kind", "handwritten")
    assert labels(out) == {"Set_HandWriting/h#word": "가나", "기타/l#letter": "라", "인쇄/p#word": "신청인"}

    out = str(tmp_path / "printed")
    convert("aihub-forms", src, out, "--kind", "printed")
    assert labels(out) == {"기타/l#letter": "라", "인쇄/p#word[0]": "신청", "인쇄/p#word[1]": "인"}
    rows = {r["id"]: r for r in rejects_of(out)}
    assert rows["Set_HandWriting/h#word[0]"]["reason"] == "degenerate_box"
    assert "word[0].wordbox" in rows["Set_HandWriting/h#word[0]"]["detail"]


def test_kind_selecting_nothing_names_the_kinds_present_most_common_first(tmp_path):
    document = {"images": [{"id": str(i), "file_name": f"{i}.png"} for i in (1, 2, 3)],
                "annotations": [{"id": str(i), "image_id": str(i), "text": "하", "attributes": {"type": kind}}
                                for i, kind in ((1, "글자(음절)"), (2, "단어(어절)"), (3, "단어(어절)"))]}
    src = aihub_source(str(tmp_path / "src"), document, {f"{i}.png": png(i) for i in (1, 2, 3)})
    result = convert("aihub", src, str(tmp_path / "out"), "--kind", "sentence", expect=2)
    usage_error(result, "--kind selects no annotation (attributes.type 문장); "
                        "attributes.type values present: 단어(어절) (2), 글자(음절) (1)")


# --- aihub_detect: the bounds of what --type auto reads ------------------------------------

def nia_label(padding: int) -> bytes:
    """A NIA-shaped label whose shape is decided by its ``bbox`` key, after ``padding``
    numbers: event 0 opens the object, 1-3 are Images, 4-5 open pad, then the numbers, the
    array's end, and the key bbox at event ``7 + padding``."""
    return b'{"Images": {}, "pad": [' + b",".join([b"0"] * padding) + b'], "bbox": []}'


def test_detect_reads_each_file_up_to_its_event_budget_and_no_further(tmp_path):
    from dataconv.converters.aihub_detect import MAX_EVENTS, detect
    from dataconv.errors import DataconvError

    assert MAX_EVENTS == 100_000
    last = write_files(str(tmp_path / "last"), {"a.json": nia_label(MAX_EVENTS + 1 - 7)})
    assert detect(last) == ("nia", ["a.json"])  # decided at event MAX_EVENTS + 1: still read
    over = write_files(str(tmp_path / "over"), {"a.json": nia_label(MAX_EVENTS + 2 - 7)})
    with pytest.raises(DataconvError, match="no AI Hub label file of a known shape in the first 50 .json files"):
        detect(over)


def test_detect_looks_at_the_first_50_json_files_only(tmp_path):
    from dataconv.converters.aihub_detect import MAX_CANDIDATES, detect
    from dataconv.errors import DataconvError

    assert MAX_CANDIDATES == 50
    files = {f"{i:03d}.json": b'{"other": 1}' for i in range(MAX_CANDIDATES - 1)}
    src = write_files(str(tmp_path / "src"), {**files, "z1.json": nia_label(0)})
    assert detect(src) == ("nia", ["z1.json"])  # the 50th file
    write_files(src, {"049.json": b'{"other": 1}'})  # now the nia file is the 51st
    with pytest.raises(DataconvError, match="in the first 50 .json files; name the set with --type"):
        detect(src)


# --- aihub-nia: key case varies at every level -------------------------------------------

def test_nia_reads_keys_in_any_case_at_every_level(tmp_path):
    page = noise_page(17)
    doc = {"IMAGES": {"Identifier": "IMG_2", "TYPE": "png"},
           "BBOX": [{"ID": 1, "Data": "합계", "X": [23, 23, 87, 87], "Y": [31, 49, 31, 49]},
                    {"Id": 2, "DATA": "XXX", "x": [1, 1, 9, 9], "y": [1, 9, 1, 9]}]}
    src = write_files(str(tmp_path / "src"), {"l/IMG_2.json": doc_bytes(doc), "i/img_2.PNG": encoded(page)})
    out = str(tmp_path / "out")
    convert("aihub-nia", src, out)
    [(sid, label, data)] = written(out)
    assert (sid, label) == ("l/IMG_2#bbox[0]", "합계")
    assert np.array_equal(pixels(data), page[31:49, 23:87])
    [row] = rejects_of(out)
    assert (row["id"], row["reason"]) == ("l/IMG_2#bbox[1]", "illegible")


def test_detect_judges_images_by_the_first_entry_only(tmp_path):
    """Handwriting lists many images; a key of a later entry (``type``, as in Text in the
    wild) never makes it another set."""
    from dataconv.converters.aihub_detect import detect

    document = {"images": [{"id": "1", "file_name": "1.png"}, {"id": "2", "file_name": "2.png", "type": "sign"}],
                "annotations": [{"id": "1", "image_id": "1", "text": "가", "bbox": [0, 0, 1, 1]}]}
    src = write_files(str(tmp_path / "src"), {"labels.json": doc_bytes(document)})
    assert detect(src) == ("htr", ["labels.json"])


# --- aihub: what --type auto hands to the set's own format, and the image paths ------------

def test_auto_hands_encoding_to_the_recognised_set(tmp_path):
    """A cp949 야외 label whose Hangul comes after the shape has decided: recognised, then
    read with this command's --encoding."""
    page = noise_page(19)
    doc = {"images": [{"id": 1, "file_name": "p1.png"}], "annotations": [{"id": 1, "text": "abc", "bbox": [1, 2, 20, 10]}],
           "metadata": {"wordorientation": "가로"}}
    src = write_files(str(tmp_path / "src"), {"p1.json": json.dumps(doc, ensure_ascii=False).encode("cp949"),
                                              "p1.png": encoded(page)})
    out = str(tmp_path / "out")
    convert("aihub", src, out, "--type", "auto", "--encoding", "cp949")
    [(sid, label, data)] = written(out)
    assert (sid, label) == ("p1#1", "abc") and np.array_equal(pixels(data), page[2:12, 1:21])
    result = convert("aihub", src, str(tmp_path / "utf8"), "--type", "auto", expect=None)
    assert_one_line_error(result, "p1.json:1: not valid utf-8", "try --encoding cp949")


def test_file_name_with_a_folder_is_a_path_either_slash(tmp_path):
    document = aihub_document([("1", "1", "가"), ("2", "2", "나"), ("3", "3", "다")],
                              files={"1": "a\\1.png", "2": "a/2.png", "3": "3.png"})
    src = aihub_source(str(tmp_path / "src"), document,
                       {"a/1.png": png(1), "a/2.png": png(2), "b/1.png": png(4), "b/2.png": png(5), "a/3.png": png(3)})
    out = str(tmp_path / "out")
    convert("aihub", src, out)
    got = {sid: (label, data) for sid, label, data in written(out)}
    assert got == {"1": ("가", png(1)), "2": ("나", png(2)), "3": ("다", png(3))}


def test_group_by_image_id_and_attributes_reach_the_sample_meta(tmp_path):
    """--group-by reads the sample meta: image_id (as joined) and every attributes key."""
    document = aihub_document([(str(i), str(i // 2), "가나"[i % 2]) for i in range(8)])
    for ann in document["annotations"]:
        ann["attributes"]["writer"] = f"w{int(ann['id']) % 3}"
    src = aihub_source(str(tmp_path / "src"), document, {f"{i}.png": png(i) for i in range(4)})
    for key, group_of in (("image_id", lambda i: i // 2), ("writer", lambda i: i % 3)):
        out = str(tmp_path / key)
        convert("aihub", src, out, "--group-by", key, "--split", "0.5,0.25,0.25", "--seed", "3")
        table = pd.read_parquet(os.path.join(out, "samples.parquet"))
        split = {}
        for row in table.itertuples():
            split.setdefault(group_of(int(row.source_id)), set()).add(row.split)
        assert all(len(s) == 1 for s in split.values()), (key, split)
        assert len(table) == 8


def test_labels_naming_a_folder_is_a_usage_error(tmp_path):
    src = aihub_source(str(tmp_path / "src"), aihub_document([("1", "1", "가")]), {"1.png": png(1)})
    os.makedirs(os.path.join(src, "labels.json"))
    result = convert("aihub", src, str(tmp_path / "out"), "--labels", os.path.join(src, "labels.json"), expect=2)
    usage_error(result, "--labels", "is a directory")


def test_detect_decides_on_the_first_annotation(tmp_path):
    """One image: the first annotation's keys decide (attributes.type: handwriting; bbox: 야외),
    so a photo with more boxes than the event budget is still recognised; a nested ``type``
    elsewhere is not an annotation's attributes.type."""
    from dataconv.converters.aihub_detect import MAX_EVENTS, detect
    from dataconv.errors import DataconvError

    one = {"images": [{"id": "1", "file_name": "1.png"}],
           "annotations": [{"id": "1", "image_id": "1", "text": "가", "attributes": {"type": "문장"}}]}
    assert detect(write_files(str(tmp_path / "htr"), {"a.json": doc_bytes(one)})) == ("htr", ["a.json"])
    boxes = [{"id": i, "text": "a", "bbox": [0, 0, 1, 1]} for i in range(MAX_EVENTS // 13 + 100)]
    big = {"images": [{"id": 1, "file_name": "1.png"}], "annotations": boxes}
    assert detect(write_files(str(tmp_path / "big"), {"b.json": doc_bytes(big)})) == ("outdoor", ["b.json"])
    other = {"images": [{"file_name": "1.png"}], "info": {"type": "sign", "bbox": 1}}
    with pytest.raises(DataconvError, match="no AI Hub label file of a known shape"):
        detect(write_files(str(tmp_path / "other"), {"c.json": doc_bytes(other)}))
