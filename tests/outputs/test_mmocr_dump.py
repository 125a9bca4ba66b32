"""``dump --style mmocr`` read by MMOCR 1.0.1's own OCRDataset + LoadImageFromFile +
LoadOCRAnnotations, and ``dump --style imagefolder`` read by the ``datasets`` library's
``imagefolder`` loader, over generated labels holding every whitespace and separator kind
and labels that are not UTF-8: each label and image comes back exactly, and the only
labels either style leaves out are those that are not UTF-8 (JSON holds any text, and such
a label would be written as U+FFFD)."""
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
TEXT = st.text(st.sampled_from(SEPARATORS) | st.sampled_from(string.ascii_letters + "가나é😀")
               | st.characters(exclude_categories=("Cs",)), max_size=12)
LABEL = TEXT.map(str.encode) | st.sampled_from([b"\xff", b"caf\xe9", b"\xed\xa0\x80"])  # stored bytes


def text_of(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def dumped(tmp_path, labels: list[bytes], style: str) -> tuple[str, list[tuple[int, str]]]:
    """An LMDB tree holding ``labels`` (image i is png(i)), dumped in ``style``: the split
    folder, and the (image, label) pairs it must hold (the labels that are UTF-8)."""
    root = str(tmp_path / "tree")
    write_lmdb(root, [(label, png(i)) for i, label in enumerate(labels)])
    out = str(tmp_path / style)
    result = run_cli("dump", root, "-o", out, "--style", style)
    held = [(i, text) for i, text in enumerate(map(text_of, labels)) if text is not None]
    left = len(labels) - len(held)
    assert result.stdout.strip() == (f"none: {len(held)} samples written to {os.path.join(out, 'none')}"
                                     + (f" ({left} undecodable_label left out)" if left else ""))
    return os.path.join(out, "none"), held


def fresh(tmp_path_factory) -> object:
    return tmp_path_factory.mktemp("case")


@pytest.mark.skipif(not INSTALLED, reason=MISSING)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(labels=st.lists(LABEL, min_size=1, max_size=6))
def test_mmocr_dump_read_by_mmocr_ocrdataset(tmp_path_factory, labels):
    mm = load_mmocr()
    folder, held = dumped(fresh(tmp_path_factory), labels, "mmocr")
    if not held:  # mmengine refuses an empty data_list
        assert os.listdir(os.path.join(folder, "images")) == []
        return
    dataset = mm.OCRDataset(ann_file="textrecog_none.json", data_root=folder, data_prefix=dict(img_path=""),
                            pipeline=[mm.LoadImageFromFile(ignore_empty=True, min_size=2),
                                      mm.LoadOCRAnnotations(with_text=True)])
    assert dataset.metainfo == {"dataset_type": "TextRecogDataset", "task_name": "textrecog"}
    items = [dataset.prepare_data(i) for i in range(len(dataset))]
    assert [item["gt_texts"] for item in items] == [[text] for _, text in held]
    for (i, _), item in zip(held, items):
        with open(item["img_path"], "rb") as f:
            assert f.read() == png(i)
        assert item["img"].shape == (24, 64, 3)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(labels=st.lists(LABEL, min_size=1, max_size=8))
def test_imagefolder_dump_read_by_the_datasets_library(tmp_path_factory, labels):
    os.environ["HF_HUB_OFFLINE"] = os.environ["HF_DATASETS_OFFLINE"] = "1"
    datasets = pytest.importorskip("datasets")
    case = fresh(tmp_path_factory)
    folder, held = dumped(case, labels, "imagefolder")
    if not held:  # nothing to load: the loader refuses a folder without images
        assert os.listdir(os.path.join(folder, "images")) == []
        return
    ds = datasets.load_dataset("imagefolder", data_dir=folder, split="train", cache_dir=str(case / "cache"))
    ds = ds.cast_column("image", datasets.Image(decode=False))
    rows = sorted((os.path.basename(row["image"]["path"]), row["text"]) for row in ds)
    assert [text for _, text in rows] == [text for _, text in held]  # names are the positions: 000000001.png, ...
    for n, ((i, _), (name, _)) in enumerate(zip(held, rows)):
        assert name == f"{n + 1:09d}.png"
        with open(os.path.join(folder, "images", name), "rb") as f:
            assert f.read() == png(i)
