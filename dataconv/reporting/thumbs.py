"""Thumbnails as data: URIs. Only the images a report shows are read from the LMDBs,
one read-only handle per shard."""
from __future__ import annotations

import base64
import io
import os
import warnings
from typing import Iterable

import pandas as pd
from PIL import Image

from dataconv import lmdb_keys, lmdb_tree

MAX_HEIGHT = 64  # px; shown at up to half this (crisp on high-DPI screens)
MAX_WIDTH = 640


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def thumbnail(data: bytes) -> str | None:
    """A JPEG data: URI of the image scaled to fit MAX_WIDTH x MAX_HEIGHT, or None if the
    bytes do not decode."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                im.draft("RGB", (MAX_WIDTH, MAX_HEIGHT))  # fast JPEG downscale
                im = _on_white(im)
    except Exception:  # Pillow raises many types for bad data
        return None
    im.thumbnail((MAX_WIDTH, MAX_HEIGHT), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    return data_uri(buf.getvalue(), "image/jpeg")


def _on_white(im: Image.Image) -> Image.Image:
    if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        page = Image.new("RGB", rgba.size, "white")
        page.paste(rgba, mask=rgba.getchannel("A"))
        return page
    return im.convert("RGB")


def read_images(root: str, rows: pd.DataFrame) -> dict[tuple[str, int], bytes | None]:
    """Image bytes of the given rows (columns shard, index), keyed by (shard, index)."""
    found: dict[tuple[str, int], bytes | None] = {}
    for shard, group in rows.groupby("shard", observed=True):
        found.update(_read_shard(os.path.join(root, str(shard)), str(shard), group["index"]))
    return found


def _read_shard(path: str, shard: str, indices: Iterable[int]) -> dict[tuple[str, int], bytes | None]:
    env = lmdb_tree.open_readonly(path)
    try:
        with env.begin() as txn:
            return {(shard, int(i)): txn.get(lmdb_keys.image_key(int(i))) for i in indices}
    finally:
        env.close()


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
