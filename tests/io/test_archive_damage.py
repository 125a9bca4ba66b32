"""A damaged archive member is that member's fault, never the run's crash (issue 27): every
error reading a zip member (a damaged deflate, bzip2 or LZMA stream, a bad CRC, data cut
short, encryption, an unknown compression method, a local header that disagrees) is one
``unreadable_image`` reject with ``--workers 1`` and ``2``; damage to what lists the
members (a tar header, a tar.gz stream) is a one-line error naming the archive. A property
test corrupts random bytes of random members of zip, tar and tar.gz sources and runs the
real CLI: exit 0 with every sample accounted for, or one line."""
from __future__ import annotations

import io
import os
import struct
import tarfile
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from helpers import assert_accounted, rejects_of, run_cli, with_defaults
from hostile_util import assert_one_line_error, png

IMAGES = {f"w{k}.png": png(k, 96, 32) for k in range(4)}
GT = "".join(f"{name}\tword{k}\n" for k, name in enumerate(IMAGES)).encode()
METHODS = [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
ZIP_FAULTS = ["deflate", "bzip2", "lzma", "crc", "truncated", "encrypted", "method", "header_name"]
FAULT_METHOD = {"deflate": zipfile.ZIP_DEFLATED, "bzip2": zipfile.ZIP_BZIP2, "lzma": zipfile.ZIP_LZMA,
                "crc": zipfile.ZIP_STORED, "truncated": zipfile.ZIP_STORED}


def convert(src: str, out: str, workers: str = "1", expect: int | None = 0):
    return run_cli("gt-txt", "-i", src, "-o", out, *with_defaults(("--workers", workers)), expect=expect)


def write_zip(path: str, members: dict[str, tuple[bytes, int]]) -> str:
    with zipfile.ZipFile(path, "w") as z:
        for name, (data, method) in members.items():
            z.writestr(name, data, compress_type=method)
    return path


def write_tar(path: str, members: dict[str, bytes]) -> str:
    with tarfile.open(path, "w:gz" if path.endswith(".gz") else "w") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


def headers(data: bytes, name: str) -> tuple[int, int, int]:
    """(local header, central directory entry, start of data) of member ``name``."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        local, central = z.getinfo(name).header_offset, z.start_dir
    while struct.unpack("<I", data[central + 42:central + 46])[0] != local:
        central += 46 + sum(struct.unpack("<HHH", data[central + 28:central + 34]))
    name_len, extra_len = struct.unpack("<HH", data[local + 26:local + 30])
    return local, central, local + 30 + name_len + extra_len


def damage(data: bytearray, name: str, fault: str) -> None:
    """Damage member ``name`` of the zip in ``data`` as ``fault`` says."""
    local, central, start = headers(bytes(data), name)
    size = struct.unpack("<I", data[central + 20:central + 24])[0]  # compressed size
    if fault == "deflate":  # the first block of a reserved type: zlib.error
        data[start] = 0xFF
    elif fault in ("bzip2", "lzma"):
        data[start + size // 3:start + size // 3 + 24] = b"\xa5" * 24
    elif fault == "crc":
        data[start + size - 20] ^= 0x01  # inside the PNG's IDAT: only the CRC tells
    elif fault == "truncated":  # the directory promises more data than the archive holds
        data[central + 20:central + 28] = struct.pack("<II", len(data), len(data))
    elif fault == "encrypted":
        for at in (local + 6, central + 8):
            data[at] |= 0x01
    elif fault == "method":  # a method zipfile does not know (AES: 99)
        for at in (local + 8, central + 10):
            data[at:at + 2] = struct.pack("<H", 99)
    elif fault == "header_name":  # the local header's name is not the UTF-8 its flag says
        data[local + 7] |= 0x08
        data[start - 1] = 0xFF


def damaged_zip(path: str) -> str:
    """gt.txt, two good images and one image per fault."""
    members = {"gt.txt": (GT + "".join(f"{f}.png\t{f}\n" for f in ZIP_FAULTS).encode(), zipfile.ZIP_DEFLATED)}
    members.update({name: (data, zipfile.ZIP_DEFLATED) for name, data in list(IMAGES.items())[:2]})
    members.update({f"{f}.png": (png(9, 300, 100), FAULT_METHOD.get(f, zipfile.ZIP_DEFLATED)) for f in ZIP_FAULTS})
    data = bytearray(open(write_zip(path, members), "rb").read())
    for fault in ZIP_FAULTS:
        damage(data, f"{fault}.png", fault)
    with open(path, "wb") as f:
        f.write(data)
    return path


@pytest.mark.parametrize("workers", ["1", "2"])
def test_every_zip_member_fault_is_one_reject(tmp_path, workers: str) -> None:
    src = damaged_zip(str(tmp_path / "src.zip"))
    out = str(tmp_path / "out")
    convert(src, out, workers)
    card = assert_accounted(out)
    rows = {r["id"]: r for r in rejects_of(out)}
    assert set(rows) == {f"{f}.png" for f in ZIP_FAULTS} | set(list(IMAGES)[2:])
    for fault in ZIP_FAULTS:
        row = rows[f"{fault}.png"]
        assert row["reason"] == "unreadable_image" and "damaged archive member" in row["detail"], row
    assert card["counts"]["written"] == 2


def test_a_damaged_label_file_member_is_one_line(tmp_path) -> None:
    members = {"gt.txt": (GT * 200, zipfile.ZIP_DEFLATED), **{n: (d, zipfile.ZIP_STORED) for n, d in IMAGES.items()}}
    path = write_zip(str(tmp_path / "src.zip"), members)
    data = bytearray(open(path, "rb").read())
    damage(data, "gt.txt", "deflate")
    with open(path, "wb") as f:
        f.write(data)
    result = convert(path, str(tmp_path / "out"), expect=None)
    assert_one_line_error(result, "src.zip/gt.txt", "damaged archive member")


@pytest.mark.parametrize("cut", ["header", "end"])
def test_a_damaged_tar_listing_is_one_line(tmp_path, cut: str) -> None:
    """A damaged header after the first (tarfile would end the listing there silently and
    the members after it would go unseen), or a tar cut short."""
    path = write_tar(str(tmp_path / "src.tar"), {"gt.txt": GT, **IMAGES})
    with tarfile.open(path) as t:
        third = t.getmembers()[2].offset
    data = bytearray(open(path, "rb").read())
    if cut == "header":
        data[third + 10] ^= 0x55
    else:
        del data[third + 600:]
    with open(path, "wb") as f:
        f.write(data)
    result = convert(path, str(tmp_path / "out"), expect=None)
    assert_one_line_error(result, "src.tar", "damaged archive" if cut == "header" else "unexpected end of data")


def test_a_damaged_tar_gz_stream_is_one_line(tmp_path) -> None:
    """Listing a .tar.gz reads its one stream through, so its damage is found there."""
    path = write_tar(str(tmp_path / "src.tar.gz"), {"gt.txt": GT, **IMAGES})
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2:len(data) // 2 + 16] = b"\xa5" * 16
    with open(path, "wb") as f:
        f.write(data)
    result = convert(path, str(tmp_path / "out"), expect=None)
    assert_one_line_error(result, "src.tar.gz")


def pristine(kind: str, root: str) -> tuple[bytes, list[tuple[int, int]]]:
    """A gt-txt source packed as ``kind`` (zip members in every compression method), and
    the byte span of each member (zip, tar: header and data; tar.gz: its compressed stream)."""
    path = os.path.join(root, f"src.{kind}")
    if kind == "zip":
        write_zip(path, {"gt.txt": (GT, zipfile.ZIP_DEFLATED),
                         **{n: (d, METHODS[k % 4]) for k, (n, d) in enumerate(IMAGES.items())}})
        with zipfile.ZipFile(path) as z:
            spans = [(i.header_offset, i.header_offset + 30 + len(i.filename.encode()) + len(i.extra) + i.compress_size)
                     for i in z.infolist()]
    else:
        write_tar(path, {"gt.txt": GT, **IMAGES})
        with tarfile.open(path) as t:
            spans = [(m.offset, m.offset_data + m.size) for m in t.getmembers()]
        if kind == "tar.gz":
            spans = [(10, os.path.getsize(path) - 8)]
    with open(path, "rb") as f:
        return f.read(), spans


class Sources(dict):
    def __repr__(self) -> str:  # hypothesis prints its arguments: not the archives' bytes
        return "Sources(zip, tar, tar.gz)"


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Sources:
    root = str(tmp_path_factory.mktemp("pristine"))
    return Sources({kind: pristine(kind, root) for kind in ("zip", "tar", "tar.gz")})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["zip", "tar", "tar.gz"]), workers=st.sampled_from(["1", "2"]),
       member=st.integers(0, 100), edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                                                  min_size=1, max_size=6))
def test_corrupted_members_never_crash_the_run(tmp_path_factory, sources, kind, workers, member, edits) -> None:
    data, spans = sources[kind]
    start, end = spans[member % len(spans)]
    damaged = bytearray(data)
    for where, value in edits:
        damaged[start + int(where * (end - start))] = value
    root = tmp_path_factory.mktemp("run")
    src, out = str(root / f"src.{kind}"), str(root / "out")
    with open(src, "wb") as f:
        f.write(damaged)
    result = convert(src, out, workers, expect=None)
    if result.exit_code == 0:
        assert assert_accounted(out)["counts"]["input"] >= 1
    else:
        assert_one_line_error(result)


def test_a_damaged_per_sample_label_member_is_that_sample_reject(tmp_path) -> None:
    """minhon reads one label file per image: a damaged one is that sample's
    ``unreadable_label``, as an I/O error reading it from a folder is."""
    from dataconv.fixtures.base import fixtures

    folder = str(tmp_path / "folder")
    fixtures()["minhon"][0](folder)
    names = sorted(os.path.relpath(os.path.join(d, f), folder).replace(os.sep, "/")
                   for d, _, files in os.walk(folder) for f in files)
    members = {n: (open(os.path.join(folder, n), "rb").read(), zipfile.ZIP_DEFLATED) for n in names}
    label = next(n for n in names if n.endswith("_1.txt"))
    path = write_zip(str(tmp_path / "src.zip"), members)
    data = bytearray(open(path, "rb").read())
    damage(data, label, "deflate")
    with open(path, "wb") as f:
        f.write(data)
    out = str(tmp_path / "out")
    run_cli("minhon", "-i", path, "-o", out, *with_defaults(()))
    assert_accounted(out)
    rows = [r for r in rejects_of(out) if r["reason"] == "unreadable_label"]
    assert [r["source"] for r in rows] == [label] and "damaged archive member" in rows[0]["detail"]
