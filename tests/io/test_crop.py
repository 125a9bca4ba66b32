"""dataconv.io.crop: the one crop mechanism (geometry, rejects, options, pickling)."""
from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest

from dataconv.io.crop import CropImage, CropSpec, image_ref, to_quad
from dataconv.errors import SampleRejected
from dataconv.sample import FileImage, ReadContext

CTX = ReadContext()


@pytest.fixture
def page(tmp_path):
    """A 200x100 gradient page: every pixel tells where it came from."""
    x, y = np.meshgrid(np.arange(200), np.arange(100))
    img = np.dstack([x, y * 2, np.full_like(x, 128)]).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "p.png"), img[:, :, ::-1].copy())
    return str(tmp_path), img


def crop(root: str, polygon, **spec) -> np.ndarray:
    data = CropImage(root, "p.png", polygon, CropSpec(**spec)).read(CTX)
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]


def test_axis_aligned_box_is_the_exact_region(page):
    root, img = page
    out = crop(root, ((10, 20), (70, 20), (70, 50), (10, 50)))
    assert out.shape == (30, 60, 3)
    assert np.array_equal(out, img[20:50, 10:70])


def test_point_order_counter_clockwise_is_not_mirrored(page):
    root, img = page
    out = crop(root, ((10, 20), (10, 50), (70, 50), (70, 20)))
    assert np.array_equal(out, img[20:50, 10:70])


def test_rotated_quad_is_rectified_upright(page):
    root, img = page
    # the same region listed from its bottom-right corner: the text was upside down.
    # Corners are pixel corners, so turned around the crop samples one pixel further on.
    out = crop(root, ((70, 50), (10, 50), (10, 20), (70, 20)))
    assert np.array_equal(out, img[21:51, 11:71][::-1, ::-1])


def test_pad_grows_by_a_fraction_of_the_height(page):
    root, img = page
    out = crop(root, ((40, 40), (100, 40), (100, 60), (40, 60)), pad=0.5)
    assert out.shape == (40, 80, 3)
    assert np.array_equal(out, img[30:70, 30:110])


def test_rotate_vertical_and_max_height(page):
    root, img = page
    tall = ((10, 10), (30, 10), (30, 90), (10, 90))
    assert crop(root, tall, rotate_vertical=True).shape == (20, 80, 3)
    assert crop(root, tall).shape == (80, 20, 3)
    assert crop(root, tall, max_height=40).shape == (40, 10, 3)


def test_polygons_reduce_to_their_min_area_rectangle(page):
    root, img = page
    six = ((10, 20), (40, 20), (70, 20), (70, 50), (40, 50), (10, 50))
    assert crop(root, six).shape == (30, 60, 3)


@pytest.mark.parametrize("polygon, reason", [
    (((0, 0), (10, 0), (20, 0), (30, 0)), "degenerate_box"),
    (((0, 0), (10, 10), (10, 0), (0, 10)), "degenerate_box"),
    (((0, 0), (5, 5)), "degenerate_box"),
    (((float("nan"), 0), (10, 0), (10, 10), (0, 10)), "degenerate_box"),
    (((300, 300), (350, 300), (350, 320), (300, 320)), "box_outside_image"),
])
def test_bad_boxes_are_rejected_with_a_reason(page, polygon, reason):
    with pytest.raises(SampleRejected) as e:
        crop(page[0], polygon)
    assert e.value.reason == reason


def test_missing_and_broken_pages_are_rejected(page, tmp_path):
    (tmp_path / "cut.png").write_bytes((tmp_path / "p.png").read_bytes()[:300])
    for rel, reason in (("gone.png", "missing_image"), ("cut.png", "undecodable_image")):
        with pytest.raises(SampleRejected) as e:
            CropImage(str(tmp_path), rel, ((0, 0), (9, 0), (9, 9), (0, 9))).read(CTX)
        assert e.value.reason == reason


def test_references_pickle_and_whole_images_stay_untouched(page):
    ref = image_ref(page[0], "p.png", CropSpec(pad=0.1), [[1, 2], [30, 2], [30, 20], [1, 20]])
    assert pickle.loads(pickle.dumps(ref)) == ref
    assert isinstance(image_ref(page[0], "p.png", CropSpec()), FileImage)
    assert isinstance(image_ref(page[0], "p.png", CropSpec(rotate_vertical=True)), CropImage)
    assert to_quad(((0, 0), (0, 5), (5, 5), (5, 0))).tolist()[0] == [0, 0]
