"""dataconv.io.imageheader on images Pillow encodes here: the size read from the first bytes
is the size Pillow decodes, and no image of any format, mode and size, noise encoded at the
settings that make it largest, is longer than the bound per pixel allows."""
from __future__ import annotations

import io
import random

import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from dataconv.errors import SampleRejected
from dataconv.io.imageheader import BYTES_PER_PIXEL_BOUND, claimed_size

HEADERS_BYTES = 4096  # format headers and tables, beside the pixels
ENCODINGS = {  # format -> (modes, the save options that make a noise image largest)
    "PNG": (["1", "L", "LA", "RGB", "RGBA", "I;16", "P"], {"compress_level": 0}),
    "JPEG": (["L", "RGB", "CMYK"], {"quality": 100, "subsampling": 0}),
    "WEBP": (["RGB", "RGBA"], {"lossless": True}),
    "TIFF": (["1", "L", "RGB", "RGBA", "CMYK", "I;16", "I", "F"], {}),
    "BMP": (["1", "L", "RGB", "RGBA"], {}),
    "GIF": (["L", "P"], {}),
    "AVIF": (["RGB", "RGBA"], {"quality": 100}),
}
MODE_BYTES = {"1": 1, "L": 1, "P": 1, "LA": 2, "I;16": 2, "RGB": 3, "RGBA": 4, "CMYK": 4, "I": 4, "F": 4}


def noise(mode: str, width: int, height: int, seed: int) -> Image.Image:
    raw = random.Random(seed).randbytes(width * height * MODE_BYTES[mode])
    if mode == "1":
        return Image.frombytes("L", (width, height), raw).convert("1")
    return Image.frombytes(mode, (width, height), raw)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


@st.composite
def encoded_noise(draw: st.DrawFn) -> tuple[str, tuple[int, int], bytes]:
    fmt = draw(st.sampled_from(sorted(ENCODINGS)))
    modes, options = ENCODINGS[fmt]
    size = (draw(st.integers(1, 120)), draw(st.integers(1, 120)))
    image = noise(draw(st.sampled_from(modes)), *size, draw(st.integers(0, 1000)))
    return fmt, size, encode(image, fmt, **options)


@settings(max_examples=150, deadline=None)
@given(encoded_noise())
def test_the_claimed_size_is_the_decoded_size_and_within_the_bound(case) -> None:
    fmt, size, data = case
    assert claimed_size(data) == size == Image.open(io.BytesIO(data)).size, fmt
    assert len(data) <= BYTES_PER_PIXEL_BOUND * size[0] * size[1] + HEADERS_BYTES, (fmt, len(data))


def test_a_size_past_the_head_is_none_and_no_image_is_undecodable() -> None:
    image = noise("RGB", 300, 200, 1)
    jpeg = encode(image, "JPEG", icc_profile=bytes(2 << 20))  # the frame header after 2 MiB
    tiff = encode(image, "TIFF", compression="tiff_lzw")  # libtiff writes the directory last
    assert claimed_size(jpeg) == claimed_size(tiff) == (300, 200)
    assert claimed_size(jpeg[:1 << 20]) is None
    assert claimed_size(tiff[:len(tiff) // 2]) is None
    for head in (bytes(4096), b"not an image" * 100, b"\x89PNG\r\n\x1a\n" + bytes(100)):
        with pytest.raises(SampleRejected) as caught:
            claimed_size(head)
        assert caught.value.reason == "undecodable_image"
