"""Hostile AI Hub label JSON: syntax and schema errors name the position or JSON path;
id joins follow the exact-text policy; odd text is rejected or kept byte-exact."""
from __future__ import annotations

import codecs
import json

import pytest

from helpers import rejects_of
from hostile_util import (accounted, aihub_document, aihub_source, assert_one_line_error, convert,
                          png, reasons, written_labels)

LABEL = "handwriting_data_info1.json"
GOOD = aihub_document([("1", "1", "가을"), ("2", "2", "하늘")])


def images_for(document: dict) -> dict[str, bytes]:
    return {entry["file_name"]: png(i) for i, entry in enumerate(document["images"])}


def run_raw(tmp_path, raw: bytes, *args: str, expect: int = 1):
    src = aihub_source(str(tmp_path / "src"), None, images_for(GOOD), raw=raw)
    return convert("aihub", src, str(tmp_path / "out"), *args, expect=expect)


def run_doc(tmp_path, document, *args: str, images: dict[str, bytes] | None = None,
            expect: int = 0):
    files = images if images is not None else images_for(document)
    src = aihub_source(str(tmp_path / "src"), document, files)
    out = str(tmp_path / "out")
    return convert("aihub", src, out, *args, expect=expect), out


@pytest.mark.parametrize("raw,where", [
    (b'{"images": [], "annotations": [\n  {"id": 1,, }]}', f"{LABEL}:2:12: invalid JSON"),
    (b'{"images": [], "annotations": [', f"{LABEL}:1:32: invalid JSON"),
    (b'{"images": [], "annotations": ["a\x00b"]}', f"{LABEL}:1:34: invalid JSON"),
    (b"", f"{LABEL}: empty file"),
    (b"  \n\t", f"{LABEL}: empty file"),
    (b"[" * 100_000, "nested too deeply"),
    (b'{"images": [], "annotations": [], "info": ' + b"9" * 5000 + b"}", "invalid JSON"),
])
def test_syntax_errors_name_the_position(tmp_path, raw, where):
    assert_one_line_error(run_raw(tmp_path, raw), where)


@pytest.mark.parametrize("document,path", [
    ([], f"{LABEL}: (top level): expected object, got array"),
    ("text", f"{LABEL}: (top level): expected object, got string"),
    (None, f"{LABEL}: (top level): expected object, got null"),
    ({"images": []}, f"{LABEL}: (top level): 'annotations' is missing"),
    ({"images": {}, "annotations": []}, f"{LABEL}: images: expected array, got object"),
    ({"images": [], "annotations": [{"id": 1, "image_id": 1, "text": 5}]},
     f"{LABEL}: annotations[0].text: expected string, got integer"),
    ({"images": [{"id": True, "file_name": "a.png"}], "annotations": []},
     f"{LABEL}: images[0].id: expected string or integer, got boolean"),
    ({"images": [{"id": 1, "file_name": ""}], "annotations": []},
     f"{LABEL}: images[0].file_name: "),
    ({"images": [], "annotations": [{"id": 1, "image_id": 1, "text": "x", "attributes": []}]},
     f"{LABEL}: annotations[0].attributes: expected object, got array"),
])
def test_schema_violations_name_the_json_path(tmp_path, document, path):
    raw = json.dumps(document).encode()
    assert_one_line_error(run_raw(tmp_path, raw), path)


def test_cp949_json_hints_encoding_and_reads_with_it(tmp_path):
    raw = json.dumps(GOOD, ensure_ascii=False).encode("cp949")
    assert_one_line_error(run_raw(tmp_path, raw), f"{LABEL}:1:", "--encoding cp949")
    run_raw(tmp_path, raw, "--encoding", "cp949", "--overwrite", expect=0)
    assert sorted(written_labels(str(tmp_path / "out"))) == ["가을", "하늘"]


def test_bom_is_accepted(tmp_path):
    run_raw(tmp_path, codecs.BOM_UTF8 + json.dumps(GOOD).encode(), expect=0)
    assert accounted(str(tmp_path / "out"))["counts"]["written"] == 2


