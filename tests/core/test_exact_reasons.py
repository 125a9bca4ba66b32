"""Every reject reason of docs/guarantees.md is produced by a test. This file makes the
ones no other test made (malformed_line, multiline_label, ambiguous_label,
unreadable_label, ambiguous_image, undecodable_label, unencodable_crop, no_label_in_name)
from real files and asserts the exact outcome: the reason, where, and the counts; and it
checks that every reason in the docs table is named by some test."""
from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import numpy as np
from PIL import Image

from helpers import REPO, rejects_of
from dataconv.fixtures.base import encode, ink_image
from dataconv.fixtures.lmdb_source import write_lmdb
from hostile_util import accounted, convert, png, write_files, written_labels

ROOT = Path(REPO)
BOOK = "00AB"


def only_reject(out: str) -> dict:
    rows = rejects_of(out)
    assert len(rows) == 1, rows
    return rows[0]


def test_malformed_line_icdar2015(tmp_path) -> None:
    """A box line with 7 coordinates, or a coordinate that is not a number, is a reject of
    that line; the good line of the same file is written."""
    page = encode(ink_image(200, 60, random.Random(0), "RGB"), "JPEG")
    gt = "10,10,80,10,80,40,10,40,GOOD\n10,10,80,10,80,40,10,SHORT\n1,2,3,4,5,6,7,x,BAD\n"
    src = write_files(str(tmp_path / "src"), {"gt_img_1.txt": gt.encode(), "img_1.jpg": page})
    convert("icdar2015", src, str(tmp_path / "out"))
    card = accounted(str(tmp_path / "out"))
    assert card["counts"] == {"input": 3, "written": 1, "rejected": 2, "splits": {"train": 1}}
    assert card["rejects"] == {"malformed_line": 2}
    assert sorted(r["source"] for r in rejects_of(str(tmp_path / "out"))) == ["gt_img_1.txt:2", "gt_img_1.txt:3"]
    assert written_labels(str(tmp_path / "out")) == ["GOOD"]


def minhon_pair(key: str, label: bytes, image: str = ".jpg") -> dict[str, bytes]:
    return {f"{key}{image}": encode(ink_image(40, 160, random.Random(1), "RGB"), "JPEG"),
            f"{key}.txt": label}


def test_minhon_label_reasons(tmp_path) -> None:
    """multiline_label (two lines of text), unreadable_label (not UTF-8), ambiguous_label
    (x.txt and x.gt.txt), ambiguous_image (x.jpg and x.png): one reject each, named by
    the file; the one good pair is written."""
    files = {**minhon_pair(f"{BOOK}-001_0", "いろは\n".encode()),
             **minhon_pair(f"{BOOK}-001_1", "いろ\nはに\n".encode()),
             **minhon_pair(f"{BOOK}-001_2", b"\xff\xfe\xfa bad\n"),
             **minhon_pair(f"{BOOK}-001_3", "ちり\n".encode()), f"{BOOK}-001_3.gt.txt": "ぬる\n".encode(),
             **minhon_pair(f"{BOOK}-001_4", "をわ\n".encode()), f"{BOOK}-001_4.png": png()}
    src = write_files(str(tmp_path / "src"), files)
    convert("minhon", src, str(tmp_path / "out"))
    card = accounted(str(tmp_path / "out"))
    assert card["counts"]["input"] == 5 and card["counts"]["written"] == 1
    assert card["rejects"] == {"multiline_label": 1, "unreadable_label": 1, "ambiguous_label": 1,
                               "ambiguous_image": 1}
    by_reason = {r["reason"]: r for r in rejects_of(str(tmp_path / "out"))}
    assert by_reason["multiline_label"]["source"] == f"{BOOK}-001_1.txt"
    assert by_reason["unreadable_label"]["source"] == f"{BOOK}-001_2.txt"
    assert by_reason["ambiguous_label"]["id"] == f"{BOOK}-001_3"
    assert by_reason["ambiguous_image"]["id"] == f"{BOOK}-001_4"
    assert written_labels(str(tmp_path / "out")) == ["いろは"]


def test_ambiguous_image_aihub(tmp_path) -> None:
    """A file name found in two folders is not guessed between: ambiguous_image, naming both."""
    doc = {"images": [{"id": "1", "file_name": "a.png"}, {"id": "2", "file_name": "b.png"}],
           "annotations": [{"id": "1", "image_id": "1", "text": "가", "attributes": {"type": "문장"}},
                           {"id": "2", "image_id": "2", "text": "나", "attributes": {"type": "문장"}}]}
    src = write_files(str(tmp_path / "src"), {
        "handwriting_data_info1.json": json.dumps(doc, ensure_ascii=False).encode(),
        "one/a.png": png(1), "two/a.png": png(2), "one/b.png": png(3)})
    convert("aihub", src, str(tmp_path / "out"))
    card = accounted(str(tmp_path / "out"))
    assert card["counts"]["input"] == 2 and card["rejects"] == {"ambiguous_image": 1}
    row = only_reject(str(tmp_path / "out"))
    assert "one/a.png" in row["detail"] and "two/a.png" in row["detail"]
    assert written_labels(str(tmp_path / "out")) == ["나"]


