"""Issue 26, mutation run of dataconv/io/crop.py: the survivors that meant a wrong answer
(docs/DEVELOPING.md, "Issue 26 run, second part"). Real pages written as PNG, crops
decoded and compared with numpy slices or with figures worked out here."""
from __future__ import annotations

import dataclasses

import click
import cv2
import numpy as np
import pytest

from helpers import array_png as png, pixels
from dataconv.cli.main import cli
from dataconv.errors import SampleRejected
from dataconv.io import crop
from dataconv.io.crop import CropImage, CropSpec, image_ref
from dataconv.sample import ReadContext

CTX = ReadContext()
BOX = ((10, 20), (70, 20), (70, 50), (10, 50))  # columns 10..69, rows 20..49
TURNED = ((70, 50), (10, 50), (10, 20), (70, 20))  # the same box read from its bottom-right


@pytest.fixture
def page(tmp_path):
    """A 200x100 page whose every pixel tells where it came from."""
    x, y = np.meshgrid(np.arange(200), np.arange(100))
    img = np.dstack([x, y * 2, (x * 7 + y * 3) % 256]).astype(np.uint8)
    (tmp_path / "p.png").write_bytes(png(img))
    return str(tmp_path), img




# --- the options ------------------------------------------------------------------------

def parse(*args: str) -> dict:
    return cli.commands["minhon"].make_context("minhon", ["-i", ".", "-o", "x", *args]).params


@pytest.mark.parametrize("args,value", [(("--pad", "1.0"), 1.0), (("--pad", "0"), 0.0), (("--max-height", "1"), 1),
                                        (("--vertical-ratio", "1.0"), 1.0), (("--crop-format", "jpeg"), "jpeg")])
def test_crop_switches_accept_their_bounds(args, value):
    assert parse(*args)[args[0][2:].replace("-", "_")] == value


@pytest.mark.parametrize("args", [("--pad", "1.01"), ("--pad", "-0.01"), ("--pad", "nan"), ("--pad", "1_0"),
                                  ("--max-height", "0"), ("--vertical-ratio", "0.99"), ("--crop-format", "jpg")])
def test_crop_switches_refuse_past_their_bounds(args):
    with pytest.raises(click.UsageError):
        parse(*args)


def test_crop_defaults():
    assert CropSpec() == CropSpec(pad=0.0, rotate_vertical=False, vertical_ratio=1.5, max_height=None,
                                  crop_format="png")
    ref = CropImage("r", "p.png")
    assert (ref.polygon, ref.spec, ref.vertical, ref.reading_order, ref.clamp, ref.upright, ref.data) == (
        None, CropSpec(), None, True, False, False, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.rel = "q.png"  # type: ignore[misc]
    assert hash(ref) == hash(CropImage("r", "p.png"))


# --- reading: defaults, whole images, encodings -------------------------------------------

def test_defaults_keep_reading_order_and_do_not_clamp(page):
    root, img = page
    turned = image_ref(root, "p.png", CropSpec(), TURNED).read(CTX)
    assert np.array_equal(pixels(turned), img[21:51, 11:71][::-1, ::-1])
    assert np.array_equal(pixels(CropImage(root, "p.png", TURNED).read(CTX)), img[21:51, 11:71][::-1, ::-1])
    over = ((-5, 0), (20, 0), (20, 10), (-5, 10))  # 5 px past the left edge (margin: 20)
    for ref in (image_ref(root, "p.png", CropSpec(), over), CropImage(root, "p.png", over)):
        out = pixels(ref.read(CTX))
        assert out.shape == (10, 25, 3)  # not clamped: the edge column repeated
        assert np.array_equal(out[:, 5:], img[0:10, 0:20])
        assert np.array_equal(out[:, :5], np.repeat(img[0:10, 0:1], 5, axis=1))
    assert crop.box_quad(TURNED, 200, 100).tolist()[0] == [70, 50]
    assert crop.box_quad(over, 200, 100).tolist()[0] == [-5, 0]


def test_whole_image_reference(page):
    root, img = page
    out = pixels(CropImage(root, "p.png", spec=CropSpec(max_height=50)).read(CTX))
    assert out.shape == (50, 100, 3)
    assert np.array_equal(pixels(CropImage(root, "p.png").read(CTX)), img)


def test_jpeg_crops(page):
    root, img = page
    data = CropImage(root, "p.png", BOX, CropSpec(crop_format="jpeg")).read(CTX)
    assert data[:3] == b"\xff\xd8\xff"
    out = pixels(data)
    assert out.shape == (30, 60, 3)
    assert np.abs(out.astype(int) - img[20:50, 10:70]).mean() < 8
    assert CropImage(root, "p.png", BOX).read(CTX)[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_unencodable_crop_is_a_reject():
    for encoding in ("jpeg", "png"):
        wide = np.zeros((1, 70000), np.uint8)
        if encoding == "png":
            assert crop.encode(wide, encoding)[:4] == b"\x89PNG"
            continue
        with pytest.raises(SampleRejected) as e:
            crop.encode(wide, encoding)
        assert e.value.reason == "unencodable_crop"
    with pytest.raises(SampleRejected) as e:  # OpenCV raises (rather than returning False)
        crop.encode(np.zeros((0, 5), np.uint8), "png")
    assert e.value.reason == "unencodable_crop"


def test_exif_orientation_only_when_upright(tmp_path):
    img = np.arange(20 * 40 * 3, dtype=np.uint32).reshape(20, 40, 3).astype(np.uint8)
    data = png(img, orientation=6)  # stored 40 wide, shown 20 wide
    assert crop.decode_page(data, "p.png", 10**6).shape == (20, 40, 3)
    assert np.array_equal(crop.decode_page(data, "p.png", 10**6, upright=True), np.rot90(img, -1))
    (tmp_path / "p.png").write_bytes(data)
    box = ((0, 0), (10, 0), (10, 30), (0, 30))  # inside the upright page only
    with pytest.raises(SampleRejected, match="outside"):
        CropImage(str(tmp_path), "p.png", box).read(CTX)
    with pytest.raises(SampleRejected, match="outside"):
        image_ref(str(tmp_path), "p.png", CropSpec(), box).read(CTX)
    out = pixels(image_ref(str(tmp_path), "p.png", CropSpec(), box, upright=True).read(CTX))
    assert np.array_equal(out, np.rot90(img, -1)[0:30, 0:10])
    # the COCO writer reads the page's size as stored (its boxes are in stored pixels)
    assert crop.load_page(str(tmp_path), "p.png", ReadContext()).shape == (20, 40, 3)


# --- geometry ---------------------------------------------------------------------------

def shoelace(points) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1])) / 2


