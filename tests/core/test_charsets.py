"""Charsets in every form: each real dictionary loads to its documented count, and
``dataconv charset`` writes files each trainer (and our loader) reads back."""
from __future__ import annotations

import re

import pytest

from helpers import REALDATA, run_cli
from dataconv import charsets
from dataconv.errors import DataconvError
from dataconv.validators.trainers import clovaai_safe
from dataconv.outputs.lmdb_writer import ShardWriter

DICTS = REALDATA / "charsets"

# (file, encoding, entries, distinct, form) as documented in realdata/README.md and STATS.txt
REAL = [
    ("paddleocr-2.7.3/korean_dict.txt", "utf-8", 3688, 3688, "lines"),
    ("paddleocr-2.7.3/japan_dict.txt", "utf-8", 4399, 4399, "lines"),
    ("paddleocr-2.7.3/ppocr_keys_v1.txt", "utf-8", 6623, 6623, "lines"),
    ("paddleocr-2.7.3/en_dict.txt", "utf-8", 95, 95, "lines"),
    ("paddleocr-2.7.3/ic15_dict.txt", "utf-8", 36, 36, "lines"),
    ("easyocr-1.7.2/ko_char.txt", "utf-8", 1472, 1472, "lines"),
    ("easyocr-1.7.2/ja_char.txt", "utf-8", 2100, 2100, "lines"),
    ("easyocr-1.7.2/en_char.txt", "utf-8", 52, 52, "lines"),
    ("ndl_text_recognition_lightning/mojilist_NDL.txt", "utf-8", 7083, 7083, "lines"),
    ("ndlocr-lite/NDLmoji.yaml", "utf-8", 7141, 7141, "yaml"),
    ("ndlkotenocr-lite/NDLmoji.yaml", "utf-8", 7141, 7138, "yaml"),
    ("ksx/2350.txt", "utf-8", 2350, 2350, "string"),
    ("ksx/11172.txt", "utf-8", 11172, 11172, "string"),
    ("ksx/jisx0208.txt", "utf-8", 6879, 6879, "string"),
    ("koreanCodec.cp949.txt", "cp949", 11208, 11208, "string"),
]


@pytest.mark.parametrize("name,encoding,entries,distinct,form", REAL)
def test_real_charsets_load_to_documented_counts(name, encoding, entries, distinct, form):
    cs = charsets.load(str(DICTS / name), encoding)
    assert (len(cs), len(cs.unique), cs.form) == (entries, distinct, form)
    assert not cs.multi_char()


def test_special_entries_and_duplicates_are_kept_and_reported():
    korean = charsets.load(str(DICTS / "paddleocr-2.7.3/korean_dict.txt"))
    assert " " in korean and "\u200b" in korean
    japan = charsets.load(str(DICTS / "paddleocr-2.7.3/japan_dict.txt"))
    assert {" ", "\u3000", "\u200b"} <= japan.unique
    assert "\u3000" in charsets.load(str(DICTS / "paddleocr-2.7.3/ppocr_keys_v1.txt"))  # no final newline
    koten = charsets.load(str(DICTS / "ndlkotenocr-lite/NDLmoji.yaml"))
    assert koten.duplicates() == {"〓": 4} and "〓" in koten.summary()
    assert "가" in charsets.load(str(DICTS / "koreanCodec.cp949.txt"), "cp949")


def test_wrong_encoding_names_the_file_and_hints(tmp_path):
    with pytest.raises(DataconvError, match="cp949"):
        charsets.load(str(DICTS / "koreanCodec.cp949.txt"))


def test_line_endings_and_literals(tmp_path):
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes("a\r\n \r\n\u3000\r\nb".encode("utf-8"))
    assert charsets.load(str(crlf)).entries == ("a", " ", "\u3000", "b")
    bom = tmp_path / "bom.txt"
    bom.write_bytes(b"\xef\xbb\xbfx\ny\n")
    assert charsets.load(str(bom)).entries == ("x", "y")
    lit = charsets.load("abc]-")
    assert (lit.form, lit.chars) == ("literal", "abc]-")


def _tree(root):
    with ShardWriter(str(root / "train" / "shard-00000")) as w:
        for label in ("가나 다", "a]b-c", "x\\y^z", "テスト"):
            w.add(label, b"img")
    with ShardWriter(str(root / "val" / "shard-00000")) as w:
        for label in ("값", "가"):
            w.add(label, b"img")
    return str(root)


@pytest.mark.parametrize("style", ["paddle", "clovaai", "parseq"])
def test_charset_command_round_trips_in_each_style(tmp_path, style):
    data = _tree(tmp_path / "data")
    out = tmp_path / f"cs.{'yaml' if style == 'parseq' else 'txt'}"
    result = run_cli("charset", data, "-o", out, "--style", style)
    assert "val has 1 characters train lacks: '값'x1" in result.stdout
    every = set("가나 다a]b-cx\\y^zテスト값")
    loaded = charsets.load(str(out))
    expected = every - {" "} if style == "parseq" else every
    assert set(loaded.entries) == expected
    if style == "clovaai":
        text = out.read_text("utf-8").rstrip("\n")
        regex = re.compile(f"[^{text}]")
        assert all(regex.search(ch) is None for ch in every) and regex.search("Q")


def test_clovaai_safe_order_reads_as_a_plain_set():
    for chars in ("]^\\-abc", "-abc", "\\", "^", "a-z"):
        regex = re.compile(f"[^{clovaai_safe(chars)}]")
        assert all(regex.search(ch) is None for ch in chars)
        assert regex.search("Q") and regex.search("b" if "b" not in chars else "Z")


def test_a_mistyped_charset_path_is_an_error_not_a_literal(tmp_path):
    from dataconv.charsets import load
    from dataconv.errors import DataconvError

    for spec in (str(tmp_path / "missing" / "dict.txt"), str(tmp_path / "dict"), "korean_dict.txt"):
        with pytest.raises(DataconvError, match="no such file"):
            load(spec)
    assert load("0123456789abc/-.").chars == "0123456789abc/-."
