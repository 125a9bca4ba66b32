"""The crop limits at their boundaries, through labelme pages (a format that clamps):

- a corner may lie 10% of the page's width (height) beyond an edge, and at least 4 px:
  on a 200 x 60 page that is 20 px across and 6 px down; on a 30 x 20 page the 4 px floor
  (3 and 2 px by the 10%). Exactly at the margin: clamped onto the edge and cut; a hundredth
  of a pixel beyond: ``box_outside_image``;
- ``--max-pixels`` at the page's own pixel count (decoded) and one under (every crop of it
  refused), and a padded crop at the limit and just over it (refused alone);
- ``--min-height``/``--min-width``/``--max-aspect`` at the crop's own size.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from helpers import read_lmdb, rejects_of, run_cli
from pages import noise_page, pixels, png


def rect(x: float, y: float, w: float, h: float) -> list[list[float]]:
    return [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]


def page(folder: Path, name: str, image: np.ndarray, shapes: dict[str, list]) -> None:
    (folder / f"{name}.png").write_bytes(png(image))
    doc = {"shapes": [{"label": text, "points": points, "shape_type": "polygon"} for text, points in shapes.items()],
           "imagePath": f"{name}.png", "imageHeight": image.shape[0], "imageWidth": image.shape[1]}
    (folder / f"{name}.json").write_text(json.dumps(doc), "utf-8")


def convert(src: Path, out: Path, *args: str) -> tuple[dict[str, np.ndarray], Counter]:
    run_cli("labelme", "-i", src, "-o", out, "--split", "none", "--workers", "1", "-q", *args)
    shard = out / "train" / "shard-00000"
    kept = {label: pixels(image) for label, image in read_lmdb(str(shard))} if shard.exists() else {}
    return kept, Counter(r["reason"] for r in rejects_of(str(out)))


BIG = noise_page(1, 200, 60)  # margin 20 px across, 6 px down
SMALL = noise_page(2, 30, 20)  # margin 4 px both ways (the floor)
EPS = 0.01
SHAPES = {
    "big": {"left-in": rect(-20, 20, 70, 20), "left-out": rect(-20 - EPS, 20, 70 + EPS, 20),
            "right-in": rect(150, 20, 70, 20), "right-out": rect(150, 20, 70 + EPS, 20),
            "top-in": rect(60, -6, 40, 26), "top-out": rect(60, -6 - EPS, 40, 26 + EPS),
            "bottom-in": rect(60, 40, 40, 26), "bottom-out": rect(60, 40, 40, 26 + EPS)},
    "small": {"s-left-in": rect(-4, 5, 20, 10), "s-left-out": rect(-4 - EPS, 5, 20 + EPS, 10),
              "s-top-in": rect(5, -4, 10, 14), "s-top-out": rect(5, -4 - EPS, 10, 14 + EPS),
              "s-right-in": rect(10, 5, 24, 10), "s-right-out": rect(10, 5, 24 + EPS, 10),
              "s-bottom-in": rect(5, 10, 10, 14), "s-bottom-out": rect(5, 10, 10, 14 + EPS)},
}


def test_page_margin_and_its_floor_at_the_boundary(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    page(src, "big", BIG, SHAPES["big"])
    page(src, "small", SMALL, SHAPES["small"])
    kept, reasons = convert(src, tmp_path / "out")
    inside = {label for shapes in SHAPES.values() for label in shapes if label.endswith("-in")}
    assert set(kept) == inside
    assert reasons == Counter({"box_outside_image": len(inside)})
    # clamped onto the page's edge: the crop is the part of the box on the page
    assert np.array_equal(kept["left-in"], BIG[20:40, 0:50])
    assert np.array_equal(kept["right-in"], BIG[20:40, 150:200])
    assert np.array_equal(kept["top-in"], BIG[0:20, 60:100])
    assert np.array_equal(kept["bottom-in"], BIG[40:60, 60:100])
    assert np.array_equal(kept["s-left-in"], SMALL[5:15, 0:16])
    assert np.array_equal(kept["s-top-in"], SMALL[0:10, 5:15])


def pad_pages(tmp_path) -> Path:
    """A 200 x 60 page (12,000 pixels) with a 188 x 48 box whose crop, padded by 6 px (pad
    0.125), is 200 x 60 = 12,000 pixels, one padded by 7 px (pad 0.146) 202 x 62 = 12,524,
    and a small box; a 10 x 10 page beside it."""
    src = tmp_path / "src"
    src.mkdir()
    page(src, "p", BIG, {"whole": rect(6, 6, 188, 48), "small": rect(10, 10, 20, 10)})
    page(src, "q", noise_page(3, 10, 10), {"tiny": rect(1, 1, 5, 5)})
    return src


@pytest.mark.parametrize("max_pixels,pad,kept_labels,reasons", [
    (12000, 0.125, {"whole", "small", "tiny"}, {}),  # the page and the padded crop exactly at the limit
    (12000, 7 / 48, {"small", "tiny"}, {"too_many_pixels": 1}),  # the padded crop 524 pixels over
    (11999, 0.0, {"tiny"}, {"too_many_pixels": 2}),  # the page itself one pixel over: never decoded
])
def test_max_pixels_at_the_page_and_at_the_padded_crop(tmp_path, max_pixels, pad, kept_labels, reasons):
    kept, got = convert(pad_pages(tmp_path), tmp_path / "out", "--max-pixels", str(max_pixels), "--pad", str(pad))
    assert set(kept) == kept_labels
    assert got == Counter(reasons)
    if "whole" in kept:
        assert kept["whole"].shape == (60, 200, 3)


@pytest.mark.parametrize("args,kept_labels", [
    (("--min-height", "10", "--min-width", "20"), {"w20h10", "w21h11", "w40h10"}),
    (("--min-height", "11"), {"w21h11"}),
    (("--min-width", "21"), {"w21h11", "w40h10"}),
    (("--max-aspect", "4"), {"w20h10", "w21h11", "w40h10"}),  # 40 / 10 = 4 is not over 4
    (("--max-aspect", "3.99"), {"w20h10", "w21h11"}),
])
def test_size_filters_at_the_crops_size(tmp_path, args, kept_labels):
    src = tmp_path / "src"
    src.mkdir()
    page(src, "p", BIG, {"w20h10": rect(1, 1, 20, 10), "w21h11": rect(30, 1, 21, 11), "w40h10": rect(60, 1, 40, 10)})
    kept, reasons = convert(src, tmp_path / "out", *args)
    assert set(kept) == kept_labels
    assert reasons == (Counter({"too_small" if "--max-aspect" not in args else "aspect_ratio": 3 - len(kept_labels)})
                       if len(kept_labels) < 3 else Counter())
