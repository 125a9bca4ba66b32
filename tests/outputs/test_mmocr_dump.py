"""``dump --style mmocr`` read by MMOCR 1.0.1's own OCRDataset + LoadImageFromFile +
LoadOCRAnnotations, and ``dump --style imagefolder`` read by the ``datasets`` library's
``imagefolder`` loader, over generated labels holding every whitespace and separator kind:
each label and image comes back exactly, and neither style leaves a sample out (JSON holds
any text)."""
from __future__ import annotations

import os
import string

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from helpers import run_cli, write_lmdb
from hostile_util import png
from mmocr_util import INSTALLED, MISSING, load_mmocr

# every separator a label file may split on, every Unicode line break and space kind
SEPARATORS = "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u2029 \u00a0\u1680\u2000\u200a\u200b\u202f\u205f\u3000\ufeff,;:|\"'\\{}[]/#"
LABEL = st.text(st.sampled_from(SEPARATORS) | st.sampled_from(string.ascii_letters + "가나é😀")
                | st.characters(exclude_categories=("Cs",)), max_size=12)


def dumped(tmp_path, labels: list[str], style: str) -> str:
    """An LMDB tree holding ``labels`` (image i is png(i)), dumped in ``style``; the split folder."""
    root = str(tmp_path / "tree")
    write_lmdb(root, [(label, png(i)) for i, label in enumerate(labels)])
    out = str(tmp_path / style)
    result = run_cli("dump", root, "-o", out, "--style", style)
    assert result.stdout.strip() == f"none: {len(labels)} samples written to {os.path.join(out, 'none')}"
    return os.path.join(out, "none")


def fresh(tmp_path_factory) -> object:
    return tmp_path_factory.mktemp("case")


@pytest.mark.skipif(not INSTALLED, reason=MISSING)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(labels=st.lists(LABEL, min_size=1, max_size=6))
def test_mmocr_dump_read_by_mmocr_ocrdataset(tmp_path_factory, labels):
    mm = load_mmocr()
    folder = dumped(fresh(tmp_path_factory), labels, "mmocr")
    dataset = mm.OCRDataset(ann_file="textrecog_none.json", data_root=folder, data_prefix=dict(img_path=""),
                            pipeline=[mm.LoadImageFromFile(ignore_empty=True, min_size=2),
                                      mm.LoadOCRAnnotations(with_text=True)])
    assert dataset.metainfo == {"dataset_type": "TextRecogDataset", "task_name": "textrecog"}
    items = [dataset.prepare_data(i) for i in range(len(dataset))]
    assert [item["gt_texts"] for item in items] == [[label] for label in labels]
    for i, item in enumerate(items):
        with open(item["img_path"], "rb") as f:
            assert f.read() == png(i)
        assert item["img"].shape == (24, 64, 3)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(labels=st.lists(LABEL, min_size=1, max_size=8))
def test_imagefolder_dump_read_by_the_datasets_library(tmp_path_factory, labels):
    os.environ["HF_HUB_OFFLINE"] = os.environ["HF_DATASETS_OFFLINE"] = "1"
    datasets = pytest.importorskip("datasets")
    case = fresh(tmp_path_factory)
    folder = dumped(case, labels, "imagefolder")
    ds = datasets.load_dataset("imagefolder", data_dir=folder, split="train", cache_dir=str(case / "cache"))
    ds = ds.cast_column("image", datasets.Image(decode=False))
    rows = sorted((os.path.basename(row["image"]["path"]), row["text"]) for row in ds)
    assert [text for _, text in rows] == labels  # names are the positions: 000000001.png, ...
    for i, (name, _) in enumerate(rows):
        assert name == f"{i + 1:09d}.png"
        with open(os.path.join(folder, "images", name), "rb") as f:
            assert f.read() == png(i)
