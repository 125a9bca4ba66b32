"""Image bytes to the model's input array; one definition shared by training, export
verification and prediction (PyTorch or ONNX), so they cannot drift apart.

Plain PIL + numpy (no torch). The settings travel in the checkpoint's hyperparameters and
in the ONNX file's metadata.
"""
from __future__ import annotations

import io
import random
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageFilter, UnidentifiedImageError

from dataconv.errors import DataconvError


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

    def load(self, data: bytes, where: str = "") -> Image.Image:
        try:
            with Image.open(io.BytesIO(data)) as im:
                return im.convert(self.mode)
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise DataconvError(f"{where}: undecodable image ({e})") from None

    def __call__(self, image: Image.Image, width: int | None = None) -> np.ndarray:
        """(channels, height, width) float32; ``width`` overrides the padded width."""
        width = width or self.width
        image = image.convert(self.mode)
        if self.keep_ratio:
            w = max(1, min(width, round(image.width * self.height / max(image.height, 1))))
        else:
            w = width
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
