"""Issue 26, mutation run of dataconv/charsets.py: the survivors that meant a wrong answer
(docs/DEVELOPING.md, "Issue 26 run, second part"). Real files written and loaded."""
from __future__ import annotations

import dataclasses

import pytest

from dataconv import charsets
from dataconv.errors import DataconvError


def write(tmp_path, name: str, data: bytes | str) -> str:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return str(path)


def test_every_form_is_accepted_and_read_as_named(tmp_path):
    path = write(tmp_path, "cs.txt", "ab\ncd\n")
    assert charsets.load(path, form="auto").entries == ("ab", "cd")  # two lines: one per line
    assert charsets.load(path, form="lines").entries == ("ab", "cd")
    assert charsets.load(path, form="string").entries == ("a", "b")  # the first line's characters
    assert charsets.load(path, form="literal").entries == tuple(path)
    yml = write(tmp_path, "cs.conf", "model:\n  charset_train: xyz\n")
    assert charsets.load(yml, form="yaml").entries == ("x", "y", "z")
    with pytest.raises(DataconvError, match="charset form 'json': expected one of auto, lines, string, yaml, literal"):
        charsets.load(path, form="json")


@pytest.mark.parametrize("doc,entries,where", [
    ("model:\n  charset_train: ab\n  charset_test: a\ncharset_train: cd\n", "ab", "model.charset_train"),
    ("charset_train: cd\nmodel:\n  charset_test: ef\ncharset_test: gh\n", "cd", "charset_train"),
    ("model:\n  charset_test: ef\ncharset_test: gh\n", "ef", "model.charset_test"),
    ("charset_test: gh\nmodel: {}\n", "gh", "charset_test"),
])
def test_yaml_keys_in_their_order(tmp_path, doc, entries, where):
    path = write(tmp_path, "cs.yaml", doc)
    cs = charsets.load(path)
    assert (cs.entries, cs.source, cs.form) == (tuple(entries), f"{path}:{where}", "yaml")


def test_yaml_charset_test_and_its_note(tmp_path):
    path = write(tmp_path, "cs.yml", "model:\n  charset_train: abc\n  charset_test: ab\n")
    cs = charsets.load(path)
    assert cs.test_entries == ("a", "b")
    assert cs.notes == ("model.charset_test differs from model.charset_train",)
    assert cs.raw == open(path, "rb").read()
    same = charsets.load(write(tmp_path, "same.yml", "charset_train: ab\ncharset_test: ab\n"))
    assert (same.test_entries, same.notes) == (("a", "b"), ())
    alone = charsets.load(write(tmp_path, "alone.yml", "charset_train: ab\ncharset_test: 7\n"))
    assert (alone.test_entries, alone.notes) == (None, ())
    with pytest.raises(DataconvError, match=r"no model\.charset_train string"):
        charsets.load(write(tmp_path, "none.yaml", "model:\n  charset_train: [a, b]\n"))
    with pytest.raises(DataconvError, match=r"none2\.yaml: no model"):
        charsets.load(write(tmp_path, "none2.yaml", "- a\n- b\n"))
    with pytest.raises(DataconvError, match=r"bad\.yaml: not valid YAML \("):
        charsets.load(write(tmp_path, "bad.yaml", "a: [\n"))


def test_fields_of_each_form(tmp_path):
    lit = charsets.load("abca")
    assert (lit.source, lit.form, lit.empty_lines, lit.notes, lit.raw, lit.test_entries, lit.lines) == (
        "literal", "literal", 0, (), None, None, None)
    string = charsets.load(write(tmp_path, "s.txt", "abca\n"))
    assert (string.form, string.empty_lines, string.notes, string.lines, string.raw) == (
        "string", 0, (), None, b"abca\n")
    lines = charsets.load(write(tmp_path, "l.txt", "a\n\nbc\n\n\na\n"))
    assert (lines.entries, lines.lines, lines.empty_lines, lines.raw) == (
        ("a", "bc", "a"), (1, 3, 6), 3, b"a\n\nbc\n\n\na\n")
    assert "raw=" not in repr(lines)  # 16 MB of bytes never end up in a message
    with pytest.raises(dataclasses.FrozenInstanceError):
        lines.entries = ()  # type: ignore[misc]
    assert hash(lit) == hash(charsets.load("abca"))


