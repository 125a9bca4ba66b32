"""The one way dataconv turns image bytes into pixels: the size is read from the header and
refused over ``--max-pixels`` before anything is allocated.

A 150 KB PNG can claim 30000x30000 pixels and a JPEG 65535x65535; decoding either takes
gigabytes. Pillow's ``Image.open`` only parses the header, so ``check_pixels`` can read
the size and refuse it first; ``load`` and ``decode_rgb`` decode only
what passed. Every decode site (crops, the pixel checks, report thumbnails, training
reads) goes through this module, so peak memory per image is bounded by the option, not
by what a file claims: at most ``max_pixels`` x 4 bytes for Pillow's buffer plus one
converted copy.

Failures are ``SampleRejected`` (``too_many_pixels``, ``undecodable_image``); callers
that are not building a dataset (thumbnails) catch it and show a placeholder.
"""
from __future__ import annotations

import io
import re
import warnings
from contextlib import contextmanager
from typing import Iterator

from PIL import Image

from dataconv.errors import SampleRejected

# Pillow's own bomb guard warns or raises mid-run with its own limit; ours is explicit.
Image.MAX_IMAGE_PIXELS = None
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's default limit
_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")


def undecodable(detail: str) -> SampleRejected:
    """The reject for bytes that do not decode. Pillow names the buffer object
    (``<_io.BytesIO object at 0x7f..>``), an address that would make rejects.jsonl differ
    from run to run, so it is replaced."""
    return SampleRejected("undecodable_image", _OBJECT_REPR.sub("the image bytes", detail)[:300])


def refuse_size(width: int, height: int, max_pixels: int) -> None:
    """Raise ``too_many_pixels`` when ``width`` x ``height`` is over the limit."""
    if width * height > max_pixels:
        raise SampleRejected("too_many_pixels", f"{width}x{height} exceeds --max-pixels {max_pixels}")


@contextmanager
def opened(data: bytes, max_pixels: int | None) -> Iterator[Image.Image]:
    """The image with only its header parsed, refused over ``max_pixels`` (None: only the
    header is read, nothing decoded); any decoding done inside the block that fails
    becomes ``undecodable_image``."""
    if not data:
        raise undecodable("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                if max_pixels is not None:
                    refuse_size(*im.size, max_pixels)
                yield im
    except SampleRejected:
        raise
    except Image.UnidentifiedImageError:  # its message holds a memory address
        raise undecodable("not an image format Pillow recognises") from None
    except Exception as e:  # Pillow raises many types for corrupt data
        raise undecodable(f"{type(e).__name__}: {e}") from None


def check_pixels(data: bytes, max_pixels: int) -> tuple[int, int]:
    """(width, height) from the header, or SampleRejected; decodes nothing."""
    with opened(data, max_pixels) as im:
        return im.size


def header_size(data: bytes) -> tuple[int, int]:
    """(width, height) as the header claims it, whatever it is; decodes nothing."""
    with opened(data, None) as im:
        return im.size


def load(data: bytes, max_pixels: int) -> Image.Image:
    """The completely decoded image in its own mode (a truncated file is refused)."""
    with opened(data, max_pixels) as im:
        im.load()
        return im


def decode_plain(data: bytes, max_pixels: int, draft: tuple[int, int] | None = None) -> Image.Image:
    """Mode ``L`` for grey images, else ``RGB``; transparency is composed over white.
    ``draft`` lets a JPEG decode at a reduced scale still at least that size."""
    with opened(data, max_pixels) as im:
        if draft is not None:
            im.draft("RGB", draft)
        im.load()
        return _plain(im)


# EXIF orientation tag value -> the transpose that makes the stored pixels upright (EXIF 2.3).
UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
           4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
           6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}
ORIENTATION_TAG = 0x0112


def exif_upright(data: bytes, image: Image.Image) -> Image.Image:
    """``image`` (decoded from ``data``) turned as its EXIF orientation says, i.e. as a
    camera app shows the photo; unchanged without the tag or with an unknown value."""
    with opened(data, None) as im:
        orientation = im.getexif().get(ORIENTATION_TAG, 1)
    method = UPRIGHT.get(orientation) if isinstance(orientation, int) else None
    return image.transpose(method) if method is not None else image


def decode_rgb(data: bytes, max_pixels: int, draft: tuple[int, int] | None = None) -> Image.Image:
    """Mode ``RGB``, transparency composed over white."""
    return _to(decode_plain(data, max_pixels, draft), "RGB")


def _to(im: Image.Image, mode: str) -> Image.Image:
    return im if im.mode == mode else im.convert(mode)


def _plain(im: Image.Image) -> Image.Image:
    if im.mode in ("L", "RGB"):
        return im
    if im.mode.startswith("I;16"):  # scaled to 8 bits as OpenCV's grayscale read scales it
        return im.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if im.mode in ("1", "I", "F"):
        return im.convert("L")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")
