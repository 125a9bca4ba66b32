"""What several trainer simulations do the same way: decode an image as Pillow or OpenCV
does in a trainer, take a charset file as ``"$(cat FILE)"`` hands it over, and quote for
YAML. Nothing here is specific to one trainer."""
from __future__ import annotations

import io
import json
import string

from dataconv.errors import SampleRejected

LOWER36 = "0123456789abcdefghijklmnopqrstuvwxyz"
PRINTABLE94 = string.printable[:-6]


def huge(data: bytes) -> bool:
    """Over the DecompressionBombError threshold of a trainer's Pillow (twice its default
    MAX_IMAGE_PIXELS) by the header: never decoded here. The constant, not Pillow's
    global, which dataconv.io.decode switches off for its own explicit limit."""
    from dataconv.io import decode

    try:
        width, height = decode.header_size(data)
    except SampleRejected:
        return False
    return width * height > 2 * decode.DEFAULT_MAX_PIXELS


def pillow_failure(data: bytes | None) -> str | None:
    """None when ``Image.open(...).convert('RGB')`` succeeds, else the exception's kind:
    "OSError" (IOError, which clovaai catches) or the class name of anything else."""
    from PIL import Image

    if not data:
        return "OSError"
    if huge(data):
        return "DecompressionBombError"
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.convert("RGB")
    except OSError:
        return "OSError"
    except Exception as e:
        return type(e).__name__
    return None


def opencv_size(data: bytes) -> tuple[int, int] | None:
    """(height, width) of ``cv2.imdecode(buf, IMREAD_COLOR)``, or None where it gives None."""
    import cv2
    import numpy as np

    if not data or huge(data):
        return None
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        return None
    return None if img is None else img.shape[:2]


def dollar_cat(raw: bytes) -> tuple[str, ...]:
    """What ``--option "$(cat FILE)"`` hands a Python program: the bytes as argv decodes
    them (UTF-8, undecodable bytes as lone surrogates), trailing newlines removed by the
    shell, a BOM and inner newlines kept."""
    return tuple(raw.decode("utf-8", "surrogateescape").rstrip("\n"))


def yaml_quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
