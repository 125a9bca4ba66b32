"""Crops compared pixel by pixel with crops computed here, independently, from the page.

The page is random RGB noise saved as PNG (lossless), so a crop shifted by one pixel,
with width and height swapped, without its padding or turned the wrong way differs
almost everywhere. The expected crop is numpy slicing of the decoded page: rows y0..y1-1
and columns x0..x1-1 of an axis-aligned box ``(x0, y0)-(x1, y1)`` (corners on pixel
centres, OpenCV's convention), ``--pad`` adding ``round(pad * height)`` pixels on every
side with the edge pixels repeated (BORDER_REPLICATE), ``--rotate-vertical`` turning a
tall crop 90 degrees counter-clockwise (``np.rot90(crop, 1)``). A perspective box is
checked against a homography solved and sampled here in numpy.
"""
from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
from PIL import Image

from helpers import clovaai_tree, load_json
from pages import H, W, noise_page, png as png_bytes
from hostile_util import accounted, convert, write_files

BOX = (23, 31, 87, 49)  # x0, y0, x1, y1: 64 wide, 18 tall (width != height: a swap shows)
TALL = (100, 10, 118, 90)  # 18 wide, 80 tall: a vertical line


def expected_crop(page: np.ndarray, box: tuple[int, int, int, int], pad: float = 0.0) -> np.ndarray:
    """Rows y0-p..y1+p-1, columns x0-p..x1+p-1, indices clamped to the page (edge repeated)."""
    x0, y0, x1, y1 = box
    p = int(round(pad * (y1 - y0)))
    rows = np.clip(np.arange(y0 - p, y1 + p), 0, page.shape[0] - 1)
    cols = np.clip(np.arange(x0 - p, x1 + p), 0, page.shape[1] - 1)
    return page[rows][:, cols]


def corners(box: tuple[int, int, int, int]) -> list[list[int]]:
    x0, y0, x1, y1 = box
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def crops_by_label(out: str) -> dict[str, np.ndarray]:
    samples = [s for shard in clovaai_tree(out).values() for s in shard]
    return {label: np.asarray(Image.open(io.BytesIO(data)).convert("RGB")) for label, data in samples}


# --- one writer per crop-producing format: (files, extra options) for boxes {label: corners}

def icdar2015(page: bytes, boxes: dict[str, list[list[int]]]) -> tuple[dict, tuple]:
    gt = "".join(",".join(str(c) for p in pts for c in p) + f",{label}\n" for label, pts in boxes.items())
    return {"img_1.png": page, "gt_img_1.txt": gt.encode()}, ()


def paddle_det(page: bytes, boxes: dict[str, list[list[int]]]) -> tuple[dict, tuple]:
    entries = [{"transcription": label, "points": pts} for label, pts in boxes.items()]
    return {"p.png": page, "label.txt": f"p.png\t{json.dumps(entries)}\n".encode()}, ("--labels", "label.txt")


def coco_text(page: bytes, boxes: dict[str, list[list[int]]]) -> tuple[dict, tuple]:
    """COCO-Text ``bbox`` [x, y, w, h] (axis-aligned boxes only)."""
    anns = {}
    for k, (label, pts) in enumerate(boxes.items()):
        (x0, y0), (x1, y1) = pts[0], pts[2]
        anns[str(k)] = {"id": k, "image_id": 1, "bbox": [x0, y0, x1 - x0, y1 - y0], "utf8_string": label,
                        "legibility": "legible", "mask": []}
    doc = {"imgs": {"1": {"id": 1, "file_name": "p.png", "width": W, "height": H, "set": "train"}},
           "anns": anns, "imgToAnns": {"1": list(anns)}}
    return {"p.png": page, "COCO_Text.json": json.dumps(doc).encode()}, ()


def textocr(page: bytes, boxes: dict[str, list[list[int]]]) -> tuple[dict, tuple]:
    anns = {}
    for k, (label, pts) in enumerate(boxes.items()):
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        anns[f"i_{k}"] = {"id": f"i_{k}", "image_id": "i", "utf8_string": label,
                          "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)],
                          "points": [c for p in pts for c in p]}
    doc = {"imgs": {"i": {"id": "i", "file_name": "train/p.png", "width": W, "height": H, "set": "train"}},
           "anns": anns, "imgToAnns": {"i": list(anns)}}
    return {"train_images/p.png": page, "TextOCR_0.1_train.json": json.dumps(doc).encode()}, ()


