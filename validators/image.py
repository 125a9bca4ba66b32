"""Image checks: the bytes must decode completely (not only the header)."""
from __future__ import annotations

import io
import warnings
from typing import Any, Mapping

import click
from PIL import Image

from dataconv.errors import SampleRejected
from dataconv.validators.base import Item, check

# Pillow's own bomb guard would raise a warning or error mid-run; we check explicitly.
Image.MAX_IMAGE_PIXELS = None
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's default limit


class DecodeCheck:
    """Decodes the whole image so truncated files are caught; records width and height."""

    def __init__(self, max_pixels: int) -> None:
        self.max_pixels = max_pixels

    def __call__(self, item: Item) -> None:
        if not item.data:
            raise SampleRejected("undecodable_image", "empty file (0 bytes)")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Image.open(io.BytesIO(item.data)) as im:
                    width, height = im.size
                    if width * height > self.max_pixels:
                        raise SampleRejected(
                            "too_many_pixels", f"{width}x{height} exceeds --max-pixels {self.max_pixels}")
                    im.load()
        except SampleRejected:
            raise
        except Exception as e:  # Pillow raises many types for corrupt data
            raise SampleRejected("undecodable_image", f"{type(e).__name__}: {e}"[:300]) from None
        item.width, item.height = width, height


@check("decode", order=10, options=(
    click.option("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, show_default=True,
                 help="Reject images with more pixels than this (decompression bombs)."),
))
def build_decode(opts: Mapping[str, Any]) -> DecodeCheck:
    return DecodeCheck(int(opts.get("max_pixels") or DEFAULT_MAX_PIXELS))
