"""The line-based dump styles (clovaai ``gt.txt``, paddle ``rec_gt.txt``, easyocr
``labels.csv``) over generated labels holding every line-break kind: the file has exactly one
line per written sample as its readers split it (Python's text mode, which clovaai's
``create_lmdb_dataset.py`` and pandas use: ``\\n``, ``\\r``, ``\\r\\n``; PaddleOCR's binary
``readlines``: ``\\n``), each line gives back its label, and every label holding a CR or LF is
left out as ``multiline_label``. Tabs and commas are left to the separator tests."""
from __future__ import annotations

import os

from hypothesis import HealthCheck, example, given, settings, strategies as st

from helpers import run_cli, write_lmdb
from hostile_util import png

BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
LABEL = st.lists(st.sampled_from([*BREAKS, "\r\n", " ", "a", "b", "가", "é"]), min_size=1, max_size=6).map("".join)
STYLES = {"clovaai": ("gt.txt", "\t", 0), "paddle": ("rec_gt.txt", "\t", 0), "easyocr": ("labels.csv", ",", 1)}


def lines_as_read(path: str, style: str) -> list[str]:
    if style == "paddle":  # ppocr SimpleDataSet: open(file, "rb").readlines(), then decode, strip("\n")
        with open(path, "rb") as f:
            return [line.decode("utf-8").strip("\n") for line in f.readlines()]
    with open(path, encoding="utf-8") as f:  # text mode: universal newlines
        return [line.rstrip("\n") for line in f.readlines()]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(labels=st.lists(LABEL, min_size=1, max_size=6), style=st.sampled_from(sorted(STYLES)))
@example(labels=["a\rb", "ok", "x\ny", "\u2028", "c\r"], style="clovaai")
@example(labels=["a\rb", "ok", "\r\n", "c\x85"], style="easyocr")
def test_line_based_styles_hold_exactly_the_labels_without_cr_or_lf(tmp_path_factory, labels, style):
    case = tmp_path_factory.mktemp("case")
    images = [png(i) for i in range(len(labels))]
    root = write_lmdb(str(case / "tree"), list(zip(labels, images)))
    folder = os.path.join(str(case / "dump"), "none")
    stdout = run_cli("dump", root, "-o", os.path.dirname(folder), "--style", style).stdout
    name, sep, header = STYLES[style]
    written = []
    for line in lines_as_read(os.path.join(folder, name), style)[header:]:
        assert sep in line, (style, line)  # a label broken over two lines
        path, label = line.split(sep, 1)
        with open(os.path.join(folder, path), "rb") as f:
            index = images.index(f.read())
        assert label == labels[index]
        written.append(index)
    assert written == sorted(written)
    left_out = [labels[i] for i in range(len(labels)) if i not in written]
    assert all(set(label) & set(BREAKS) for label in left_out)
    assert not [label for label in labels if ("\n" in label or "\r" in label) and label not in left_out]
    summary = f"none: {len(written)} samples written to {folder}"
    assert stdout.strip() == summary + (f" ({len(left_out)} multiline_label left out)" if left_out else "")
