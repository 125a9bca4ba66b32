"""The MMOCR mixing line a recipe prints, read by MMOCR 1.0.1's own RecogLMDBDataset: each
``RepeatDataset`` names its source's shards (RecogLMDBDataset opens one LMDB, not a folder
of them), and the repeats hold every written sample of its source ``times`` times."""
from __future__ import annotations

import re

import pytest

from helpers import load_json, run_cli
from hostile_util import png, write_files
from mmocr_util import INSTALLED, MISSING, load_mmocr

pytestmark = pytest.mark.skipif(not INSTALLED, reason=MISSING)


def test_the_printed_mmocr_datasets_open_and_hold_each_source(tmp_path):
    for name, n in (("a", 3), ("b", 1)):
        write_files(str(tmp_path / name), {"gt.txt": "".join(f"{i}.png\t{name}{i}\n" for i in range(n)).encode(),
                                           **{f"{i}.png": png(i) for i in range(n)}})
    (tmp_path / "r.yaml").write_text("output: out\nsplit: none\nper_source_folders: true\nsources:\n"
                                     "  - {name: a, format: gt-txt, input: a}\n"
                                     "  - {name: b, format: gt-txt, input: b, weight: 0.5}\n", "utf-8")
    run_cli("build", str(tmp_path / "r.yaml"), "-q", "--workers", "1")
    line = load_json(str(tmp_path / "out" / "manifest.json"))["mixing"]["mmocr"]
    repeats = re.findall(r"dict\(type='RepeatDataset', times=(\d+), dataset=dict\(type='ConcatDataset', "
                         r"datasets=\[((?:dict\(type='RecogLMDBDataset', ann_file='OUT/[^']+'\)(?:, )?)+)\]\)\)", line)
    parts = [(int(times), re.findall(r"ann_file='OUT/([^']+)'", inner)) for times, inner in repeats]
    assert parts == [(1, ["train/a/shard-00000"]), (3, ["train/b/shard-00000"])]
    mm = load_mmocr()
    texts = []
    for times, shards in parts:
        for shard in shards:
            dataset = mm.RecogLMDBDataset(ann_file=str(tmp_path / "out" / shard), pipeline=[])
            texts += [dataset[i]["instances"][0]["text"] for i in range(len(dataset))] * times
            dataset.close()
    assert sorted(texts) == ["a0", "a1", "a2", "b0", "b0", "b0"]


def test_a_source_of_several_shards_lists_each_shard_once_in_its_repeat():
    from dataconv.build.recipe import _mmocr_repeat

    shards = ["train/a/shard-00001", "train/ab/shard-00000", "train/a/shard-00000", "val/a/shard-00000"]
    assert _mmocr_repeat(2, "train/a", shards) == (
        "dict(type='RepeatDataset', times=2, dataset=dict(type='ConcatDataset', datasets=["
        "dict(type='RecogLMDBDataset', ann_file='OUT/train/a/shard-00000'), "
        "dict(type='RecogLMDBDataset', ann_file='OUT/train/a/shard-00001')]))")
