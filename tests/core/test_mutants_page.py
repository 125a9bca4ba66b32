"""Mutation run of dataconv/page.py: what a region and a page mean when a format leaves
their fields at the defaults (a labelled region, its points in reading order, no forced
orientation, coordinates on the stored pixels, no clamping), in both tasks: the crop read
back pixel for pixel, and the detection box placed on the page."""
from __future__ import annotations


import numpy as np
import pytest

from helpers import array_png as png, pixels
from dataconv.build.detection import place
from dataconv.io.crop import CropSpec
from dataconv.page import Region, TextPage, crop_of, crops, region_failure
from dataconv.sample import ReadContext, Reject, Sample

CTX = ReadContext()
BOX = ((10, 20), (70, 20), (70, 50), (10, 50))  # columns 10..69, rows 20..49




@pytest.fixture
def page(tmp_path):
    """A 200x100 page whose every pixel tells where it came from, and the same pixels
    with an EXIF orientation of 6 (shown turned)."""
    x, y = np.meshgrid(np.arange(200), np.arange(100))
    img = np.dstack([x, y * 2, (x * 7 + y * 3) % 256]).astype(np.uint8)
    (tmp_path / "p.png").write_bytes(png(img))
    (tmp_path / "turned.png").write_bytes(png(img, orientation=6))
    return str(tmp_path), img


def one(text_page: TextPage, spec: CropSpec = CropSpec()) -> Sample | Reject:
    [item] = list(crops(iter([text_page]), spec))
    return item


def test_a_region_left_at_the_defaults_is_cut_labelled_and_placed(page, tmp_path):
    root, img = page
    region = Region("r1", "gt.txt:1", "word", BOX)
    text_page = TextPage("p1", "gt.txt", root, "p.png", [region])
    assert region.unusable_text() is None and region_failure(text_page, region) is None
    sample = one(text_page)
    assert isinstance(sample, Sample)
    assert (sample.id, sample.label, sample.source, sample.page, sample.meta) == \
        ("r1", "word", "gt.txt:1", "p1", {"image": "p.png"})
    assert sample.group is None  # no group column in samples.parquet
    assert np.array_equal(pixels(sample.image.read(CTX)), img[20:50, 10:70])
    outcome = place(0, "train", "p1.png", text_page, str(tmp_path / "det"), CTX, "drop-box", [])
    assert outcome.reject is None and outcome.removed == []
    [box] = outcome.placed.boxes
    assert (box.text, box.ignore) == ("word", False)


def test_a_region_without_text_is_a_missing_label(page):
    root, _ = page
    reject = one(TextPage("p1", "gt.txt", root, "p.png", [Region("r1", "gt.txt:1", None, BOX)]))
    assert isinstance(reject, Reject)
    assert (reject.source, reject.reason, reject.detail, reject.id) == \
        ("gt.txt:1", "missing_label", "the region has no transcription", "r1")


def test_points_are_in_reading_order_unless_a_format_says_otherwise(page):
    root, img = page
    down = ((70, 20), (70, 50), (10, 50), (10, 20))  # text read from the top-right corner down
    as_read = one(TextPage("p1", "s", root, "p.png", [Region("r1", "s:1", "w", down)]))
    assert pixels(as_read.image.read(CTX)).shape[:2] == (60, 30)  # turned: 30 wide, 60 high
    any_order = one(TextPage("p1", "s", root, "p.png", [Region("r1", "s:1", "w", down, reading_order=False)]))
    assert np.array_equal(pixels(any_order.image.read(CTX)), img[20:50, 10:70])


def test_a_tall_region_is_turned_by_its_shape_unless_a_format_says(page):
    root, _ = page
    tall = ((10, 10), (30, 10), (30, 90), (10, 90))  # 20 wide, 80 high
    spec = CropSpec(rotate_vertical=True)
    turned = one(TextPage("p1", "s", root, "p.png", [Region("r1", "s:1", "w", tall)]), spec)
    assert pixels(turned.image.read(CTX)).shape[:2] == (20, 80)
    kept = one(TextPage("p1", "s", root, "p.png", [Region("r1", "s:1", "w", tall, vertical=False)]), spec)
    assert pixels(kept.image.read(CTX)).shape[:2] == (80, 20)


def test_coordinates_refer_to_the_stored_pixels_unless_the_page_is_upright(page):
    root, img = page
    stored = one(TextPage("p1", "s", root, "turned.png", [Region("r1", "s:1", "w", BOX)]))
    assert np.array_equal(pixels(stored.image.read(CTX)), img[20:50, 10:70])
    upright = one(TextPage("p1", "s", root, "turned.png", [Region("r1", "s:1", "w", BOX)], upright=True))
    assert not np.array_equal(pixels(upright.image.read(CTX)), img[20:50, 10:70])


def test_a_box_over_the_edge_keeps_its_size_unless_the_page_clamps(page):
    root, img = page
    over = ((190, 20), (205, 20), (205, 50), (190, 50))  # 5 px past the right edge
    kept = one(TextPage("p1", "s", root, "p.png", [Region("r1", "s:1", "w", over)]))
    assert pixels(kept.image.read(CTX)).shape[:2] == (30, 15)
    clamped = one(TextPage("p1", "s", root, "p.png", [Region("r1", "s:1", "w", over)], clamp=True))
    assert np.array_equal(pixels(clamped.image.read(CTX)), img[20:50, 190:200])


def test_crop_of_is_what_crops_yields(page):
    root, _ = page
    text_page = TextPage("p1", "s", root, "p.png", [Region("r1", "s:1", "w", BOX)])
    assert crop_of(text_page, text_page.regions[0], CropSpec()) == one(text_page)
