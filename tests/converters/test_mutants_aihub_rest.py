"""Issue 26, the last gaps of the AI Hub family's mutation run: "xxx" is a word in the sets
that have no illegible marker, the sample ids where an annotation has no id, an NIA photo
turned by EXIF, and how ``--type auto`` tells 다양한 형태 and handwriting from lookalikes."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from fmt_util import convert, written
from hostile_util import write_files
from pages import noise_page, pixels, png
from dataconv.converters.aihub_detect import shape_of
from dataconv.io.safeopen import InputFile


def doc(document) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def photo(page: np.ndarray, orientation: int) -> bytes:
    """The page as a PNG with an EXIF orientation (a camera's JPEG, losslessly)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    Image.fromarray(page).save(out, format="PNG", exif=exif.tobytes())
    return out.getvalue()


@pytest.mark.parametrize("fmt, label", [
    ("aihub-admin", {"images": [{"image.file.name": "p.png"}],
                     "annotations": [{"annotation.text": "xxx", "annotation.bbox": [10, 20, 40, 16]}]}),
    ("aihub-forms", {"image": {"file_name": "p.png"},
                     "text": {"word": [{"value": "xxx", "wordbox": [10, 20, 50, 36]}]}})])
def test_xxx_is_a_word_where_the_set_marks_nothing_illegible(tmp_path, fmt, label):
    page = noise_page(4)
    write_files(str(tmp_path / "src"), {"인쇄/p.json": doc(label), "img/p.png": png(page)})
    card = convert(fmt, tmp_path / "src", tmp_path / "out")
    [(sid, text, data)] = written(tmp_path / "out")
    assert text == "xxx" and card["rejects"] == {}
    assert np.array_equal(pixels(data), page[20:36, 10:50])
    if fmt == "aihub-admin":  # ids repeat in this set: a sample is the file and its position
        assert sid == "인쇄/p#annotations[0]"


def test_an_outdoor_annotation_without_an_id_is_named_by_its_position(tmp_path):
    label = {"images": [{"id": 1, "file_name": "p.png"}],
             "annotations": [{"id": 4, "text": "약국", "bbox": [10, 20, 40, 16]},
                             {"text": "병원", "bbox": [60, 20, 40, 16]}]}
    write_files(str(tmp_path / "src"), {"l/p.json": doc(label), "i/p.png": png(noise_page(6))})
    convert("aihub-outdoor", tmp_path / "src", tmp_path / "out")
    assert sorted(sid for sid, _, _ in written(tmp_path / "out")) == ["l/p#4", "l/p#annotations[1]"]


def test_nia_boxes_refer_to_the_upright_photo(tmp_path):
    """EXIF 6 (stored turned): the box is read on the photo as it is shown, by default."""
    upright = noise_page(9)
    stored = np.ascontiguousarray(np.rot90(upright, 1))
    label = {"Images": {"Identifier": "p", "Type": "jpg"},
             "Bbox": [{"data": "약국", "x": [23, 87, 87, 23], "y": [31, 31, 49, 49]}]}
    write_files(str(tmp_path / "src"), {"l/p.json": doc(label), "i/p.jpg": photo(stored, 6)})
    convert("aihub-nia", tmp_path / "src", tmp_path / "out")
    [(_, text, data)] = written(tmp_path / "out")
    assert text == "약국" and np.array_equal(pixels(data), upright[31:49, 23:87])


@pytest.mark.parametrize("document, shape", [
    ({"image": {"file_name": "a.png"}, "text": {"word": []}}, "forms"),
    ({"image": {"file_name": "a.png"}}, None),  # no text{}: not 다양한 형태
    ({"image": [1], "text": {"word": []}}, None),  # image not an object
    ({"text": {"word": []}, "image": "a.png"}, None),
    # one image, the first annotation's bbox before its attributes.type: handwriting, decided
    # only once that annotation is complete
    ({"images": [{"id": 1, "file_name": "a.png"}],
      "annotations": [{"id": 1, "bbox": [1, 2, 3, 4], "attributes": {"type": "단어(어절)"}, "text": "가"}]}, "htr"),
    ({"images": [{"id": 1, "file_name": "a.png"}],
      "annotations": [{"id": 1, "bbox": [1, 2, 3, 4], "text": "가"}]}, "outdoor")])
def test_auto_decides_a_shape_only_on_what_it_needs(tmp_path, document, shape):
    write_files(str(tmp_path), {"x.json": doc(document)})
    assert shape_of(InputFile.inside(str(tmp_path), "x.json")) == shape
