"""Complete but cheap decoding of the two formats OCR datasets are made of.

* PNG: every chunk's CRC, the whole zlib stream inflated (its Adler-32 checked) and never
  past the size the header promises (more is an inflate bomb), every row's filter byte
  valid and the IEND chunk present. Everything a decoder reads is read; only the
  un-filtering of rows into pixels is skipped (about half of Pillow's time on text-line
  images). The inflate is libdeflate's one-shot decompress (the ``deflate`` package; 2-3x
  zlib's speed, see docs/scale.md) into a buffer of the declared size when that is at most
  ``ONE_SHOT_MAX_BYTES``; larger images, or an install without ``deflate``, are inflated by
  zlib a step at a time (``RowCheck``), so memory never grows with what a file claims.
* JPEG: OpenCV's 1/8-scale grayscale decode (``IMREAD_REDUCED_GRAYSCALE_8``): libjpeg
  still entropy-decodes every block, so a cut or broken scan fails, but skips most of the
  inverse DCT and the colour conversion. A scan without a following EOI marker is
  reported as truncated whatever OpenCV's version does with it.

``header_size`` returns ``None`` (and ``verify`` is not called) for anything else:
interlaced PNGs, other formats, headers this module does not parse; the caller then
decodes with Pillow.
"""
from __future__ import annotations

import struct
import zlib
from typing import Iterator

import cv2
import numpy as np

try:  # libdeflate: the fastest inflate measured here; zlib does the same work without it
    import deflate as _libdeflate
except ImportError:  # pragma: no cover - exercised by monkeypatching _libdeflate to None
    _libdeflate = None

cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel
JPEG_SOI, JPEG_EOI, JPEG_SOS = b"\xff\xd8", b"\xff\xd9", b"\xff\xda"
# Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
JPEG_SOF = {m for m in range(0xC0, 0xD0) if m not in (0xC4, 0xC8, 0xCC)}


