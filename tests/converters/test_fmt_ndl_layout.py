"""dataconv ndl-layout: NDL-DocL Pascal VOC pages to COCO JSON (pycocotools must read it)."""
from __future__ import annotations

import os
from collections import Counter

import pytest

from helpers import load_json, rejects_of, run_cli

COCO = pytest.importorskip("pycocotools.coco").COCO


def layout(src, out, *args) -> dict:
    run_cli("ndl-layout", "-i", src, "-o", out, "-q", *args)
    card = load_json(os.path.join(out, "manifest.json"))
    counts = card["counts"]
    assert counts["input"] == counts["written"] + counts["rejected"] == sum(counts["splits"].values()) + counts["rejected"]
    assert len(rejects_of(str(out))) == counts["rejected"]
    return card


def cocos(out) -> dict:
    return {f: COCO(os.path.join(out, "annotations", f)) for f in os.listdir(os.path.join(out, "annotations"))}


def test_real_21_pages_662_boxes_8_classes(realdata, tmp_path):
    src, out = realdata / "ndl_docl_layout", tmp_path / "all"
    card = layout(src, out, "--classes", "all", "--split", "0.6,0.2,0.2")
    assert card["counts"]["input"] == 662 and card["counts"]["rejected"] == 0
    assert len(card["categories"]) == 8 and "2_handwritten" in card["categories"]
    loaded = cocos(out)
    assert sum(len(c.getImgIds()) for c in loaded.values()) == 21
    pages = [c.imgs[i]["file_name"] for c in loaded.values() for i in c.getImgIds()]
    assert len(set(pages)) == 21 and all(os.path.isfile(out / "images" / p) for p in pages)
    for c in loaded.values():
        for a in c.loadAnns(c.getAnnIds()):
            im = c.imgs[a["image_id"]]
            x, y, w, h = a["bbox"]
            assert 0 <= x and 0 <= y and x + w <= im["width"] and y + h <= im["height"]


def test_real_default_maps_text_lines_to_one_category(realdata, tmp_path):
    card = layout(realdata / "ndl_docl_layout", tmp_path / "text", "--link")
    assert card["categories"] == ["text"]
    assert card["counts"]["written"] == 600 and card["rejects"] == {"unmapped_class": 62}
    image = next((tmp_path / "text" / "images").rglob("*.jpg"))
    assert image.is_symlink()


def test_fixture_clamping_missing_image_and_mapping(tmp_path):
    from dataconv.fixtures.ndl_layout import make

    truth = make(str(tmp_path / "src"))
    card = layout(tmp_path / "src", tmp_path / "out", "--classes", "2_handwritten=hand,8_textline=line",
                  "--split", "none")
    assert card["categories"] == ["hand", "line"]
    wanted = truth["classes"]["2_handwritten"] + truth["classes"]["8_textline"]
    assert card["counts"]["written"] == wanted
    assert Counter(r["reason"] for r in rejects_of(str(tmp_path / "out")))["missing_image"] == 1
    coco = cocos(tmp_path / "out")["train.json"]
    assert max(a["bbox"][0] + a["bbox"][2] for a in coco.loadAnns(coco.getAnnIds())) == 320


def test_bad_class_spec_is_a_one_line_error(tmp_path):
    from dataconv.fixtures.ndl_layout import make

    make(str(tmp_path / "src"))
    result = run_cli("ndl-layout", "-i", tmp_path / "src", "-o", tmp_path / "out", "--classes", "nonsense", expect=1)
    assert "--classes" in result.output or "--classes" in result.stderr
