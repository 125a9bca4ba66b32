"""A page image whose stored pixels and box coordinates agree for every decoder.

``cv2.imread`` and ``cv2.imdecode`` with ``IMREAD_COLOR`` (what PaddleOCR's
``DecodeImage`` and MMOCR's ``LoadImageFromFile`` use) turn a JPEG by its EXIF
orientation; Pillow's ``Image.open`` does not. A page with an orientation other than 1 is
therefore written without it, so that every decoder returns the stored pixels: a JPEG
loses its EXIF segment (no pixel is re-encoded), other formats are re-encoded losslessly
by Pillow without EXIF. When the source's coordinates refer to the upright photo (the
AI Hub photo sets), they are mapped to the stored pixels (``to_stored``).
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from dataconv.io import decode

JPEG_SOI, EXIF_HEADER = b"\xff\xd8", b"Exif\x00\x00"
# markers without a length field: TEM, RSTn, SOI (SOS ends the header: entropy data follows)
NO_LENGTH = {0x01, *range(0xD0, 0xD9)}


def orientation(data: bytes) -> int:
    """The EXIF orientation (1 to 8) of encoded image bytes; 1 without one or when unreadable."""
    try:
        with decode.opened(data, None) as im:
            value = im.getexif().get(decode.ORIENTATION_TAG, 1)
    except Exception:  # any decoder fault: the page read reports it, not this probe
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def without_exif(data: bytes) -> bytes:
    """The image with no EXIF orientation: JPEG APP1/Exif segments cut out byte for byte;
    any other format re-encoded losslessly by Pillow without EXIF."""
    if data.startswith(JPEG_SOI):
        return _cut_jpeg_exif(data)
    with decode.opened(data, None) as im:
        out = io.BytesIO()
        im.save(out, format=im.format, **({"lossless": True} if im.format == "WEBP" else {}))
    return out.getvalue()


def _cut_jpeg_exif(data: bytes) -> bytes:
    out, pos = bytearray(data[:2]), 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in NO_LENGTH:
            out += data[pos:pos + 2]
            pos += 2
            continue
        end = pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker == 0xDA:  # start of scan: the rest is image data
            break
        if not (marker == 0xE1 and data[pos + 4:pos + 10] == EXIF_HEADER):
            out += data[pos:end]
        pos = end
    return bytes(out + data[pos:])


def to_stored(points: np.ndarray, value: int, width: int, height: int) -> np.ndarray:
    """Points given on the upright photo (as turned by EXIF orientation ``value``) mapped to
    the stored pixels of a ``width`` x ``height`` (stored) image."""
    u, v = points[:, 0], points[:, 1]
    w, h = float(width), float(height)
    mapped = {1: (u, v), 2: (w - u, v), 3: (w - u, h - v), 4: (u, h - v),
              5: (v, u), 6: (v, h - u), 7: (w - v, h - u), 8: (w - v, u)}[value]
    return np.stack(mapped, axis=1)


def stored_size(data: bytes) -> tuple[int, int]:
    """Width and height of the stored pixels, from the header."""
    with decode.opened(data, None) as im:
        return im.size