def test_numbers_join_their_decimal_text_but_never_across_zero_padding(tmp_path):
    """Policy: exact text. 2 joins "2" (and 2.0); 2 never joins "00000002"."""
    document = aihub_document(
        [("a", 2, "둘"), ("b", "3", "셋"), ("c", 4.0, "넷"), ("d", 5, "다섯")],
        files={"2": "2.png", 3: "3.png", "4": "4.png", "00000005": "00000005.png"})
    _, out = run_doc(tmp_path, document)
    accounted(out)
    assert sorted(written_labels(out)) == ["넷", "둘", "셋"]
    rows = {r["reason"]: r for r in rejects_of(out)}
    assert set(rows) == {"unknown_image_id", "unannotated_image"}
    assert "'00000005'" in rows["unknown_image_id"]["detail"]
    assert "exact text" in rows["unknown_image_id"]["detail"]
    assert rows["unannotated_image"]["id"] == "00000005"


def test_duplicated_ids(tmp_path):
    document = aihub_document([("1", "1", "가"), ("1", "2", "나"), ("3", "3", "다")],
                              files={"1": "1.png", "2": "2.png"})
    document["images"] += [{"id": 3, "file_name": "3a.png"}, {"id": "3", "file_name": "3b.png"}]
    _, out = run_doc(tmp_path, document, images={n: png(i) for i, n in
                                                 enumerate(["1.png", "2.png", "3a.png", "3b.png"])})
    accounted(out)
    assert sorted(r["reason"] for r in rejects_of(out)) == ["ambiguous_image_id", "duplicate_id"]
    assert written_labels(out) == ["가"]


def test_lone_surrogates_are_rejected_and_reported_readably(tmp_path):
    raw = (b'{"images": [{"id": "1", "file_name": "1.png"}, {"id": "2", "file_name": "2.png"},'
           b' {"id": "\\udc80x", "file_name": "x.png"}],'
           b' "annotations": [{"id": "1", "image_id": "1", "text": "bad \\ud800"},'
           b' {"id": "2", "image_id": "2", "text": "good"}]}')
    run_raw(tmp_path, raw, expect=0)
    out = str(tmp_path / "out")
    accounted(out)
    assert reasons(out) == {"1": "invalid_unicode", "\\udc80x": "unannotated_image"}
    assert written_labels(out) == ["good"]


def test_labels_keep_newlines_tabs_and_odd_characters(tmp_path):
    texts = ["line\nbreak", "tab\there", "cr\r\nlf", " spaced ", "\u200bzero width", "emoji 😀",
             "가\u0301"]
    document = aihub_document([(str(i), str(i), t) for i, t in enumerate(texts + ["nul\x00inside"])])
    _, out = run_doc(tmp_path, document, "--normalize", "none")
    accounted(out)
    assert sorted(written_labels(out)) == sorted(texts)
    assert reasons(out) == {str(len(texts)): "nul_byte"}  # a NUL is never a label


def test_paths_in_file_name_cannot_escape(tmp_path):
    document = aihub_document([("1", "1", "a"), ("2", "2", "b"), ("3", "3", "c"), ("4", "4", "d")],
                              files={"1": "../../etc/passwd", "2": "/etc/passwd",
                                     "3": "..\\..\\x.png", "4": "sub/../4.png"})
    _, out = run_doc(tmp_path, document, images={"4.png": png()})
    accounted(out)
    assert reasons(out) == {"1": "path_outside_source", "2": "path_outside_source",
                            "3": "path_outside_source"}


def test_real_process_prints_one_line_and_exits_1(tmp_path):
    """Outside CliRunner too: the installed entry point, stderr, exit status."""
    import subprocess
    import sys

    src = aihub_source(str(tmp_path / "src"), None, raw=b'{"images": [], "annotations": [}')
    code = "import sys; from dataconv.cli.main import main; sys.argv[0] = 'dataconv'; main()"
    done = subprocess.run([sys.executable, "-c", code, "aihub", "-i", src, "-o", str(tmp_path / "o"),
                           "-q"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"{LABEL}:1:32: invalid JSON" in done.stderr
