"""The line-based dump styles read back by their trainers' reading code, over generated labels
holding every separator and whitespace kind, labels that are not UTF-8 and labels that read
as numbers: what a style writes, its readers give back exactly (label and image, in order),
and every label it leaves out, its readers cannot hold (each is written alone into a label
file beside a plain one and read back), counted by reason in the dump's manifest.

The readers: PaddleOCR's ``SimpleDataSet`` from the installed wheel (tests/ppocr_util.py)
and dataconv's own ``gt-txt``/``paddle-rec`` parser (the round trip); clovaai's ``create_lmdb_dataset.py``
and EasyOCR's ``trainer/dataset.py`` are not installable, so their reading lines are
written here from their source (quoted in each reader)."""
from __future__ import annotations

import logging
import os
from typing import Callable

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from dataconv.converters.gt_txt import label_file_samples
from dataconv.errors import DataconvError
from dataconv.sample import Sample
from helpers import load_json, run_cli, write_lmdb
from hostile_util import png
from ppocr_util import load_simple_dataset

WHITESPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())  # every kind str.strip strips
SEPARATORS = "\t,;:|\"'\\#\x00\u200b\ufeff"
TEXT = st.text(st.sampled_from(WHITESPACE + SEPARATORS) | st.sampled_from("ab가é😀")
               | st.characters(exclude_categories=("Cs",)), max_size=8)
NUMBERS = st.sampled_from(["0", "12", "007", "-3", "1.5", "1e3", "True", "false", "inf"])
NOT_UTF8 = st.sampled_from([b"\xff", b"a\xc3", b"\xed\xa0\x80", b"\x80abc", b"ok\xfe "])
RAW = st.one_of(TEXT.map(str.encode), NUMBERS.map(str.encode), NOT_UTF8)
LABEL_FILES = {"clovaai": "gt.txt", "paddle": "rec_gt.txt", "easyocr": "labels.csv"}
REASONS = {"clovaai": {"multiline_label", "separator_in_label", "undecodable_label"},
           "paddle": {"multiline_label", "separator_in_label", "undecodable_label"},
           "easyocr": {"multiline_label", "stripped_label", "numeric_labels", "undecodable_label"}}
Rows = list[tuple[object, str]]  # (label as the reader gives it, image path relative to the folder)


class Unreadable(Exception):
    """The reader stops on the file (clovaai's unpacking, pandas' decoding)."""


def read_clovaai(folder: str) -> Rows:
    """create_lmdb_dataset.py: ``open(gtFile, 'r', encoding='utf-8')``, ``readlines()``, then
    ``imagePath, label = datalist[i].strip('\\n').split('\\t')``."""
    try:
        with open(os.path.join(folder, "gt.txt"), "r", encoding="utf-8") as data:
            datalist = data.readlines()
        rows = []
        for line in datalist:
            image_path, label = line.strip("\n").split("\t")
            rows.append((label, image_path))
        return rows
    except (ValueError, UnicodeDecodeError) as e:
        raise Unreadable(e) from None


def read_paddle(folder: str) -> Rows:
    """PaddleOCR's SimpleDataSet (eval mode: every line, in order)."""
    config = {"Global": {}, "Eval": {"dataset": {"data_dir": folder, "transforms": [],
                                                 "label_file_list": [os.path.join(folder, "rec_gt.txt")]},
                                     "loader": {"shuffle": False}}}
    logger = logging.getLogger("ppocr-in-test")
    logger.disabled = True  # it logs each line it cannot parse, then returns the next line
    dataset = SIMPLE_DATASET(config, "Eval", logger)
    return [(item["label"], os.path.relpath(item["img_path"], folder))
            for item in (dataset[i] for i in range(len(dataset)))]


def read_dataconv(name: str) -> Callable[[str], Rows]:
    """dataconv's own parser of the label file ``name`` (``gt-txt``, ``paddle-rec``): the
    round trip. A line it rejects (a NUL byte) is refused with a reason, never read as
    another label, so only the samples it parses are compared; an empty file, which it
    refuses, has no lines."""
    def read(folder: str) -> Rows:
        path = os.path.join(folder, name)
        if not os.path.getsize(path):
            return []
        try:
            parsed = list(label_file_samples(folder, path, "tab", "utf-8"))
        except DataconvError as e:
            raise Unreadable(e) from None
        return [(p.label, p.id) for p in parsed if isinstance(p, Sample)]

    read.__name__ = f"dataconv {name}"
    return read


def read_easyocr(folder: str) -> Rows:
    """EasyOCR trainer/dataset.py: ``pd.read_csv(os.path.join(root,'labels.csv'),
    sep='^([^,]+),', engine='python', usecols=['filename', 'words'], keep_default_na=False)``,
    then ``self.df.at[index,'words']``."""
    try:
        df = pd.read_csv(os.path.join(folder, "labels.csv"), sep="^([^,]+),", engine="python",
                         usecols=["filename", "words"], keep_default_na=False)
    except (ValueError, UnicodeDecodeError) as e:
        raise Unreadable(e) from None
    return [(df.at[i, "words"], df.at[i, "filename"]) for i in range(len(df))]