def test_undecodable_label_lmdb(tmp_path) -> None:
    """A label that is not UTF-8 in an existing LMDB: undecodable_label at that index."""
    image = png(4)
    write_lmdb(str(tmp_path / "src" / "train"), [(b"ok", image), (b"\xc3\x28", image), (b"fine", image)])
    convert("lmdb", str(tmp_path / "src"), str(tmp_path / "out"))
    card = accounted(str(tmp_path / "out"))
    assert card["counts"]["input"] == 3 and card["rejects"] == {"undecodable_label": 1}
    row = only_reject(str(tmp_path / "out"))
    assert row["id"].endswith("#000000002") and "byte 0" in row["detail"]
    assert sorted(written_labels(str(tmp_path / "out"))) == ["fine", "ok"]
    convert("lmdb", str(tmp_path / "src"), str(tmp_path / "re"), "--label-regex", "f.*")
    card = accounted(str(tmp_path / "re"))
    assert card["rejects"] == {"undecodable_label": 1, "filtered_label": 1}
    assert written_labels(str(tmp_path / "re")) == ["fine"]


def test_unencodable_crop_jpeg_side(tmp_path) -> None:
    """A crop wider than JPEG's 65535 limit cannot be encoded as JPEG: unencodable_crop
    (the other box of the page is written); as PNG both are written."""
    wide = np.full((8, 70000), 255, np.uint8)
    wide[:, :100] = 0
    page = encode(Image.fromarray(wide), "PNG")
    boxes = ('[{"transcription": "LONG", "points": [[0, 0], [69999, 0], [69999, 8], [0, 8]]},'
             ' {"transcription": "SHORT", "points": [[0, 0], [90, 0], [90, 8], [0, 8]]}]')
    src = write_files(str(tmp_path / "src"), {"p.png": page, "label.txt": f"p.png\t{boxes}\n".encode()})
    convert("paddle-det", src, str(tmp_path / "out"), "--labels", os.path.join(src, "label.txt"),
            "--crop-format", "jpeg")
    card = accounted(str(tmp_path / "out"))
    assert card["counts"]["input"] == 2 and card["rejects"] == {"unencodable_crop": 1}
    assert "as jpeg" in only_reject(str(tmp_path / "out"))["detail"]
    assert written_labels(str(tmp_path / "out")) == ["SHORT"]
    convert("paddle-det", src, str(tmp_path / "png"), "--labels", os.path.join(src, "label.txt"))
    assert sorted(written_labels(str(tmp_path / "png"))) == ["LONG", "SHORT"]


def test_no_label_in_name_mjsynth(tmp_path) -> None:
    """A listed file name without ``_word_`` has no label: no_label_in_name, never opened."""
    files = {"1/1/3_Hello_7.jpg": encode(ink_image(60, 32, random.Random(3)), "JPEG"),
             "annotation_train.txt": b"./1/1/3_Hello_7.jpg 7\n./1/1/noword.jpg 1\n./1/1/4_8.jpg 8\n"}
    src = write_files(str(tmp_path / "src"), files)
    convert("mjsynth", src, str(tmp_path / "out"))
    card = accounted(str(tmp_path / "out"))
    assert card["counts"]["input"] == 3 and card["rejects"] == {"no_label_in_name": 2}
    assert written_labels(str(tmp_path / "out")) == ["Hello"]


def documented_reasons() -> set[str]:
    text = (ROOT / "docs" / "guarantees.md").read_text(encoding="utf-8")
    table = text.split("## Reject reasons", 1)[1].split("\n## ", 1)[0]
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    return {name for cell in first_cells for name in re.findall(r"`([a-z_]+)`", cell)}


def test_every_documented_reason_is_named_by_a_test() -> None:
    """Each reason of the docs table appears as a string in a test (or in a fixture whose
    stated outcome a test asserts exactly): a reason no test produces fails here."""
    sources = [p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("**/test_*.py")]
    sources.append((ROOT / "fixtures" / "hostile.py").read_text(encoding="utf-8"))
    sources += [p.read_text(encoding="utf-8") for p in (ROOT / "fixtures").glob("*.py")]
    missing = sorted(r for r in documented_reasons()
                     if not any(f'"{r}"' in s or f"'{r}'" in s or f"{r}=" in s for s in sources))
    assert len(documented_reasons()) >= 40
    assert missing == []