class Corrupt(Exception):
    """The bytes do not decode; the message says where."""


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) when the fast path applies to these bytes, else None."""
    if data.startswith(PNG_SIGNATURE):
        return _png_header(data)
    if data.startswith(JPEG_SOI):
        return _jpeg_header(data)
    return None


def verify(data: bytes) -> bool:
    """Decode ``data`` (a format ``header_size`` accepted); raise Corrupt if it fails.

    Returns whether the image is *plain* as Pillow would open it: 8 bits or less per
    sample, no alpha channel and no palette transparency (so ``validators/pixels.py``
    has nothing to look at). False means "not known": the caller asks Pillow."""
    if data.startswith(PNG_SIGNATURE):
        return _verify_png(data)
    return _verify_jpeg(data)


# --- PNG -------------------------------------------------------------------------------

def _png_header(data: bytes) -> tuple[int, int] | None:
    if len(data) < 33 or data[12:16] != b"IHDR":
        return None
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    if interlace or colour not in PNG_CHANNELS or not width or not height:
        return None
    return width, height


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, memoryview]]:
    view, pos = memoryview(data), len(PNG_SIGNATURE)
    while pos < len(data):
        if pos + 8 > len(data):
            raise Corrupt(f"PNG truncated: chunk header at byte {pos} incomplete")
        length, kind = struct.unpack(">I4s", view[pos:pos + 8])
        end = pos + 12 + length
        if end > len(data):
            raise Corrupt(f"PNG truncated: {kind.decode('latin-1')} chunk incomplete")
        crc = struct.unpack(">I", view[end - 4:end])[0]
        if zlib.crc32(view[pos + 4:end - 4]) != crc:
            raise Corrupt(f"PNG corrupt: CRC mismatch in {kind.decode('latin-1')} chunk")
        yield kind, view[pos + 8:end - 4]
        if kind == b"IEND":
            return
        pos = end
    raise Corrupt("PNG truncated: no IEND chunk")


# Pillow opens these as L/1 (grey, tRNS kept as an ``info`` value, not alpha), RGB
# (tRNS likewise) or P; only a palette image with a tRNS chunk can be transparent.
PNG_PLAIN = {(0, 1), (0, 2), (0, 4), (0, 8), (2, 8), (3, 1), (3, 2), (3, 4), (3, 8)}


INFLATE_STEP = 1 << 20  # bytes of image data inflated at a time by the streaming path
ONE_SHOT_MAX_BYTES = 64 << 20  # the largest declared image data inflated in one buffer


def _verify_png(data: bytes) -> bool:
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    stride = (width * PNG_CHANNELS[colour] * depth + 7) // 8 + 1
    idat: list[memoryview] = []
    trns = False
    for kind, body in _png_chunks(data):
        if kind == b"IDAT":
            idat.append(body)
        elif kind == b"tRNS":
            trns = True
    expected = stride * height
    if _libdeflate is not None and expected <= ONE_SHOT_MAX_BYTES:
        _inflate_one_shot(b"".join(idat), expected, stride)
    else:
        _inflate_streamed(idat, expected, stride)
    return (colour, depth) in PNG_PLAIN and not (colour == 3 and trns)


def _inflate_one_shot(compressed: bytes, expected: int, stride: int) -> None:
    """libdeflate into a buffer one byte larger than declared: a longer stream fails (or
    fills the extra byte), a shorter one returns fewer bytes; the Adler-32 is checked."""
    try:
        out = _libdeflate.zlib_decompress(compressed, expected + 1)
    except _libdeflate.DeflateError:
        raise Corrupt("PNG corrupt: image data does not inflate (or is longer than the "
                      f"{expected} bytes its header allows)") from None
    if len(out) > expected:
        raise Corrupt(f"PNG corrupt: image data longer than the {expected} bytes its header allows")
    if len(out) < expected:
        raise Corrupt(f"PNG truncated: image data ends early ({len(out)} of {expected} bytes)")
    _check_filters(out[::stride])


def _inflate_streamed(idat: list[memoryview], expected: int, stride: int) -> None:
    rows = RowCheck(expected, stride)
    try:
        for body in idat:
            rows.feed(body)
    except zlib.error as e:
        raise Corrupt(f"PNG corrupt: image data: {e}") from None
    rows.finish()


def _check_filters(filters: bytes | bytearray) -> None:
    """Every row starts with a filter type byte, 0 to 4."""
    if filters and max(filters) > 4:
        raise Corrupt("PNG corrupt: invalid row filter type")


class RowCheck:
    """Inflates the IDAT stream in steps of at most ``INFLATE_STEP`` bytes, checking each
    row's filter byte as it passes, and never past the ``expected`` size the header
    allows: memory stays one step whatever the stream claims, and data beyond the last
    row is corruption (an inflate bomb behind an honest header)."""

    def __init__(self, expected: int, stride: int) -> None:
        self.expected, self.stride = expected, stride
        self.inflater, self.done = zlib.decompressobj(), 0

    def feed(self, compressed: bytes | memoryview) -> None:
        pending = bytes(compressed)
        while pending and not self.inflater.eof:
            room = self.expected - self.done
            out = self.inflater.decompress(pending, min(room, INFLATE_STEP) or 1)
            if len(out) > room:
                raise Corrupt(f"PNG corrupt: image data longer than the {self.expected} "
                              "bytes its header allows")
            _check_filters(out[(-self.done) % self.stride::self.stride])  # rows starting in ``out``
            self.done += len(out)
            if not out and len(self.inflater.unconsumed_tail) == len(pending):
                raise Corrupt("PNG corrupt: image data makes no progress")
            pending = self.inflater.unconsumed_tail

    def finish(self) -> None:
        if not self.inflater.eof or self.done != self.expected:
            raise Corrupt(f"PNG truncated: image data ends early ({self.done} of "
                          f"{self.expected} bytes)")


# --- JPEG ------------------------------------------------------------------------------

def _jpeg_header(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 9 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in JPEG_SOF:
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return (width, height) if width and height else None
        if marker == 0xDA:
            return None
        pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
    return None


def _jpeg_plain(data: bytes) -> bool:
    """8-bit samples in 1, 3 or 4 components: what Pillow opens as L, RGB or CMYK."""
    pos = 2
    while pos + 10 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in JPEG_SOF:
            return data[pos + 4] == 8 and data[pos + 9] in (1, 3, 4)
        if marker == 0xDA:
            return False
        pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
    return False


def _verify_jpeg(data: bytes) -> bool:
    if data.rfind(JPEG_EOI) < data.rfind(JPEG_SOS):
        raise Corrupt("JPEG truncated: no EOI marker after the last scan")
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_8)
    if decoded is None or decoded.size == 0:
        raise Corrupt("JPEG truncated or corrupt: the scan does not decode")
    return _jpeg_plain(data)

