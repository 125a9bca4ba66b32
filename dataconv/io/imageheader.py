"""The size an image file claims, from its first bytes, and the most bytes an image of a
size can need: what bounds an archive member before the rest of it is read
(``dataconv.io.archive``), so memory follows what an image needs, never what a member
inflates to.

PNG, JPEG, WebP and AVIF/HEIF sizes are read here: Pillow gives up on a head whose later
chunks are cut (a JPEG's scan, a PNG's IDAT) or decodes the whole file to open it (WebP,
AVIF), which says nothing of the size. Other formats go to Pillow's header parse.
"""
from __future__ import annotations

import struct
from typing import Union

from dataconv.io.decode import header_size

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8"
# Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
JPEG_SOF = frozenset(m for m in range(0xC0, 0xD0) if m not in (0xC4, 0xC8, 0xCC))
JPEG_SOS = 0xDA
# TIFF byte order mark -> how its first directory's offset is written (classic, BigTIFF).
TIFF_OFFSET = {b"II*\0": ("<I", 4), b"MM\0*": (">I", 4), b"II+\0": ("<Q", 8), b"MM\0+": (">Q", 8)}

BYTES_PER_PIXEL_BOUND = 16  # RGBA at 32 bits a sample stored uncompressed (a float TIFF)
METADATA_BOUND = 16 << 20  # EXIF, ICC profiles, XMP, text chunks beside the pixels


class _Further:
    """The image says its size past the bytes at hand (a TIFF's directory at its end, a
    JPEG's frame header after long metadata)."""


FURTHER = _Further()
Found = Union[tuple[int, int], _Further, None]  # None: not this format, or not told here


def encoded_bytes_bound(pixels: int) -> int:
    """The most bytes an encoded image of ``pixels`` pixels needs: more is not that image."""
    return BYTES_PER_PIXEL_BOUND * pixels + METADATA_BOUND


def claimed_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) as the image starting with ``head`` claims, decoding nothing; None
    when it says its size further on than ``head``; ``undecodable_image`` when ``head``
    starts no image Pillow reads."""
    for reader in (png_size, jpeg_size, webp_size, isobmff_size, tiff_size):
        found = reader(head)
        if isinstance(found, _Further):
            return None
        if found is not None:
            return found
    return header_size(head)


def png_size(head: bytes) -> Found:
    """From the IHDR chunk, always the first."""
    if not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR" or len(head) < 24:
        return None
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def jpeg_size(head: bytes) -> Found:
    """From the start-of-frame segment, after the metadata segments (None when something
    other than a segment stands in the way: Pillow, more lenient, decides)."""
    if not head.startswith(JPEG_SOI):
        return None
    pos = len(JPEG_SOI)
    while pos + 4 <= len(head):
        if head[pos] != 0xFF:
            return None
        marker = head[pos + 1]
        if marker == 0xFF:  # a fill byte
            pos += 1
            continue
        if marker in JPEG_SOF:
            if pos + 9 > len(head):
                return FURTHER
            height, width = struct.unpack(">HH", head[pos + 5:pos + 9])
            return width, height
        if marker == JPEG_SOS:
            return None  # a scan before any frame header
        pos += 2 + int.from_bytes(head[pos + 2:pos + 4], "big")
    return FURTHER


def webp_size(head: bytes) -> Found:
    """From the first chunk: the extended header's canvas, or the lossless or lossy
    bitstream's own header."""
    if head[:4] != b"RIFF" or head[8:12] != b"WEBP" or len(head) < 30:
        return None
    kind = head[12:16]
    if kind == b"VP8X":
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    if kind == b"VP8L" and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, (bits >> 14 & 0x3FFF) + 1
    if kind == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None


def isobmff_size(head: bytes) -> Found:
    """AVIF, HEIF: from the first image spatial extents property (``ispe``)."""
    if head[4:8] != b"ftyp":
        return None
    at = head.find(b"ispe")
    if at < 0 or at + 16 > len(head):
        return FURTHER  # the meta box may follow the media data
    width, height = struct.unpack(">II", head[at + 8:at + 16])
    return width, height


def tiff_size(head: bytes) -> Found:
    """FURTHER when the first directory (which holds the size) lies past ``head``; else
    Pillow reads it."""
    layout = TIFF_OFFSET.get(head[:4])
    if layout is None:
        return None
    fmt, start = layout
    end = start + struct.calcsize(fmt)
    if len(head) >= end and struct.unpack(fmt, head[start:end])[0] >= len(head):
        return FURTHER
    return None