def test_repeats_duplicates_and_the_summary(tmp_path):
    lit = charsets.load("abcbdb")
    assert lit.repeats() == {"b": [2, 4, 6]}  # 1-based positions
    assert lit.duplicates() == {"b": 3}
    assert lit.chars == "abcd" and lit.multi_char() == []
    assert lit.summary() == "6 entries (4 distinct) from literal [literal]; duplicated: 'b' x3"
    once = charsets.load("xyz")
    assert (once.repeats(), once.duplicates()) == ({}, {})
    assert once.summary() == "3 entries (3 distinct) from literal [literal]"
    path = write(tmp_path, "l.txt", "\nab\nc\n\nb\nc\nab\n")
    lines = charsets.load(path)
    assert lines.repeats() == {"b": [2, 5, 7], "c": [3, 6], "a": [2, 7]}  # the entries' lines
    assert lines.duplicates() == {"c": 2, "ab": 2}
    assert lines.chars == "cb" and lines.multi_char() == ["ab", "ab"]
    assert lines.summary() == (f"5 entries (3 distinct) from {path} [lines]; duplicated: 'ab' x2, 'c' x2; "
                               "2 empty line(s) skipped")
    string = charsets.load(write(tmp_path, "s.txt", "aba"))
    assert string.repeats() == {"a": [1, 3]}  # positions: one line has no per-entry lines


def test_decode_errors_and_bom(tmp_path):
    path = write(tmp_path, "bad.txt", b"a\nb\n\xff\n")
    with pytest.raises(DataconvError) as e:
        charsets.load(path)
    assert str(e.value) == (f"{path}:3: not valid utf-8 (byte 0xff); give its encoding with "
                            "--charset-encoding, e.g. cp949")
    with pytest.raises(DataconvError, match=r"--charset-encoding 'nope': unknown encoding"):
        charsets.load(path, "nope")
    bom = write(tmp_path, "bom.txt", b"\xef\xbb\xbfa\nb\n")
    assert charsets.load(bom, "UTF8").entries == ("a", "b")  # any spelling of UTF-8
    assert charsets.load(bom, "latin-1").entries == ("\xef\xbb\xbfa", "b")  # not UTF-8: bytes kept


def test_line_splitting(tmp_path):
    assert charsets.split_lines("a\r\nb\rc\nd") == ["a", "b", "c", "d"]
    assert charsets.split_lines("a\n") == ["a"]
    assert charsets.split_lines("a\n\n") == ["a", ""]
    assert charsets.split_lines("") == []
    assert charsets.split_lines("\u2028\n\x85\n") == ["\u2028", "\x85"]
    assert charsets.load(write(tmp_path, "empty.txt", "")).entries == ()
    with pytest.raises(DataconvError, match="--charset: empty"):
        charsets.load("", form="literal")


def test_paths_and_literals(tmp_path):
    (tmp_path / "sub").mkdir()
    for spec in ("x.TXT", "x.yaml", "x.YML", "x.json", "x.dict", str(tmp_path / "sub" / "abc")):
        with pytest.raises(DataconvError, match="no such file"):
            charsets.load(spec)
    for spec in ("abc", "a/b", "txt", str(tmp_path / "nofolder" / "abc")):
        assert charsets.load(spec).entries == tuple(spec)


def test_extend_keeps_the_base_order():
    base = charsets.Charset(("b", "ab", "a", "b"), "x", "lines")
    assert charsets.extend(base, "cabdc") == ("bacd", "cd")
    assert charsets.extend(base, "") == ("ba", "")
