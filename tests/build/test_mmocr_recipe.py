"""The MMOCR mixing line a recipe prints, read by MMOCR 1.0.1's own RecogLMDBDataset: each
``RepeatDataset`` names a folder that dataset opens, and the repeats hold every written
sample of its source ``times`` times."""
from __future__ import annotations

import re

import lmdb
import pytest

from helpers import load_json, run_cli
from hostile_util import png, write_files
from mmocr_util import INSTALLED, MISSING, load_mmocr

pytestmark = pytest.mark.skipif(not INSTALLED, reason=MISSING)


@pytest.mark.xfail(strict=True, raises=lmdb.Error, reason=(
    "bug: recipe.mixing's MMOCR line gives ann_file='OUT/train/<source>', a folder of shard "
    "folders; RecogLMDBDataset opens one LMDB (lmdb.Error: No such file or directory)"))
def test_the_printed_mmocr_datasets_open_and_hold_each_source(tmp_path):
    for name, n in (("a", 3), ("b", 1)):
        write_files(str(tmp_path / name), {"gt.txt": "".join(f"{i}.png\t{name}{i}\n" for i in range(n)).encode(),
                                           **{f"{i}.png": png(i) for i in range(n)}})
    (tmp_path / "r.yaml").write_text("output: out\nsplit: none\nper_source_folders: true\nsources:\n"
                                     "  - {name: a, format: gt-txt, input: a}\n"
                                     "  - {name: b, format: gt-txt, input: b, weight: 0.5}\n", "utf-8")
    run_cli("build", str(tmp_path / "r.yaml"), "-q", "--workers", "1")
    line = load_json(str(tmp_path / "out" / "manifest.json"))["mixing"]["mmocr"]
    parts = re.findall(r"times=(\d+), dataset=dict\(type='RecogLMDBDataset', ann_file='OUT/([^']+)'\)", line)
    assert parts == [("1", "train/a"), ("3", "train/b")]  # b: 0.5 of a batch from 1 sample, a: 0.5 from 3
    mm = load_mmocr()
    texts = []
    for times, folder in parts:
        dataset = mm.RecogLMDBDataset(ann_file=str(tmp_path / "out" / folder), pipeline=[])
        texts += [dataset[i]["instances"][0]["text"] for i in range(len(dataset))] * int(times)
        dataset.close()
    assert sorted(texts) == ["a0", "a1", "a2", "b0", "b0", "b0"]
