"""Image checks: the bytes must decode completely (not only the header).

PNG and JPEG, what OCR datasets are made of, take the cheap complete paths of
``_fastdecode`` (every byte of the compressed data is decoded and checked, pixels are not
produced at full size); anything else is decoded fully by Pillow.
"""
from __future__ import annotations

from dataclasses import dataclass

from dataconv.io import decode
from dataconv.io.decode import DEFAULT_MAX_PIXELS
from dataconv.optionspec import Range, option
from dataconv.validators import _fastdecode
from dataconv.validators.base import CheckOptions, Candidate, check

# Candidate.extra flag: the decoder saw an 8-bit image without alpha or palette transparency.
PLAIN_PIXELS = "plain_pixels"


class DecodeCheck:
    """Decodes the whole image so truncated files are caught; records width and height."""

    def __init__(self, max_pixels: int) -> None:
        self.max_pixels = max_pixels

    def __call__(self, item: Candidate) -> None:
        if not item.data:
            raise decode.undecodable("empty file (0 bytes)")
        size = _fastdecode.header_size(item.data)
        if size is None:
            item.width, item.height = decode.load(item.data, self.max_pixels).size
            return
        decode.refuse_size(*size, self.max_pixels)
        try:
            plain = _fastdecode.verify(item.data)
        except _fastdecode.Corrupt as e:
            raise decode.undecodable(str(e)) from None
        item.width, item.height = size
        if plain:  # validators/pixels.py need not open it again
            item.extra[PLAIN_PIXELS] = True


@dataclass(frozen=True)
class DecodeOptions:
    """Also the bound of every other decode of the run (pages, crops, pixel checks)."""

    max_pixels: int = option(DEFAULT_MAX_PIXELS, "Reject images with more pixels than this (decompression "
                                                 "bombs); no image, page or crop larger than this is ever decoded.",
                             type=Range(int, 1, strict=True), show_default=True)


@check("decode", order=10, options=DecodeOptions)
def build_decode(checks: CheckOptions) -> DecodeCheck:
    return DecodeCheck(checks.of(DecodeOptions).max_pixels)
