"""Image bytes to the model's input array; one definition shared by training, export
verification and prediction (PyTorch or ONNX), so they cannot drift apart.

Plain PIL + numpy (no torch). The settings travel in the checkpoint's hyperparameters and
in the ONNX file's metadata.
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from dataconv.io import decode
from dataconv.errors import DataconvError, SampleRejected


@dataclass(frozen=True)
class Preprocess:
    """Resize to ``height``; with ``keep_ratio`` keep the aspect ratio (squeezing only images
    wider than ``width``) and pad on the right to ``width``, else stretch to height x width.
    Pixels are scaled to [-1, 1]; padding is 0 (mid-grey)."""

    height: int = 32
    width: int = 128
    channels: int = 1
    keep_ratio: bool = True

    @property
    def mode(self) -> str:
        return "L" if self.channels == 1 else "RGB"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load(self, data: bytes, where: str = "", max_pixels: int = decode.DEFAULT_MAX_PIXELS) -> Image.Image:
        """Decoded image in ``mode``; a JPEG is decoded straight to it (see ``_draft``).
        The size in the header is checked against ``max_pixels`` before any pixel is
        allocated (``dataconv.io.decode``: a small file may claim a huge image)."""
        try:
            with decode.opened(data, max_pixels) as image:  # leaving drops the buffer, not the pixels
                if image.format == "JPEG":
                    self._draft(image)
                image.load()
        except SampleRejected as e:
            what = "too many pixels" if e.reason == "too_many_pixels" else "undecodable image"
            raise DataconvError(f"{where}: {what} ({e.detail})".splitlines()[0]) from None
        return image if image.mode == self.mode else image.convert(self.mode)

    def _draft(self, image: Image.Image) -> None:
        """Have libjpeg decode to ``mode`` directly (grey: its Y channel, skipping the
        YCbCr->RGB->L round trip) and, for a JPEG at least twice the target size, at 1/2,
        1/4 or 1/8 scale (DCT scaling), at a fraction of the cost of a full decode. A scale
        is taken only where it leaves the keep-ratio width unchanged, so the output differs
        from a full decode's only by how the downscaling is split between libjpeg and
        ``resize``. (Without ``keep_ratio``, a ``width`` above ``self.width`` given to
        ``__call__`` may then upsample.)"""
        width, height = image.size
        scale = next((s for s in (8, 4, 2) if self._reducible(image.size, s)), 1)
        image.draft(self.mode, (width // scale, height // scale))

    def _reducible(self, size: tuple[int, int], scale: int) -> bool:
        """Whether a JPEG of ``size`` decoded at 1/``scale`` stays at least twice the target
        size (the margin of Pillow's ``thumbnail``) and keeps its keep-ratio width."""
        reduced = (-(-size[0] // scale), -(-size[1] // scale))  # libjpeg rounds up
        if size[0] < scale or reduced[1] < 2 * self.height:
            return False
        if self.keep_ratio:
            return self._keep_ratio_width(reduced) == self._keep_ratio_width(size)
        return reduced[0] >= 2 * self.width

    def _keep_ratio_width(self, size: tuple[int, int]) -> int:
        """Width of an image of ``size`` resized to ``height`` with its aspect ratio kept."""
        return max(1, round(size[0] * self.height / max(size[1], 1)))

    def __call__(self, image: Image.Image, width: int | None = None) -> np.ndarray:
        """(channels, height, width) float32; ``width`` overrides the padded width."""
        width = width or self.width
        if image.mode != self.mode:
            image = image.convert(self.mode)
        w = min(width, self._keep_ratio_width(image.size)) if self.keep_ratio else width
        resized = np.asarray(image.resize((w, self.height), Image.BILINEAR), dtype=np.float32)
        resized = resized.reshape(self.height, w, -1).transpose(2, 0, 1) / 127.5 - 1.0
        out = np.zeros((self.channels, self.height, width), dtype=np.float32)
        out[:, :, :w] = resized
        return out

    def batch(self, images: list[Image.Image], width: int | None = None) -> np.ndarray:
        return np.stack([self(im, width) for im in images])


def augment(image: Image.Image, rng: random.Random) -> Image.Image:
    """Mild photometric and geometric noise for training images (off unless asked for)."""
    if rng.random() < 0.5:
        image = image.rotate(rng.uniform(-3, 3), resample=Image.BILINEAR, expand=True,
                             fillcolor=image.getpixel((0, 0)))
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    if rng.random() < 0.5:
        lo, hi = rng.uniform(0, 60), rng.uniform(195, 255)
        image = image.point(lambda v: int(lo + v * (hi - lo) / 255))
    return image