def test_signed_area():
    quad = [(1.0, 1.0), (7.0, 2.0), (6.0, 5.0), (0.0, 4.0)]
    assert crop.signed_area(np.array(quad)) == shoelace(quad) == 19.0
    assert crop.signed_area(np.array(quad[::-1])) == -19.0


def test_geometric_order_of_shuffled_corners():
    shuffled = ((70, 50), (10, 20), (10, 50), (70, 20))
    expected = [[10, 20], [70, 20], [70, 50], [10, 50]]
    assert crop.to_quad(shuffled, reading_order=False).tolist() == expected
    assert crop.geometric_order(np.array(shuffled, float)).tolist() == expected
    tilted = ((30, 5), (45, 40), (5, 20), (20, 55))  # a rotated square, shuffled
    assert crop.geometric_order(np.array(tilted, float)).tolist() == [[5, 20], [30, 5], [45, 40], [20, 55]]
    # by angle from the centre the left corner (30, 49) comes first; top-left is (47, 30)
    turned = ((70, 51), (30, 49), (53, 70), (47, 30))
    assert crop.geometric_order(np.array(turned, float)).tolist() == [[47, 30], [70, 51], [53, 70], [30, 49]]
    far = ((100, 6), (105, 10), (105, 0), (110, 5))  # a diamond whose centre's x and y are far apart
    assert crop.geometric_order(np.array(far, float)).tolist() == [[105, 0], [110, 5], [105, 10], [100, 6]]


@pytest.mark.parametrize("first,expected", [
    ((70, 50), [[70, 50], [10, 50], [10, 20], [70, 20]]),
    ((70, 21), [[70, 20], [70, 50], [10, 50], [10, 20]]),
    ((11, 49), [[10, 50], [10, 20], [70, 20], [70, 50]]),
])
def test_a_polygon_starts_at_the_corner_nearest_its_first_point(first, expected):
    rest = {(70, 50): [(40, 50), (10, 50), (10, 20), (40, 20), (70, 20)],
            (70, 21): [(70, 50), (40, 50), (10, 50), (10, 20), (40, 20)],
            (11, 49): [(10, 20), (40, 20), (70, 20), (70, 50), (40, 50)]}[first]
    assert crop.to_quad((first, *rest)).tolist() == expected


def test_the_reading_order_is_the_default():
    assert crop.to_quad(TURNED).tolist() == [list(p) for p in TURNED]


