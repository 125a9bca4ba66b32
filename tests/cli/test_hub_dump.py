"""``dataconv dump``: every style's folder per split, image bytes unchanged, and the round trip
dump -> dataconv conversion -> the same labels and images in the same order."""
from __future__ import annotations

import csv
import json
import os

import pytest

from helpers import load_json, read_lmdb, run_cli
from hostile_util import convert, png, write_files
from test_hub_ls_show import write_tree

LABELS = ["hello", "가나다", "two words", "a\tb", "x,y", 'say "hi"', "café", "0123"]


def dataset(tmp_path) -> str:
    """A dataconv output with three splits, whose labels exercise every separator."""
    lines = "".join(f"img{i}.png\t{label}\n" for i, label in enumerate(LABELS)).encode()
    src = write_files(str(tmp_path / "src"), {"gt.txt": lines, **{f"img{i}.png": png(i) for i in range(len(LABELS))}})
    out = str(tmp_path / "out")
    convert("gt-txt", src, out, "--gt", os.path.join(src, "gt.txt"), "--split", "0.5,0.25,0.25")
    return out


def stored(out: str) -> dict[str, list[tuple[str, bytes]]]:
    return {split: read_lmdb(os.path.join(out, split, "shard-00000"))
            for split in ("train", "val", "test") if os.path.isdir(os.path.join(out, split))}


def images_of(folder: str, paths: list[str]) -> list[bytes]:
    for path in paths:
        assert path.startswith("images/") and path[7:16].isdigit()  # safe on Windows and Linux
    return [open(os.path.join(folder, p), "rb").read() for p in paths]


@pytest.mark.parametrize("style,fmt,label_file", [("clovaai", "gt-txt", "gt.txt"),
                                                  ("paddle", "paddle-rec", "rec_gt.txt")])
def test_dump_converted_back_gives_the_same_samples(tmp_path, style, fmt, label_file):
    out = dataset(tmp_path)
    dump = str(tmp_path / "dump")
    result = run_cli("dump", out, "-o", dump, "--style", style)
    original = stored(out)
    kept = {s: [(label, image) for label, image in v if "\t" not in label] for s, v in original.items()}
    assert result.stdout.splitlines() == [  # a TAB: the trainer's reader splits the line there
        f"{s}: {len(kept[s])} samples written to {os.path.join(dump, s)}"
        + (f" ({len(v) - len(kept[s])} separator_in_label left out)" if len(v) > len(kept[s]) else "")
        for s, v in original.items()]
    for split, samples in kept.items():
        folder = os.path.join(dump, split)
        flag = "--gt" if fmt == "gt-txt" else "--labels"
        back = str(tmp_path / f"back-{split}")
        convert(fmt, folder, back, flag, os.path.join(folder, label_file))
        assert read_lmdb(os.path.join(back, "train", "shard-00000")) == samples


def test_mmocr_easyocr_imagefolder_files_hold_the_samples(tmp_path):
    out = dataset(tmp_path)
    original = stored(out)
    for style in ("mmocr", "easyocr", "imagefolder"):
        run_cli("dump", out, "-o", str(tmp_path / style), "--style", style)
    for split, samples in original.items():
        folder = os.path.join(tmp_path, "mmocr", split)
        doc = load_json(os.path.join(folder, f"textrecog_{split}.json"))
        assert doc["metainfo"] == {"dataset_type": "TextRecogDataset", "task_name": "textrecog"}
        paths = [d["img_path"] for d in doc["data_list"]]
        assert list(zip([d["instances"][0]["text"] for d in doc["data_list"]], images_of(folder, paths))) == samples

        folder = os.path.join(tmp_path, "easyocr", split)
        with open(os.path.join(folder, "labels.csv"), encoding="utf-8") as f:
            lines = f.read().splitlines()
        assert lines[0] == "filename,words"
        rows = [line.split(",", 1) for line in lines[1:]]  # EasyOCR's own split: the first comma
        assert list(zip([w for _, w in rows], images_of(folder, [p for p, _ in rows]))) == samples

        folder = os.path.join(tmp_path, "imagefolder", split)
        with open(os.path.join(folder, "metadata.jsonl"), encoding="utf-8") as f:
            meta = [json.loads(line) for line in f]
        assert list(zip([m["text"] for m in meta], images_of(folder, [m["file_name"] for m in meta]))) == samples


def test_samples_a_style_cannot_carry_are_counted(tmp_path):
    root = write_tree(str(tmp_path / "tree"), {"lmdbs": [
        (b"fine", png(0)), (b"two\nlines", png(1)), (b"no image", None), (None, png(2))]})
    text = run_cli("dump", root, "-o", str(tmp_path / "gt"), "--style", "clovaai").stdout
    assert text.strip() == (f"none: 1 samples written to {tmp_path / 'gt' / 'none'} "
                            "(1 missing_image, 1 missing_label, 1 multiline_label left out)")
    with open(tmp_path / "gt" / "none" / "gt.txt", encoding="utf-8") as f:
        assert f.read() == "images/000000001.png\tfine\n"
    card = load_json(str(tmp_path / "gt" / "manifest.json"))
    assert card["counts"] == {"input": 4, "written": 1, "rejected": 3, "splits": {"none": 1}}
    run_cli("dump", root, "-o", str(tmp_path / "hf"), "--style", "imagefolder")
    with open(tmp_path / "hf" / "none" / "metadata.jsonl", encoding="utf-8") as f:
        assert [json.loads(line)["text"] for line in f] == ["fine", "two\nlines"]


def test_dump_target_rules(tmp_path):
    out = dataset(tmp_path)
    other = write_files(str(tmp_path / "mine"), {"keep.txt": b"mine"})
    result = run_cli("dump", out, "-o", other, "--style", "clovaai", expect=2)
    assert "is not a dataconv output" in result.stderr
    assert os.listdir(other) == ["keep.txt"]
    assert "lies inside the source" in run_cli("dump", out, "-o", os.path.join(out, "d"), "--style", "paddle",
                                               expect=2).stderr
    dump = str(tmp_path / "dump")
    run_cli("dump", out, "-o", dump, "--style", "clovaai")
    assert "already exists" in run_cli("dump", out, "-o", dump, "--style", "paddle", expect=2).stderr
    run_cli("dump", out, "-o", dump, "--style", "paddle", "--overwrite")
    assert sorted(os.listdir(os.path.join(dump, "train"))) == ["images", "rec_gt.txt"]
    assert [e for e in os.listdir(tmp_path) if "dataconv-tmp" in e] == []
