"""Size caps at their boundaries: a file or value exactly at the cap is read, one byte (or
digit, or a ten-thousandth) over is a one-line error."""
from __future__ import annotations

import pytest

from helpers import run_cli
from dataconv import charsets, numbers
from dataconv.errors import DataconvError
from dataconv.io import schema, textfile


def sized(path, size: int, line: bytes = b"a\n") -> str:
    path.write_bytes((line * (size // len(line) + 1))[:size])
    return str(path)


def test_charset_file_at_and_over_its_cap(tmp_path):
    cap = charsets.MAX_CHARSET_BYTES
    assert len(charsets.read_bytes(sized(tmp_path / "at.txt", cap))) == cap
    with pytest.raises(DataconvError, match=f"over the {cap}-byte limit"):
        charsets.read_bytes(sized(tmp_path / "over.txt", cap + 1))


def test_user_yaml_at_and_over_its_cap(tmp_path):
    cap = schema.USER_YAML_BYTES
    head = b"case: lower\n"
    at = tmp_path / "at.yaml"
    at.write_bytes(head + b"#" * (cap - len(head) - 1) + b"\n")
    assert schema.load_yaml(str(at), "YAML") == {"case": "lower"}
    over = tmp_path / "over.yaml"
    over.write_bytes(head + b"#" * (cap - len(head)) + b"\n")
    with pytest.raises(DataconvError, match="over.yaml"):
        schema.load_yaml(str(over), "YAML")


def test_label_file_line_at_and_over_its_cap(tmp_path):
    cap = textfile.MAX_LINE_BYTES  # the line ending counts
    at = tmp_path / "at.txt"
    at.write_bytes(b"x" * (cap - 1) + b"\nnext\n")
    assert [(n, len(line)) for n, line in textfile.read_lines(str(at))] == [(1, cap - 1), (2, 4)]
    over = tmp_path / "over.txt"
    over.write_bytes(b"ok\n" + b"x" * cap + b"\n")
    with pytest.raises(DataconvError, match=r"over.txt:2: a line longer than"):
        list(textfile.read_lines(str(over)))


def test_integer_digits_at_and_over_the_cap():
    digits = "9" * numbers.MAX_INT_DIGITS
    assert numbers.parse_int(digits) == int(digits) and numbers.parse_int("-" + digits) == -int(digits)
    with pytest.raises(ValueError):
        numbers.parse_int("1" + digits)


@pytest.mark.parametrize("pad,code", [("1.0", 0), ("1.0001", 2), ("0", 0), ("-0.0001", 2)])
def test_pad_at_and_over_its_range(tmp_path, pad, code):
    import json

    from pages import noise_page, png

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "p.png").write_bytes(png(noise_page(0, 40, 20)))
    doc = {"shapes": [{"label": "x", "points": [[2, 2], [10, 2], [10, 6], [2, 6]], "shape_type": "polygon"}],
           "imagePath": "p.png", "imageHeight": 20, "imageWidth": 40}
    (tmp_path / "src" / "p.json").write_text(json.dumps(doc), "utf-8")
    result = run_cli("labelme", "-i", tmp_path / "src", "-o", tmp_path / "out", "--pad", pad, "-q",
                     "--split", "none", expect=None)
    assert result.exit_code == code, result.output
    if code:
        assert "--pad" in result.stderr and "range" in result.stderr, result.stderr