def minhon(page: bytes, boxes: dict[str, list[list[int]]]) -> tuple[dict, tuple]:
    """A page JSON; corners written counter-clockwise as NDL does (ordered geometrically)."""
    lines = [{"boundingBox": [pts[0], pts[3], pts[2], pts[1]], "text": label, "isTextline": "true"}
             for label, pts in boxes.items()]
    return {"0A-001.png": page, "0A-001.json": json.dumps(lines).encode()}, ()


FORMATS = {"icdar2015": icdar2015, "paddle-det": paddle_det, "coco-text": coco_text,
           "textocr": textocr, "minhon": minhon}


def run(tmp_path, fmt: str, boxes: dict[str, list[list[int]]], *options: str, seed: int = 0
        ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    page = noise_page(seed)
    files, extra = FORMATS[fmt](png_bytes(page), boxes)
    src = write_files(str(tmp_path / "src"), files)
    extra = tuple(os.path.join(src, a) if a.endswith(".txt") and a != "gt.txt" else a for a in extra)
    convert(fmt, src, str(tmp_path / "out"), *extra, *options)
    card = accounted(str(tmp_path / "out"))
    assert card["counts"]["written"] == len(boxes) and card["rejects"] == {}
    return page, crops_by_label(str(tmp_path / "out"))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("pad", [0.0, 0.25, 1.0])
def test_axis_aligned_box_is_the_page_slice(tmp_path, fmt: str, pad: float) -> None:
    """The crop equals the page's rows and columns of the box, padded by round(pad * h)
    repeated-edge pixels (pad 1.0 on a box near the top reaches past the page)."""
    page, crops = run(tmp_path, fmt, {"WORD": corners(BOX)}, "--pad", str(pad))
    want = expected_crop(page, BOX, pad)
    assert crops["WORD"].shape == want.shape
    assert np.array_equal(crops["WORD"], want)


@pytest.mark.parametrize("fmt", ["icdar2015", "paddle-det", "coco-text", "textocr"])
def test_vertical_line_turns_counter_clockwise(tmp_path, fmt: str) -> None:
    """With --rotate-vertical a tall crop is the page slice turned 90 degrees counter-
    clockwise (its top row becomes its left column, read bottom to top); a wide one is not turned."""
    page, crops = run(tmp_path, fmt, {"TALL": corners(TALL), "WIDE": corners(BOX)}, "--rotate-vertical")
    assert np.array_equal(crops["TALL"], np.rot90(expected_crop(page, TALL), 1))
    assert np.array_equal(crops["WIDE"], expected_crop(page, BOX))


def test_minhon_is_vertical_turns_counter_clockwise(tmp_path) -> None:
    """minhon's ``isVertical`` decides, not the shape: a vertical line turns counter-clockwise."""
    page = noise_page(3)
    lines = [{"boundingBox": [[x0, y0], [x0, y1], [x1, y1], [x1, y0]], "text": t, "isTextline": "true",
              "isVertical": v} for t, (x0, y0, x1, y1), v in (("V", TALL, "true"), ("H", BOX, "false"))]
    src = write_files(str(tmp_path / "src"), {"0A-001.png": png_bytes(page),
                                              "0A-001.json": json.dumps(lines).encode()})
    convert("minhon", src, str(tmp_path / "out"), "--rotate-vertical")
    crops = crops_by_label(str(tmp_path / "out"))
    assert np.array_equal(crops["V"], np.rot90(expected_crop(page, TALL), 1))
    assert np.array_equal(crops["H"], expected_crop(page, BOX))


@pytest.mark.parametrize("fmt", ["icdar2015", "paddle-det", "textocr"])
def test_reading_order_turns_the_crop(tmp_path, fmt: str) -> None:
    """Corners listed from the text's top-left: text running down the page (first corner
    at the box's top-right) comes out upright, i.e. the page region turned counter-
    clockwise. With corners on pixel centres the region is columns x0+1..x1 (the first
    corner, x1, is the first sampled column)."""
    x0, y0, x1, y1 = TALL
    down = [[x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    page, crops = run(tmp_path, fmt, {"DOWN": down})
    region = page[y0:y1, x0 + 1:x1 + 1]
    assert crops["DOWN"].shape == (x1 - x0, y1 - y0, 3)
    assert np.array_equal(crops["DOWN"], np.rot90(region, 1))


def homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 3x3 projective map taking the four ``src`` points to ``dst`` (8x8 solve)."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        rhs += [u, v]
    return np.append(np.linalg.solve(np.array(rows, float), np.array(rhs, float)), 1).reshape(3, 3)


def bilinear(page: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = (xs - x0)[..., None], (ys - y0)[..., None]
    at = lambda yy, xx: page[np.clip(yy, 0, H - 1), np.clip(xx, 0, W - 1)].astype(float)  # noqa: E731
    return ((1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1))
            + fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1)))


@pytest.mark.parametrize("fmt", ["icdar2015", "paddle-det", "textocr"])
def test_perspective_quad_is_rectified(tmp_path, fmt: str) -> None:
    """A slanted quadrilateral is mapped onto a rectangle whose sides are the longer of
    each pair of opposite sides; every pixel matches a homography solved here, sampled
    bilinearly (OpenCV quantises positions to 1/32 px: a few grey levels on noise)."""
    quad = np.array([[20, 30], [100, 22], [104, 60], [18, 52]], float)
    width = round(max(np.hypot(*(quad[0] - quad[1])), np.hypot(*(quad[3] - quad[2]))))
    height = round(max(np.hypot(*(quad[0] - quad[3])), np.hypot(*(quad[1] - quad[2]))))
    page = noise_page(5)
    page = np.asarray(Image.fromarray(page).resize((W // 4, H // 4)).resize((W, H), Image.BILINEAR))
    files, extra = FORMATS[fmt](png_bytes(page), {"SLANT": quad.astype(int).tolist()})
    src = write_files(str(tmp_path / "src"), files)
    extra = tuple(os.path.join(src, a) if a.endswith(".txt") else a for a in extra)
    convert(fmt, src, str(tmp_path / "out"), *extra)
    got = crops_by_label(str(tmp_path / "out"))["SLANT"].astype(float)
    back = homography(np.array([[0, 0], [width, 0], [width, height], [0, height]], float), quad)
    us, vs = np.meshgrid(np.arange(width), np.arange(height))
    pts = back @ np.stack([us.ravel(), vs.ravel(), np.ones(us.size)])
    want = bilinear(page, (pts[0] / pts[2]).reshape(us.shape), (pts[1] / pts[2]).reshape(us.shape))
    assert got.shape == want.shape == (height, width, 3)
    assert np.abs(got - want).mean() < 1.0 and np.abs(got - want).max() <= 6


def test_ndl_layout_boxes_are_exact(tmp_path) -> None:
    """ndl-layout does not crop: the COCO boxes are the VOC boxes as [x, y, w, h], a box
    past the right edge clamped to the decoded width, and the page bytes copied unchanged."""
    page = png_bytes(noise_page(1))
    objects = [("8_textline", (10, 20, 40, 100)), ("3_typography", (50, 5, 70, 60)),
               ("8_textline", (150, 30, 170, 50))]  # 10 px past the 160 px edge
    body = "".join(f"<object><name>{c}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
                   f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>" for c, b in objects)
    xml = f"<annotation><size><width>{W}</width><height>{H}</height></size>{body}</annotation>"
    src = write_files(str(tmp_path / "src"), {"a/p1.png": page, "a/p1.xml": xml.encode()})
    convert("ndl-layout", src, str(tmp_path / "out"))
    doc = load_json(str(tmp_path / "out" / "annotations" / "train.json"))
    assert [a["bbox"] for a in doc["annotations"]] == [[10, 20, 30, 80], [50, 5, 20, 55], [150, 30, 10, 20]]
    assert [(i["file_name"], i["width"], i["height"]) for i in doc["images"]] == [("a/p1.png", W, H)]
    with open(tmp_path / "out" / "images" / "a" / "p1.png", "rb") as f:
        assert f.read() == page
