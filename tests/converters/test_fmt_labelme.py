"""labelme: every shape convention read from real files and cropped exactly (numpy
slices of a noise page), the image found through imagePath, Windows paths, the stem or
the embedded imageData, and each non-text shape a counted reject."""
from __future__ import annotations

import base64
import json

import numpy as np

from helpers import run_cli
from pages import H, W, noise_page, png, pixels
from fmt_util import convert, labels, make_fixture, written
from hostile_util import assert_one_line_error, write_files



def labelme(shapes: list[dict], image_path: str | None, image_data: bytes | None = None) -> bytes:
    return json.dumps({"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": image_path,
                       "imageData": base64.b64encode(image_data).decode() if image_data else None,
                       "imageHeight": H, "imageWidth": W}).encode()


SHAPES = [{"label": "가", "points": [[87, 49], [23, 31]], "shape_type": "rectangle"},  # corners reversed
          {"label": "text", "description": "나", "points": [[87, 31], [87, 49], [23, 49], [23, 31]],
           "shape_type": "polygon"},  # starts top-right, counter-clockwise
          {"label": "word", "text": "다", "points": [[23, 31], [87, 31], [87, 49], [23, 49]]},  # no shape_type
          {"label": "라", "points": [[-3, 60], [40, 80]], "shape_type": "rectangle"},  # spills left: clamped
          {"label": "###", "points": [[1, 1], [9, 9]], "shape_type": "rectangle"},
          {"label": "원", "points": [[50, 50], [60, 60]], "shape_type": "circle"},
          {"label": "점", "points": [[50, 50]], "shape_type": "point"}]


def test_shapes_crop_exactly_and_non_text_shapes_are_rejects(tmp_path):
    page = noise_page()
    write_files(str(tmp_path / "src"), {"ann/p.json": labelme(SHAPES, "..\\img\\p.png"), "img/p.png": png(page)})
    card = convert("labelme", tmp_path / "src", tmp_path / "out")
    assert card["rejects"] == {"dont_care": 1, "unsupported_shape": 2}
    crops = {label: pixels(data) for _, label, data in written(tmp_path / "out")}
    assert np.array_equal(crops["가"], page[31:49, 23:87])
    assert np.array_equal(crops["나"], page[31:49, 23:87])  # geometric order: top-left first
    assert np.array_equal(crops["다"], page[31:49, 23:87])
    assert np.array_equal(crops["라"], page[60:80, 0:40])


def test_embedded_image_data_when_the_path_resolves_nowhere(tmp_path):
    page = noise_page(2)
    write_files(str(tmp_path / "src"), {"q.json": labelme(SHAPES[:1], "C:\\gone\\q.jpg", png(page))})
    convert("labelme", tmp_path / "src", tmp_path / "out")
    [(_, label, data)] = written(tmp_path / "out")
    assert label == "가" and np.array_equal(pixels(data), page[31:49, 23:87])


def test_no_image_anywhere_is_missing_image_for_each_shape(tmp_path):
    write_files(str(tmp_path / "src"), {"q.json": labelme(SHAPES[:3], "q.jpg"), "other.png": png(noise_page())})
    result = run_cli("labelme", "-q", "-i", str(tmp_path / "src"), "-o", str(tmp_path / "out"), expect=None)
    assert_one_line_error(result, "0 of 3 samples written", "missing_image (3 of 3", "'q.jpg'")


def test_text_keys_option_and_fixture(tmp_path):
    info = make_fixture("labelme", tmp_path / "src")
    card = convert("labelme", tmp_path / "src", tmp_path / "out")
    assert card["counts"]["input"] == info["expected"]["input"] and card["rejects"] == info["expected"]["rejects"]
    assert sorted(labels(tmp_path / "out").values()) == sorted(info["labels"])
    card = convert("labelme", tmp_path / "src", tmp_path / "lab", "--text-keys", "label")
    assert set(labels(tmp_path / "lab").values()) >= {"text", "word"}


def test_a_shape_without_points_names_the_file_and_path(tmp_path):
    write_files(str(tmp_path / "src"), {"q.json": json.dumps({"shapes": [{"label": "x"}]}).encode()})
    result = run_cli("labelme", "-q", "-i", str(tmp_path / "src"), "-o", str(tmp_path / "out"), expect=None)
    assert_one_line_error(result, "q.json", "shapes[0]", "points")
