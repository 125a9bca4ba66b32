"""Image checks: the bytes must decode completely (not only the header).

PNG and JPEG, what OCR datasets are made of, take the cheap complete paths of
``_fastdecode`` (every byte of the compressed data is decoded and checked, pixels are not
produced at full size); anything else is decoded fully by Pillow.
"""
from __future__ import annotations

import io
import re
import warnings
from typing import Any, Mapping

import click
from PIL import Image

from dataconv.errors import SampleRejected
from dataconv.validators import _fastdecode
from dataconv.validators.base import Item, check

# Pillow's own bomb guard would raise a warning or error mid-run; we check explicitly.
Image.MAX_IMAGE_PIXELS = None
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's default limit
# Item.extra flag: the decoder saw an 8-bit image without alpha or palette transparency.
PLAIN_PIXELS = "plain_pixels"
_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")


def _undecodable(detail: str) -> SampleRejected:
    # Pillow names the buffer object (``<_io.BytesIO object at 0x7f..>``): an address that
    # would make rejects.jsonl differ from run to run.
    return SampleRejected("undecodable_image", _OBJECT_REPR.sub("the image bytes", detail)[:300])


class DecodeCheck:
    """Decodes the whole image so truncated files are caught; records width and height."""

    def __init__(self, max_pixels: int) -> None:
        self.max_pixels = max_pixels

    def __call__(self, item: Item) -> None:
        if not item.data:
            raise _undecodable("empty file (0 bytes)")
        size = _fastdecode.header_size(item.data)
        if size is None:
            item.width, item.height = self._pillow(item.data)
            return
        self._check_pixels(*size)
        try:
            plain = _fastdecode.verify(item.data)
        except _fastdecode.Corrupt as e:
            raise _undecodable(str(e)) from None
        item.width, item.height = size
        if plain:  # validators/pixels.py need not open it again
            item.extra[PLAIN_PIXELS] = True

    def _check_pixels(self, width: int, height: int) -> None:
        if width * height > self.max_pixels:
            raise SampleRejected(
                "too_many_pixels", f"{width}x{height} exceeds --max-pixels {self.max_pixels}")

    def _pillow(self, data: bytes) -> tuple[int, int]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Image.open(io.BytesIO(data)) as im:
                    size = im.size
                    self._check_pixels(*size)
                    im.load()
        except SampleRejected:
            raise
        except Image.UnidentifiedImageError:  # its message holds a memory address
            raise _undecodable("not an image format Pillow recognises") from None
        except Exception as e:  # Pillow raises many types for corrupt data
            raise _undecodable(f"{type(e).__name__}: {e}") from None
        return size


@check("decode", order=10, options=(
    click.option("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, show_default=True,
                 help="Reject images with more pixels than this (decompression bombs)."),
))
def build_decode(opts: Mapping[str, Any]) -> DecodeCheck:
    return DecodeCheck(int(opts.get("max_pixels") or DEFAULT_MAX_PIXELS))