SIMPLE_DATASET = load_simple_dataset()
READERS: dict[str, list[Callable[[str], Rows]]] = {  # the trainer's first
    "clovaai": [read_clovaai, read_dataconv("gt.txt")], "paddle": [read_paddle, read_dataconv("rec_gt.txt")],
    "easyocr": [read_easyocr]}


def holds(style: str, root: str, raws: list[bytes], plain: bool = True) -> bool:
    """Whether every reader of ``style`` gives back exactly the labels ``raws`` (bytes as
    stored), written unfiltered into a label file with, when ``plain``, a plain label
    after them."""
    os.makedirs(os.path.join(root, "images"))
    lines = [(f"images/{k}.png".encode(), raw) for k, raw in enumerate(raws)]
    if plain:
        lines.append((f"images/{len(raws)}.png".encode(), b"plain"))
    for k in range(len(lines)):
        with open(os.path.join(root, "images", f"{k}.png"), "wb") as f:
            f.write(png(k))
    sep = b"," if style == "easyocr" else b"\t"
    head = b"filename,words\n" if style == "easyocr" else b""
    with open(os.path.join(root, LABEL_FILES[style]), "wb") as f:
        f.write(head + b"".join(path + sep + raw + b"\n" for path, raw in lines))
    try:
        expected = [(raw.decode("utf-8"), path.decode()) for path, raw in lines]
    except UnicodeDecodeError:
        return False
    for reader in READERS[style]:
        try:
            rows = reader(root)
        except Unreadable:
            return False
        if rows != expected or not all(isinstance(label, str) for label, _ in rows):
            return False
    return True


def dumped(case, raws: list[bytes], style: str) -> tuple[str, dict]:
    """``raws`` (image k is png(k)) in an LMDB, dumped in ``style``: the folder and the card."""
    os.makedirs(case, exist_ok=True)
    root = write_lmdb(str(case / "tree"), [(raw, png(k)) for k, raw in enumerate(raws)])
    out = str(case / "dump")
    run_cli("dump", root, "-o", out, "--style", style)
    return os.path.join(out, "none"), load_json(os.path.join(out, "manifest.json"))


@pytest.mark.parametrize("style", sorted(LABEL_FILES))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raws=st.lists(RAW, min_size=1, max_size=6))
@example(raws=[b"a\tb", b"c\rd", b"e\nf", b"g ", b" h", b"i\x0bj", b"\xff", b"ok"])
@example(raws=[b"007", b"12", b"-3"])
@example(raws=[b"True", b"false"])
@example(raws=[b"x\x00y", b"\x00"])
def test_what_a_style_writes_its_readers_hold_and_nothing_else_is_left_out(tmp_path_factory, style, raws):
    case = tmp_path_factory.mktemp("case")
    folder, card = dumped(case, raws, style)
    images = [png(k) for k in range(len(raws))]
    trainer, *others = READERS[style]
    written: list[int] = []
    for reader in (trainer, *others):
        rows = reader(folder)
        indices = []
        for label, path in rows:
            with open(os.path.join(folder, path), "rb") as f:
                k = images.index(f.read())
            assert label == raws[k].decode("utf-8") and isinstance(label, str), (reader.__name__, label, raws[k])
            indices.append(k)
        assert indices == sorted(set(indices)), reader.__name__  # in order, each once
        if reader is trainer:
            written = indices
    left_out = [k for k in range(len(raws)) if k not in written]
    assert card["counts"] == {"input": len(raws), "written": len(written), "rejected": len(left_out),
                              "splits": {"none": len(written)}}
    assert sum(card["rejects"].values()) == len(left_out) and set(card["rejects"]) <= REASONS[style]
    alone = [k for k in left_out if holds(style, str(case / f"probe{k}"), [raws[k]])]
    assert len(alone) == card["rejects"].get("numeric_labels", 0), [raws[k] for k in alone]
    if alone:  # held one by one beside a plain label, but not as the whole split
        assert not holds(style, str(case / "together"), [raws[k] for k in alone], plain=False)


def test_a_digits_dataset_dumped_for_easyocr_is_left_out_and_counted(tmp_path):
    """pandas reads an all-number column as numbers: EasyOCR's trainer would get 7, not
    "007", and stop at ``label.lower()``. A split mixing numbers and words keeps them."""
    folder, card = dumped(tmp_path / "digits", [b"007", b"12", b"3"], "easyocr")
    assert card["rejects"] == {"numeric_labels": 3} and read_easyocr(folder) == []
    assert os.listdir(os.path.join(folder, "images")) == []
    folder, card = dumped(tmp_path / "mixed", [b"007", b"12", b"word"], "easyocr")
    assert card["rejects"] == {} and [label for label, _ in read_easyocr(folder)] == ["007", "12", "word"]


def test_not_utf8_is_left_out_of_every_style(tmp_path):
    """Each style would write U+FFFD in its place, silently changing the label."""
    for style in ("clovaai", "paddle", "mmocr", "easyocr", "imagefolder"):
        folder, card = dumped(tmp_path / style, [b"ok", b"caf\xe9", b"\xed\xa0\x80"], style)
        assert card["rejects"] == {"undecodable_label": 2}, style
        for name in os.listdir(folder):
            if name != "images":
                with open(os.path.join(folder, name), "rb") as f:
                    text = f.read()
                assert b"ok" in text and "\ufffd".encode() not in text, style
