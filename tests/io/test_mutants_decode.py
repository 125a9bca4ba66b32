"""Issue 26, mutation run of dataconv/io/decode.py: the survivors that meant a wrong answer
(docs/DEVELOPING.md, "Issue 26 run, second part"). Real image bytes encoded by Pillow,
decoded pixels compared with values worked out here."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dataconv.errors import SampleRejected
from dataconv.io import decode


def encode(im: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def rejected(call, *args) -> SampleRejected:
    with pytest.raises(SampleRejected) as e:
        call(*args)
    return e.value


def test_pillow_limit_off_and_its_default_kept():
    assert Image.MAX_IMAGE_PIXELS is None  # our --max-pixels decides, never Pillow's guard
    assert decode.DEFAULT_MAX_PIXELS == 1024 ** 3 // 4 // 3  # Pillow's own default


def test_refuse_size_at_the_limit():
    decode.refuse_size(100, 50, 5000)
    e = rejected(decode.refuse_size, 100, 51, 5000)
    assert (e.reason, e.detail) == ("too_many_pixels", "100x51 exceeds --max-pixels 5000")
    data = encode(Image.new("RGB", (100, 50)))
    assert decode.check_pixels(data, 5000) == (100, 50)
    assert rejected(decode.check_pixels, data, 4999).reason == "too_many_pixels"
    assert rejected(decode.decode_plain, data, 4999).reason == "too_many_pixels"
    assert decode.header_size(data) == (100, 50)  # no limit: the header only


def test_undecodable_details():
    e = rejected(decode.check_pixels, b"", 10)
    assert (e.reason, e.detail) == ("undecodable_image", "empty file (0 bytes)")
    e = rejected(decode.check_pixels, b"not an image at all", 10)
    assert (e.reason, e.detail) == ("undecodable_image", "not an image format Pillow recognises")
    made = decode.undecodable("x <_io.BytesIO object at 0x7f00AB12> y " + "z" * 400)
    assert made.reason == "undecodable_image"
    assert made.detail == ("x the image bytes y " + "z" * 400)[:300]
    truncated = encode(Image.effect_noise((64, 64), 50).convert("RGB"))[:400]
    e = rejected(decode.load, truncated, 10**6)
    assert e.reason == "undecodable_image" and e.detail.startswith("OSError: ")


def test_load_keeps_the_mode_and_decodes_everything():
    palette = Image.new("P", (4, 3), 1)
    palette.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    im = decode.load(encode(palette), 100)
    assert (im.mode, im.size) == ("P", (4, 3))
    assert np.array_equal(np.asarray(im.convert("RGB")), np.full((3, 4, 3), (10, 200, 30), np.uint8))


GREY = np.array([[0, 100], [200, 255]], np.uint8)


@pytest.mark.parametrize("mode", ["1", "I", "I;16", "I;16B", "F", "L"])
def test_grey_modes_become_L(mode):
    """16-bit grey is given its full range (v * 257), which the decode scales back to v."""
    if mode.startswith("I;16"):  # from raw bytes: Pillow's own I;16 -> I;16B conversion clips at 255
        order = ">u2" if mode == "I;16B" else "<u2"
        source = Image.frombytes(mode, (2, 2), (GREY.astype(order) * 257).astype(order).tobytes())
    else:
        source = Image.fromarray(GREY > 127) if mode == "1" else Image.fromarray(GREY).convert(mode)
    fmt = "TIFF" if mode in ("I", "F", "I;16B") else "PNG"
    assert Image.open(io.BytesIO(encode(source, fmt))).mode == ("1" if mode == "1" else mode)
    im = decode.decode_plain(encode(source, fmt), 100)
    assert im.mode == "L"
    expected = np.where(GREY > 127, 255, 0) if mode == "1" else GREY
    assert np.array_equal(np.asarray(im), expected)
    rgb = decode.decode_rgb(encode(source, fmt), 100)
    assert rgb.mode == "RGB" and np.array_equal(np.asarray(rgb)[:, :, 1], expected)


def over_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha[..., None].astype(int)
    return ((rgb.astype(int) * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_transparency_is_composed_over_white(mode):
    rgb = np.array([[[10, 20, 30], [200, 100, 0]], [[0, 0, 0], [90, 90, 90]]], np.uint8)
    alpha = np.array([[0, 255], [128, 255]], np.uint8)
    rgba = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    source = rgba if mode == "RGBA" else rgba.convert("LA")
    im = decode.decode_plain(encode(source), 100)
    assert im.mode == "RGB"
    colour = rgb if mode == "RGBA" else np.repeat(np.asarray(source.convert("L"))[..., None], 3, axis=2)
    got, want = np.asarray(im).astype(int), over_white(colour, alpha).astype(int)
    assert np.abs(got - want).max() <= 1
    assert got[0, 0].tolist() == [255, 255, 255]  # fully transparent: white


def test_a_palette_with_a_transparent_index_is_composed_over_white():
    pal = Image.new("P", (2, 1))
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.putpixel((0, 0), 0)
    pal.putpixel((1, 0), 1)
    data = encode(pal, transparency=0)
    im = decode.decode_plain(data, 100)
    assert im.mode == "RGB"
    assert np.asarray(im).tolist() == [[[255, 255, 255], [255, 0, 0]]]
    opaque = decode.decode_plain(encode(pal), 100)
    assert np.asarray(opaque).tolist() == [[[0, 0, 0], [255, 0, 0]]]
    pa = Image.new("PA", (2, 1))  # a palette with an alpha band (TIFF keeps it)
    pa.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    pa.putpixel((0, 0), (1, 0))
    pa.putpixel((1, 0), (1, 255))
    data = encode(pa, "TIFF")
    assert Image.open(io.BytesIO(data)).mode == "PA"
    assert np.asarray(decode.decode_plain(data, 100)).tolist() == [[[255, 255, 255], [0, 0, 255]]]
    cmyk = decode.decode_plain(encode(Image.new("CMYK", (2, 2), (0, 0, 0, 0)), "JPEG"), 100)
    assert cmyk.mode == "RGB" and np.asarray(cmyk).min() >= 250


def test_draft_decodes_a_jpeg_reduced_but_at_least_that_size():
    data = encode(Image.effect_noise((400, 300), 40).convert("RGB"), "JPEG")
    assert decode.decode_plain(data, 10**6).size == (400, 300)
    small = decode.decode_plain(data, 10**6, draft=(100, 75))
    assert small.mode == "RGB" and small.size == (100, 75)
    assert decode.decode_rgb(data, 10**6, draft=(150, 100)).size == (200, 150)


@pytest.mark.parametrize("orientation,turn", [
    (1, lambda a: a), (2, lambda a: a[:, ::-1]), (3, lambda a: a[::-1, ::-1]), (4, lambda a: a[::-1]),
    (5, lambda a: a.transpose(1, 0, 2)), (6, lambda a: np.rot90(a, -1)),
    (7, lambda a: a.transpose(1, 0, 2)[::-1, ::-1]), (8, lambda a: np.rot90(a, 1)), (9, lambda a: a),
    (None, lambda a: a),
])
def test_exif_orientation(orientation, turn):
    arr = np.arange(3 * 5 * 3, dtype=np.uint8).reshape(3, 5, 3)
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    data = encode(Image.fromarray(arr), exif=exif)
    got = decode.exif_upright(data, decode.decode_plain(data, 100))
    assert np.array_equal(np.asarray(got), turn(arr))


@pytest.mark.parametrize("suffix", [".png", ".tiff"])
def test_a_16_bit_grey_page_is_scaled_to_8_bits_as_opencv_reads_it(suffix):
    """Pillow's convert('L') clips 16-bit values at 255 (a page of values up to 65535 came
    out nearly white); OpenCV's grayscale read scales by 1/256, and so does the decode."""
    import cv2

    values = np.array([[0, 255, 256, 1000, 40000, 65535]] * 4, dtype=np.uint16)
    data = cv2.imencode(suffix, values)[1].tobytes()
    decoded = np.asarray(decode.decode_plain(data, 10_000))
    assert decoded.tolist() == cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE).tolist()
    assert decoded[0].tolist() == [0, 0, 1, 3, 156, 255]
