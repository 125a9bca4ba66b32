"""Real-data folders whose quirks the shared README marks as worth a test, each converted and
compared with figures computed here from the files themselves (PIL sizes, the gt files,
NDLOCR's XML line boxes): RGBA PNGs (clovaai demo), vertical and tiny crops (PARSeq demo),
real Japanese pages cut into vertical and horizontal lines (ndlocr-lite)."""
from __future__ import annotations

import io
import json
import shutil
import xml.etree.ElementTree as ET

import numpy as np
from PIL import Image

from helpers import rejects_of, run_cli
from fmt_util import convert, written


def gt_lines(path) -> dict[str, str]:
    """``path<TAB>label`` lines of a derived gt.txt, read without dataconv."""
    return dict(line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines())


def test_clovaai_demo_rgba_pngs_written_byte_for_byte(realdata, tmp_path):
    root = realdata / "clovaai_dtrb_demo"
    truth = gt_lines(root / "gt.txt")
    card = convert("gt-txt", root, tmp_path / "out", "--gt", root / "gt.txt")
    assert card["counts"] == {"input": 10, "written": 10, "rejected": 0, "splits": {"train": 10}}
    got = {sid: (label, data) for sid, label, data in written(tmp_path / "out")}
    assert {sid: label for sid, (label, _) in got.items()} == truth
    assert all(data == (root / sid).read_bytes() for sid, (_, data) in got.items())
    rgba = sorted(sid for sid in truth if Image.open(root / sid).mode == "RGBA")
    assert rgba == ["demo_image/demo_3.png", "demo_image/demo_4.png"]  # fully opaque: written


def test_clovaai_demo_png_made_transparent_is_rejected_unless_kept(realdata, tmp_path):
    """The same RGBA page with one pixel's alpha set to 0 is what trainers blacken."""
    page = np.asarray(Image.open(realdata / "clovaai_dtrb_demo" / "demo_image" / "demo_3.png")).copy()
    page[0, 0, 3] = 0
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(page).save(src / "clear.png")
    shutil.copy(realdata / "clovaai_dtrb_demo" / "demo_image" / "demo_4.png", src / "opaque.png")
    (src / "gt.txt").write_text("clear.png\tLondon\nopaque.png\tGreenstead\n", encoding="utf-8")
    card = convert("gt-txt", src, tmp_path / "out")
    assert card["rejects"] == {"transparent_image": 1}
    [reject] = rejects_of(str(tmp_path / "out"))
    assert (reject["id"], reject["source"]) == ("clear.png", "gt.txt:1")
    assert "alpha down to 0" in reject["detail"]
    card = convert("gt-txt", src, tmp_path / "kept", "--keep-unsafe-images")
    assert card["counts"]["written"] == 2
    assert {sid: data for sid, _, data in written(tmp_path / "kept")}["clear.png"] == (src / "clear.png").read_bytes()


def test_parseq_demo_vertical_and_tiny_crops(realdata, tmp_path):
    """Tall crops are written as they are (gt-txt never turns them); --min-width and
    --min-height reject exactly the crops this test measures below them."""
    root = realdata / "parseq_demo"
    truth = gt_lines(root / "gt.txt")
    sizes = {sid: Image.open(root / sid).size for sid in truth}
    assert sorted(sid for sid, (w, h) in sizes.items() if h > w) == [
        "demo_images/cute-184.jpg", "demo_images/uber-27491.jpg"]
    convert("gt-txt", root, tmp_path / "all", "--gt", root / "gt.txt")
    got = {sid: (label, data) for sid, label, data in written(tmp_path / "all")}
    assert {sid: label for sid, (label, _) in got.items()} == truth
    assert all(data == (root / sid).read_bytes() for sid, (_, data) in got.items())

    card = convert("gt-txt", root, tmp_path / "big", "--gt", root / "gt.txt", "--min-width", "88", "--min-height", "42")
    small = sorted(sid for sid, (w, h) in sizes.items() if w < 88 or h < 42)
    assert small == ["demo_images/coco-1166773.jpg", "demo_images/ic15_word_26.png", "demo_images/uber-27491.jpg"]
    assert card["counts"] == {"input": 6, "written": 3, "rejected": 3, "splits": {"train": 3}}
    assert sorted(r["id"] for r in rejects_of(str(tmp_path / "big")) if r["reason"] == "too_small") == small
    assert sorted(sid for sid, _, _ in written(tmp_path / "big")) == sorted(set(truth) - set(small))

    report = json.loads(run_cli("validate", tmp_path / "all", "--for", "parseq", "--json").stdout)
    assert (report["kept"], report["dropped"], report["longest_label"]) == (6, 0, len("Verbandstoffe"))


