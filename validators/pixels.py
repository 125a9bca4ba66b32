"""Pixel-format checks: images whose bytes trainers decode into something other than
what the annotator saw. Image bytes are always written unchanged; these checks only
decide whether a sample is written.

- 16-bit and float images (Pillow modes ``I;16``, ``I``, ``F``): PIL-based trainers
  (clovaai, PARSeq) call ``.convert("RGB")``, which clips every value above 255, so a
  16-bit scan turns almost white; OpenCV-based ones (PaddleOCR, MMOCR) scale it instead.
  Rejected as ``high_bit_depth``.
- Transparent images (an alpha channel or palette transparency with any pixel not fully
  opaque): every trainer drops the alpha channel and sees the colour stored beneath it,
  usually black, so black text on a transparent page becomes black on black. Rejected
  as ``transparent_image``. Fully opaque RGBA is written.
- Images the fast decoder (``_fastdecode``) already read the header of and found plain
  (8-bit JPEG; PNG of at most 8 bits, grey, RGB or palette without a tRNS chunk) are not
  opened again: Pillow would open them in a mode that is neither deep nor has alpha.
- ``--keep-unsafe-images`` writes both kinds anyway.
- EXIF orientation (``--exif-rotated``, default ``keep``): the bytes are written as they
  are and width/height record the stored pixel grid, which is what PIL-based trainers
  decode (they ignore EXIF); OpenCV's ``imdecode`` applies the rotation. ``reject``
  rejects images whose orientation tag is not 1 as ``exif_rotated``.
"""
from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from dataconv.io import decode
from dataconv.errors import SampleRejected
from dataconv.optionspec import Choice, option
from dataconv.validators.base import CheckOptions, Candidate, check
from dataconv.validators.image import PLAIN_PIXELS, DecodeOptions

DEEP_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
ORIENTATION = 0x0112


def opacity_issue(im: Image.Image) -> str | None:
    """Why ``im`` would look different without its alpha channel, or None."""
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode not in ALPHA_MODES:
        return None
    low, _ = im.getchannel("A").getextrema()
    return None if low == 255 else f"mode {im.mode} with transparent pixels (alpha down to {low})"


class PixelCheck:
    def __init__(self, keep_unsafe: bool, reject_rotated: bool,
                 max_pixels: int = decode.DEFAULT_MAX_PIXELS) -> None:
        self.keep_unsafe = keep_unsafe
        self.reject_rotated = reject_rotated
        self.max_pixels = max_pixels  # the alpha test decodes: bounded like every decode

    def __call__(self, item: Candidate) -> None:
        if not self.reject_rotated and item.extra.get(PLAIN_PIXELS):
            return  # the header says neither deep nor transparent: no second open
        with decode.opened(item.data, self.max_pixels) as im:
            if not self.keep_unsafe:
                self._unsafe(im)
            if self.reject_rotated:
                self._rotated(im)

    @staticmethod
    def _unsafe(im: Image.Image) -> None:
        if im.mode in DEEP_MODES:
            raise SampleRejected("high_bit_depth", f"mode {im.mode}: PIL-based trainers clip it to "
                                                   "8 bits; re-save as 8-bit or pass --keep-unsafe-images")
        issue = opacity_issue(im)
        if issue is not None:
            raise SampleRejected("transparent_image", f"{issue}: trainers drop alpha; flatten it "
                                                      "or pass --keep-unsafe-images")

    @staticmethod
    def _rotated(im: Image.Image) -> None:
        orientation = im.getexif().get(ORIENTATION, 1)
        if orientation not in (1, None):
            raise SampleRejected("exif_rotated", f"EXIF orientation {orientation}: PIL-based "
                                                 "trainers ignore it, OpenCV applies it")


@dataclass(frozen=True)
class PixelOptions:
    keep_unsafe_images: bool = option(False, "Also write 16-bit and transparent images (trainers clip "
                                             "or blacken them).")
    exif_rotated: str = option("keep", "Images with an EXIF orientation other than 1.",
                               type=Choice(("keep", "reject")), show_default=True)


@check("pixels", order=12, options=PixelOptions)
def build_pixels(checks: CheckOptions) -> PixelCheck | None:
    o = checks.of(PixelOptions)
    reject_rotated = o.exif_rotated == "reject"
    if o.keep_unsafe_images and not reject_rotated:
        return None
    return PixelCheck(o.keep_unsafe_images, reject_rotated, checks.of(DecodeOptions).max_pixels)
