"""Hostile images: each case ends written byte-for-byte or rejected with its reason."""
from __future__ import annotations

import io
import os
import random

import pandas as pd
import pytest
from PIL import Image

from helpers import clovaai_tree, rejects_of
from dataconv.fixtures.hostile import (exif_rotated_jpeg, hostile_images, make_hostile_images,
                                       real_bomb)
from hostile_util import accounted, convert, gt_source, png, reasons


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    src = str(tmp_path_factory.mktemp("hostile") / "src")
    cases = make_hostile_images(src, seed=7)
    out = str(tmp_path_factory.mktemp("hostile") / "out")
    convert("gt-txt", src, out)
    return cases, out


def test_every_case_is_written_or_rejected_with_its_reason(converted):
    cases, out = converted
    card = accounted(out)
    assert card["counts"]["input"] == len(cases)
    expected = {case.file_name: case.reason for case in cases.values() if case.reason}
    assert reasons(out) == expected


def test_written_images_are_the_source_bytes_unchanged(converted):
    cases, out = converted
    written = {label: data for shard in clovaai_tree(out).values() for label, data in shard}
    kept = {name: case.content for name, case in cases.items() if case.reason is None}
    assert written == kept


def test_width_and_height_are_the_stored_pixel_grid(converted):
    """EXIF-rotated images record the grid trainers decode with PIL (EXIF ignored)."""
    _, out = converted
    frame = pd.read_parquet(os.path.join(out, "samples.parquet")).set_index("label")
    assert tuple(frame.loc["exif_rotated", ["width", "height"]]) == (96, 32)
    assert tuple(frame.loc["one_by_one", ["width", "height"]]) == (1, 1)
    assert tuple(frame.loc["cmyk_jpeg", ["width", "height"]]) == (96, 32)


def test_reject_details_are_deterministic_text(converted):
    _, out = converted
    for row in rejects_of(out):
        assert " at 0x" not in row["detail"] and row["detail"], row


def test_exif_rotated_can_be_rejected(tmp_path):
    data = exif_rotated_jpeg(random.Random(1), orientation=8)
    src = gt_source(str(tmp_path / "src"), b"r.jpg\trotated\nok.png\tok\n", {"r.jpg": data, "ok.png": png()})
    out = str(tmp_path / "out")
    convert("gt-txt", src, out, "--exif-rotated", "reject")
    assert accounted(out)["counts"]["written"] == 1
    [row] = rejects_of(out)
    assert row["reason"] == "exif_rotated" and "orientation 8" in row["detail"]


def test_keep_unsafe_images_writes_16_bit_and_transparent(tmp_path):
    cases = hostile_images(random.Random(2))
    picked = {name: cases[name] for name in ("gray16_png", "rgba_transparent")}
    gt = "".join(f"{c.file_name}\t{name}\n" for name, c in picked.items()).encode()
    src = gt_source(str(tmp_path / "src"), gt, {c.file_name: c.content for c in picked.values()})
    out = str(tmp_path / "out")
    convert("gt-txt", src, out, "--keep-unsafe-images")
    assert accounted(out)["counts"]["written"] == 2


def test_real_decompression_bomb_over_max_pixels(tmp_path):
    bomb = real_bomb(4000, 3000)
    assert len(bomb) < 50_000  # 12 megapixels in a few kilobytes
    src = gt_source(str(tmp_path / "src"), b"bomb.png\tboom\nok.png\tfine\n",
                    {"bomb.png": bomb, "ok.png": real_bomb(40, 30)})
    out = str(tmp_path / "out")
    convert("gt-txt", src, out, "--max-pixels", "1000000")
    accounted(out)
    assert reasons(out) == {"bomb.png": "too_many_pixels"}


@pytest.mark.parametrize("fmt,mode", [("PNG", "P"), ("PNG", "LA"), ("TIFF", "RGB"),
                                      ("BMP", "RGB"), ("GIF", "L"), ("WEBP", "RGB")])
def test_other_formats_and_modes_decode_as_trainers_do(tmp_path, fmt, mode):
    im = Image.new(mode, (40, 20), (200, 255) if mode == "LA" else 200)
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    src = gt_source(str(tmp_path / "src"), b"x.img\tlabel\n", {"x.img": buf.getvalue()})
    out = str(tmp_path / "out")
    convert("gt-txt", src, out)
    assert accounted(out)["counts"]["written"] == 1
    [[(_, data)]] = clovaai_tree(out).values()
    assert Image.open(io.BytesIO(data)).convert("RGB").size == (40, 20)