def ndlocr_lines(xml_path) -> list[tuple[tuple[int, int, int, int], str]]:
    """(x0, y0, x1, y1) and text of every LINE of an NDLOCR XML page."""
    return [((int(e.get("X")), int(e.get("Y")), int(e.get("X")) + int(e.get("WIDTH")),
              int(e.get("Y")) + int(e.get("HEIGHT"))), e.get("STRING"))
            for e in ET.parse(xml_path).iter("LINE")]


def test_ndlocr_pages_cut_into_lines_pixel_exact(realdata, tmp_path):
    """ndlocr-lite's handwritten pages, their XML line boxes written as minhon page JSON:
    every crop equals the page's pixels in the box, the vertical ones (tategaki) turned 90
    degrees counter-clockwise by --rotate-vertical, each with its Japanese text."""
    root = realdata / "ndlocr_lite_resource"
    src = tmp_path / "src"
    src.mkdir()
    expected = {}
    for stem in ("tategaki2026-04-24-094138", "yokogaki2026-04-24-103617"):
        shutil.copy(root / f"{stem}.png", src / f"{stem}.png")
        page = np.asarray(Image.open(root / f"{stem}.png").convert("RGB"))
        lines = ndlocr_lines(root / f"{stem}.xml")
        doc = [{"boundingBox": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]], "text": text,
                "isVertical": "true" if y1 - y0 > x1 - x0 else "false"} for (x0, y0, x1, y1), text in lines]
        (src / f"{stem}.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        for (x0, y0, x1, y1), text in lines:
            crop = page[y0:y1, x0:x1]
            expected[text] = np.rot90(crop, 1) if y1 - y0 > x1 - x0 else crop
    card = convert("minhon", src, tmp_path / "out", "--rotate-vertical", "--crop-format", "png")
    assert card["counts"] == {"input": 11, "written": 11, "rejected": 0, "splits": {"train": 11}}
    got = {label: np.asarray(Image.open(io.BytesIO(data)).convert("RGB")) for _, label, data in written(tmp_path / "out")}
    assert sorted(got) == sorted(expected)
    for text, crop in expected.items():
        assert got[text].shape == crop.shape and np.array_equal(got[text], crop), text
    assert sum(crop.shape[1] > crop.shape[0] for crop in expected.values()) == 11  # every line now runs left to right


def test_ndl_layout_folder_names_with_japanese_and_brackets(realdata, tmp_path):
    """NDL-DocL's page folders carry Japanese and ``[1]`` (a glob character class): every
    box of every XML is counted, the pages keep their folders in images/, byte for byte,
    and a layout dataset records no charset."""
    root = realdata / "ndl_docl_layout"
    pages = sorted(root.rglob("*.xml"))
    boxes = sum(len(ET.parse(p).findall(".//object")) for p in pages)
    out = tmp_path / "out"
    run_cli("ndl-layout", "-i", root, "-o", out, "-q", "--split", "none")
    card = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert (len(pages), boxes, card["counts"]["input"]) == (21, 662, 662)
    assert card["charset"] == "" and not (out / "charset.txt").exists()
    bracketed = sorted(p.with_suffix(".jpg").relative_to(root) for p in pages if "[1]" in str(p))
    assert len(bracketed) == 7
    assert all((out / "images" / rel).read_bytes() == (root / rel).read_bytes() for rel in bracketed)
