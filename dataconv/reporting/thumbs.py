"""Thumbnails as data: URIs. Only the images a report shows are read from the LMDBs
(``dataconv.io.dataset_reader``), one read transaction per shard."""
from __future__ import annotations

import base64
import io

import pandas as pd
from PIL import Image

from dataconv.io import decode
from dataconv.io.dataset_reader import shard_at
from dataconv.errors import SampleRejected

MAX_HEIGHT = 64  # px; shown at up to half this (crisp on high-DPI screens)
MAX_WIDTH = 640


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def thumbnail(data: bytes, max_pixels: int = decode.DEFAULT_MAX_PIXELS,
              box: tuple[int, int] = (MAX_WIDTH, MAX_HEIGHT)) -> str | None:
    """A JPEG data: URI of the image scaled to fit ``box`` (width, height), or None (the
    report's placeholder) if the bytes do not decode or claim more than ``max_pixels``."""
    try:
        im = decode.decode_rgb(data, max_pixels, draft=box)
    except SampleRejected:
        return None
    im.thumbnail(box, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    return data_uri(buf.getvalue(), "image/jpeg")


def read_images(root: str, rows: pd.DataFrame) -> dict[tuple[str, int], bytes | None]:
    """Image bytes of the given rows (columns shard, index), keyed by (shard, index)."""
    found: dict[tuple[str, int], bytes | None] = {}
    for shard, group in rows.groupby("shard", observed=True):
        reader = shard_at(root, str(shard))
        found.update({(reader.rel, rec.index): rec.image
                      for rec in reader.read(int(i) for i in group["index"])})
    return found


def thumbnails(root: str, rows: pd.DataFrame) -> list[str | None]:
    """One data: URI (or None) per row, in row order."""
    images = read_images(root, rows)
    cache: dict[tuple[str, int], str | None] = {}
    out = []
    for shard, index in zip(rows["shard"], rows["index"]):
        key = (str(shard), int(index))
        if key not in cache:
            data = images.get(key)
            cache[key] = thumbnail(data) if data else None
        out.append(cache[key])
    return out
