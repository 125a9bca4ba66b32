"""Hostile line-based label files (gt-txt): encodings, line endings, separators, NULs,
huge lines, duplicates. Each ends in a one-line error or reconciled rejects."""
from __future__ import annotations

import codecs

import pytest

from dataconv.io import textfile
from hostile_util import (accounted, assert_one_line_error, convert, gt_source, png, reasons,
                          written_labels)

KOREAN = {"가.png": "가을 하늘", "나.png": "바다"}


def korean_gt(encoding: str, newline: str = "\n") -> bytes:
    return "".join(f"{k}\t{v}{newline}" for k, v in KOREAN.items()).encode(encoding)


def korean_src(tmp_path, gt: bytes) -> str:
    return gt_source(str(tmp_path / "src"), gt, {k: png(i) for i, k in enumerate(KOREAN)})


def test_bom_crlf_and_no_final_newline(tmp_path):
    gt = codecs.BOM_UTF8 + korean_gt("utf-8", "\r\n")[:-2]
    out = str(tmp_path / "out")
    convert("gt-txt", korean_src(tmp_path, gt), out)
    accounted(out)
    assert sorted(written_labels(out)) == sorted(KOREAN.values())


def test_lone_cr_and_mixed_line_endings(tmp_path):
    gt = "가.png\t가을 하늘\r나.png\t바다\r\n\n".encode()
    out = str(tmp_path / "out")
    convert("gt-txt", korean_src(tmp_path, gt), out)
    assert accounted(out)["counts"]["written"] == 2
    assert all("\r" not in label for label in written_labels(out))


@pytest.mark.parametrize("encoding", ["cp949", "euc-kr"])
def test_legacy_korean_encoding_needs_and_hints_encoding(tmp_path, encoding):
    src = korean_src(tmp_path, korean_gt(encoding))
    result = convert("gt-txt", src, str(tmp_path / "bad"), expect=1)
    assert_one_line_error(result, "gt.txt:1:", "not valid utf-8", "--encoding cp949", "--encoding euc-kr")
    out = str(tmp_path / "out")
    convert("gt-txt", src, out, "--encoding", encoding)
    assert sorted(written_labels(out)) == sorted(KOREAN.values())


def test_utf8_file_read_as_cp949_hints_utf8(tmp_path):
    gt = "a.png\t\ufffe깎\U0001F600\n".encode()
    result = convert("gt-txt", korean_src(tmp_path, gt), str(tmp_path / "o"), "--encoding", "cp949",
                     expect=1)
    assert_one_line_error(result, "gt.txt:1:", "not valid cp949", "--encoding utf-8")


def test_utf16_with_bom_is_named_and_readable(tmp_path):
    src = korean_src(tmp_path, korean_gt("utf-16"))
    result = convert("gt-txt", src, str(tmp_path / "bad"), expect=1)
    assert_one_line_error(result, "gt.txt", "UTF-16 byte-order mark", "--encoding utf-16")
    out = str(tmp_path / "out")
    convert("gt-txt", src, out, "--encoding", "utf-16")
    assert sorted(written_labels(out)) == sorted(KOREAN.values())


def test_utf16_without_bom_is_named(tmp_path):
    result = convert("gt-txt", korean_src(tmp_path, korean_gt("utf-16-le")), str(tmp_path / "o"),
                     expect=1)
    assert_one_line_error(result, "gt.txt:1:", "UTF-16", "--encoding utf-16-le")


def test_bom_contradicting_encoding(tmp_path):
    gt = codecs.BOM_UTF8 + korean_gt("utf-8")
    result = convert("gt-txt", korean_src(tmp_path, gt), str(tmp_path / "o"), "--encoding", "cp949",
                     expect=1)
    assert_one_line_error(result, "UTF-8 byte-order mark", "--encoding utf-8")


@pytest.mark.parametrize("encoding", ["klingon", "hex", "rot13", "undefined"])
def test_unknown_or_non_text_encoding(tmp_path, encoding):
    result = convert("gt-txt", korean_src(tmp_path, korean_gt("utf-8")), str(tmp_path / "o"),
                     "--encoding", encoding, expect=1)
    assert_one_line_error(result, f"--encoding {encoding!r}: unknown text encoding")


def test_empty_and_blank_files(tmp_path):
    result = convert("gt-txt", gt_source(str(tmp_path / "a"), b""), str(tmp_path / "o"), expect=1)
    assert_one_line_error(result, "gt.txt: empty label file")
    result = convert("gt-txt", gt_source(str(tmp_path / "b"), b"\n \r\n\t\n"), str(tmp_path / "o"),
                     expect=1)
    assert_one_line_error(result, "no samples found")


def test_nul_bytes_reject_the_line(tmp_path):
    gt = b"a.png\tgood\nb.png\tba\x00d\nc\x00.png\tbad\n\x00\x00\x00\x00"
    src = gt_source(str(tmp_path / "src"), gt, {"a.png": png(), "b.png": png(1)})
    out = str(tmp_path / "out")
    convert("gt-txt", src, out)
    card = accounted(out)
    assert card["rejects"] == {"nul_byte": 3} and written_labels(out) == ["good"]


def test_mixed_separators_and_tabs_inside_labels(tmp_path):
    """The label is everything after the first separator, tabs included; a line without
    the separator is rejected, never guessed."""
    gt = b"a.png\tone\ttwo\nb.png three\nc.png\t  padded  \n"
    src = gt_source(str(tmp_path / "src"), gt, {n: png(i) for i, n in enumerate(["a.png", "b.png", "c.png"])})
    out = str(tmp_path / "out")
    convert("gt-txt", src, out)
    card = accounted(out)
    assert card["rejects"] == {"no_separator": 1}
    assert sorted(written_labels(out)) == ["  padded  ", "one\ttwo"]
    out2 = str(tmp_path / "out2")
    convert("gt-txt", src, out2, "--sep", "space")
    assert accounted(out2)["counts"]["written"] == 3
    assert sorted(written_labels(out2)) == ["one\ttwo", "padded  ", "three"]


def test_single_huge_line(tmp_path, monkeypatch):
    label = "가" * 200_000  # 600 kB of UTF-8 on one line: still a label
    src = gt_source(str(tmp_path / "src"), f"a.png\t{label}\n".encode(), {"a.png": png()})
    out = str(tmp_path / "out")
    convert("gt-txt", src, out)
    assert written_labels(out) == [label]
    monkeypatch.setattr(textfile, "MAX_LINE_BYTES", 100_000)
    result = convert("gt-txt", src, str(tmp_path / "o2"), expect=1)
    assert_one_line_error(result, "gt.txt:1:", "longer than 100000 bytes")


def test_binary_file_as_label_file(tmp_path):
    src = gt_source(str(tmp_path / "src"), png() * 3)
    result = convert("gt-txt", src, str(tmp_path / "o"), expect=1)
    assert_one_line_error(result, "gt.txt:1:", "not valid utf-8")


def test_duplicated_ids(tmp_path):
    gt = b"a.png\tfirst\nb.png\tother\na.png\tsecond\n./a.png\tthird\n"
    src = gt_source(str(tmp_path / "src"), gt, {"a.png": png(), "b.png": png(1)})
    out = str(tmp_path / "out")
    convert("gt-txt", src, out)
    accounted(out)
    assert reasons(out) == {"a.png": "duplicate_id"}
    assert sorted(written_labels(out)) == ["first", "other", "third"]
