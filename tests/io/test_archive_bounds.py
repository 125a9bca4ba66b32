"""An archive member is bounded before it is held (issue 27): by the size the archive
lists, by the pixel count its image header claims (--max-pixels), and by a read that
stops at the bytes an image of that size can need. The bombs are generated here, written
by streaming: a 1.2 MB zip whose image member inflates to 1.2 GB runs through the real CLI
in a fresh process (peak RSS asserted); each bound is then shown alone in zip, tar and
tar.gz with the Python heap traced around the one read."""
from __future__ import annotations

import io
import os
import random
import tarfile
import tracemalloc
import zipfile

import pytest
from PIL import Image

from dataconv.errors import SampleRejected
from dataconv.fixtures.hostile import page_bomb
from dataconv.io.archive import HEAD_BYTES, Archive
from dataconv.io.imageheader import encoded_bytes_bound
from dataconv.io.source import MAX_MEMBER_BYTES
from helpers import rejects_of
from hostile_util import png
from helpers import peak_rss
from test_trust_memory import convert_args

MiB = 1 << 20
RSS_BOUND_MB = 300
KINDS = ["zip", "tar", "tar.gz"]
SMALL_PNG = png(1, 64, 64)  # a real 64x64 image: 16 MiB and 64 KiB is all it can need
CLAIMS_30000 = page_bomb(30_000)[:33]  # the signature and an IHDR claiming 30000x30000


ZEROS = memoryview(bytes(16 * MiB))


class Padded:
    """``head``, then zero bytes up to ``size`` in all, made as they are read."""

    def __init__(self, head: bytes, size: int) -> None:
        self.head, self.size, self.pos = head, size, 0

    def read(self, n: int) -> bytes | memoryview:
        n = max(0, min(n, self.size - self.pos, len(ZEROS)))
        part = self.head[self.pos:self.pos + n]
        self.pos += n
        return part + ZEROS[:n - len(part)] if part else ZEROS[:n]


def pack(path: str, members: dict[str, tuple[bytes, int]]) -> str:
    """An archive (by ``path``'s suffix) of ``{name: (head, size)}`` members, streamed."""
    if path.endswith(".zip"):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            for name, (head, size) in members.items():
                source = Padded(head, size)
                with z.open(name, "w") as f:
                    while block := source.read(len(ZEROS)):
                        f.write(block)
        return path
    with tarfile.open(path, "w:gz" if path.endswith(".gz") else "w", copybufsize=len(ZEROS)) as t:
        for name, (head, size) in members.items():
            info = tarfile.TarInfo(name)
            info.size = size
            t.addfile(info, Padded(head, size))  # type: ignore[arg-type]
    return path


def whole(data: bytes) -> tuple[bytes, int]:
    return data, len(data)


def test_zip_bomb_is_rejected_with_bounded_memory(tmp_path) -> None:
    """The issue's bomb (2,107 MB and 14 s before; a 64x64 PNG with 200 MB behind it was
    written whole), with the two other bounds beside it, in one fresh process."""
    src = pack(str(tmp_path / "bomb.zip"), {
        "gt.txt": whole(b"a.png\tbomb\nb.png\tlong\nc.png\tclaims\nok.png\tok\n"),
        "a.png": (b"", 1_200_000_000), "b.png": (SMALL_PNG, 200_000_000),
        "c.png": (CLAIMS_30000, 200_000_000), "ok.png": whole(png(2))})
    assert os.path.getsize(src) < 2_000_000
    out = str(tmp_path / "out")
    rss, code, err = peak_rss(*convert_args("gt-txt", src, out))
    assert code == 0 and "Traceback" not in err, (code, err)
    assert rss < RSS_BOUND_MB, rss
    rows = {r["id"]: (r["reason"], r["detail"]) for r in rejects_of(out)}
    assert rows == {
        "a.png": ("unreadable_image", "a.png: over 1073741824 bytes once decompressed (the archive lists 1200000000)"),
        "b.png": ("unreadable_image", f"b.png: longer than the {encoded_bytes_bound(64 * 64)} bytes a 64x64 image can need"),
        "c.png": ("too_many_pixels", "30000x30000 exceeds --max-pixels 89478485")}


BOUNDS = {  # which bound stops it: (head, member size, --max-pixels, reason, detail fragment)
    "listed": (b"", 40 * MiB, 1000, "unreadable_image", f"(the archive lists {40 * MiB})"),
    "pixels": (CLAIMS_30000, 40 * MiB, 89_478_485, "too_many_pixels", "30000x30000 exceeds"),
    "read": (SMALL_PNG, 80 * MiB, 89_478_485, "unreadable_image", "a 64x64 image can need"),
}
HELD_MIB = {"listed": 1, "pixels": 8, "read": 40}  # the Python heap's peak during the read


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bound", list(BOUNDS))
def test_each_bound_stops_a_member_before_it_is_held(tmp_path, kind: str, bound: str) -> None:
    head, size, max_pixels, reason, fragment = BOUNDS[bound]
    archive = Archive(pack(str(tmp_path / f"a.{kind}"), {"m.png": (head, size)}))
    archive.index()
    tracemalloc.start()
    try:
        with pytest.raises(SampleRejected) as caught:
            archive.read("m.png", MAX_MEMBER_BYTES, max_pixels)
        held = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (caught.value.reason, fragment in caught.value.detail) == (reason, True), caught.value
    assert held < HELD_MIB[bound] * MiB, held


def noise(width: int, height: int, mode: str = "RGB") -> Image.Image:
    rng = random.Random(width * height)
    return Image.frombytes(mode, (width, height), rng.randbytes(width * height * len(mode)))


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


LARGE_IMAGES = {  # real images over HEAD_BYTES, each read back exactly
    "png": lambda: encoded(noise(1000, 800), "PNG", compress_level=0),
    "jpeg": lambda: encoded(noise(1000, 800), "JPEG", quality=100, subsampling=0),
    "jpeg, 2 MiB ICC profile first": lambda: encoded(noise(200, 100), "JPEG", icc_profile=bytes(2 * MiB)),
    "tiff, directory at its end": lambda: encoded(noise(1000, 800), "TIFF", compression="tiff_lzw"),
    "webp": lambda: encoded(noise(1000, 800), "WEBP", lossless=True),
    "avif": lambda: encoded(noise(1000, 800), "AVIF", quality=100),
}


@pytest.fixture(scope="module")
def large_images() -> dict[str, bytes]:
    images = {f"{name}.img": make() for name, make in LARGE_IMAGES.items()}
    assert all(len(data) > HEAD_BYTES for data in images.values())
    return images


@pytest.mark.parametrize("kind", KINDS)
def test_large_real_images_read_back_exactly(tmp_path, large_images, kind: str) -> None:
    images = large_images
    archive = Archive(pack(str(tmp_path / f"a.{kind}"), {n: whole(d) for n, d in images.items()}))
    for name, data in images.items():
        assert archive.read(name, MAX_MEMBER_BYTES) == data, name


def test_a_large_member_that_starts_no_image_is_refused_from_its_head(tmp_path) -> None:
    archive = Archive(pack(str(tmp_path / "a.zip"), {"m.png": (b"not an image", 3 * MiB),
                                                     "small.png": (b"not an image", 100)}))
    with pytest.raises(SampleRejected) as caught:
        archive.read("m.png", MAX_MEMBER_BYTES)
    assert caught.value.reason == "undecodable_image"
    assert archive.read("small.png", MAX_MEMBER_BYTES) == b"not an image" + bytes(88)  # the check judges it
