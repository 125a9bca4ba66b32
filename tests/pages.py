"""Pages for pixel-exact crop tests: random noise, so that any shift, swap, flip or wrong
padding of a crop changes its pixels."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

W, H = 160, 120


def noise_page(seed: int = 0, width: int = W, height: int = H) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def png(page: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(page).save(buf, format="PNG")
    return buf.getvalue()


def pixels(data: bytes) -> np.ndarray:
    """The RGB pixels of encoded image bytes."""
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