@pytest.mark.parametrize("polygon", [
    ((0, 0), (10, 4), (20, 0), (10, 20)),  # a dart: concave
    ((0, 0), (10, 0), (20, 0), (20, 10)),  # three corners on a line
    ((20, 10), (20, 0), (10, 0), (0, 0)),  # the same, the other way round
    ((0, 0), (10, 10), (10, 0), (0, 10)),  # a bow tie
    ((0, 0), (10, 0), (10, 10)),  # three points
])
def test_quads_that_are_not_convex_are_degenerate(polygon):
    with pytest.raises(SampleRejected) as e:
        crop.to_quad(polygon)
    assert e.value.reason == "degenerate_box"


def test_convex_quads_of_any_size_are_kept():
    for scale in (1, 1000):
        quad = tuple((x * scale, y * scale) for x, y in ((0, 0), (1, 0), (1, 1), (0, 1)))
        assert crop.to_quad(quad).tolist() == [list(p) for p in quad]


def test_the_smallest_crops(page):
    root, img = page
    one = pixels(CropImage(root, "p.png", ((5, 5), (6, 5), (6, 6), (5, 6))).read(CTX))
    assert np.array_equal(one, img[5:6, 5:6])  # a 1x1 box (area 1) is a 1x1 crop
    for polygon, detail in ((((0, 0), (1, 0), (1, 0.5), (0, 0.5)), "zero area"),
                            (((0, 0), (0.4, 0), (0.4, 3), (0, 3)), "0x3 after rectification"),
                            (((0, 0), (3, 0), (3, 0.4), (0, 0.4)), "3x0 after rectification")):
        with pytest.raises(SampleRejected, match=detail) as e:
            CropImage(root, "p.png", polygon).read(CTX)
        assert e.value.reason == "degenerate_box"
    with pytest.raises(SampleRejected, match="3x0 after rectification"):
        crop.rectify(img, np.array(((0, 0), (3, 0), (3, 0.4), (0, 0.4)), float))


def test_quad_size_takes_the_longer_side():
    trapezoid = np.array(((0, 0), (40, 0), (30, 10), (10, 10)), float)
    assert crop.quad_size(trapezoid) == (40, 14)  # the slanted sides are 14.1 long
    assert crop.quad_size(np.array(((10, 0), (30, 0), (40, 10), (0, 10)), float)) == (40, 14)
    assert crop.quad_size(np.array(((0, 0), (10, 0), (10, 30), (0, 40)), float)) == (14, 40)


def test_rectify_without_pad(page):
    _, img = page
    assert np.array_equal(crop.rectify(img, np.array(BOX, float)), img[20:50, 10:70])


def test_crop_size_with_padding_at_the_limit():
    quad = np.array(((6, 6), (194, 6), (194, 54), (6, 54)), float)  # 188 x 48
    crop.check_crop_size(quad, 0.125, 12000)  # padded by 6: 200 x 60
    with pytest.raises(SampleRejected, match="200x60 exceeds --max-pixels 11999") as e:
        crop.check_crop_size(quad, 0.125, 11999)
    assert e.value.reason == "too_many_pixels"
    tall = np.array(((0, 0), (10, 0), (10, 100), (0, 100)), float)
    crop.check_crop_size(tall, 0.5, 110 * 200)  # padded by 50: 110 x 200
    with pytest.raises(SampleRejected, match="110x200 exceeds"):
        crop.check_crop_size(tall, 0.5, 110 * 200 - 1)


# --- orientation and height ---------------------------------------------------------------

@pytest.mark.parametrize("height,width,ratio,tall", [
    (30, 20, 1.5, True),  # exactly 1.5 x the width: tall
    (29, 20, 1.5, False),
    (25, 20, 1.5, False),  # taller than wide, not by the ratio
    (20, 20, 1.0, False),  # a square is never tall
    (21, 20, 1.0, True),
])
def test_vertical_ratio_at_its_boundary(height, width, ratio, tall):
    img = np.arange(height * width, dtype=np.uint32).reshape(height, width).astype(np.uint8)
    out = crop.orient(img, CropSpec(rotate_vertical=True, vertical_ratio=ratio), None)
    assert np.array_equal(out, np.rot90(img, 1) if tall else img)
    default = crop.orient(img, CropSpec(rotate_vertical=True), None)
    assert np.array_equal(default, np.rot90(img, 1) if (height, width) == (30, 20) else img) or ratio != 1.5


def test_limit_height_boundaries():
    img = np.arange(40 * 30, dtype=np.uint32).reshape(40, 30).astype(np.uint8)
    assert crop.limit_height(img, 40) is img
    assert crop.limit_height(img, 20).shape == (20, 15)
    thin = np.zeros((100, 1), np.uint8)
    assert crop.limit_height(thin, 10).shape == (10, 1)  # 0.1 px wide rounds up to one column
    assert crop.limit_height(np.zeros((100, 3), np.uint8), 10).shape == (10, 1)  # 0.3 px
