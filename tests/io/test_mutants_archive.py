"""Archive member names and links, where a mutation run of dataconv/io/archive.py found the
archive tests silent: how each kind of zip name is decoded and its separators made ``/``,
what ``--name-encoding`` overrides, names that decode in no encoding, and the bound on a
symlink member's target. (The archive tests' zips never had the UTF-8 flag set: zipfile
clears ``flag_bits`` when it writes, so the flagged cases below were never exercised.)"""
from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import tarfile
import zipfile

import pytest

from helpers import peak_rss
from hostile_util import png, write_files
from test_archive_input import convert, raw_zip
from dataconv.errors import DataconvError, SampleRejected
from dataconv.io.archive import Archive

UTF8 = 0x800  # the zip flag bit: the name is UTF-8


@pytest.mark.parametrize("override", [(), ("--name-encoding", "cp949")])
def test_a_cp949_name_flagged_utf8_is_read_as_cp949(tmp_path, override) -> None:
    """A tool that sets the UTF-8 flag on CP949 bytes: the name falls back to CP949 as an
    unflagged one does (the archive was refused whole for that one name), and
    ``--name-encoding`` overrides the flag too; the member is read, found under the name
    the label file writes."""
    path = raw_zip(str(tmp_path / "flagged.zip"), [(b"gt.txt", "가.png\t가\n".encode(), 0),
                                                   ("가.png".encode("cp949"), png(1), UTF8)])
    card = convert("gt-txt", path, str(tmp_path / "out"), "--split", "none", *override)
    assert card["counts"]["written"] == 1 and card["rejects"] == []


def test_windows_separators_in_every_kind_of_name(tmp_path) -> None:
    """``\\`` is a folder separator in a flagged UTF-8 name, an unflagged UTF-8 name and an
    unflagged CP949 name alike."""
    gt = "d1/가.png\t가\nd2/a.png\ta\nd3/나.png\t나\n".encode()
    path = raw_zip(str(tmp_path / "win.zip"), [
        (b"gt.txt", gt, 0), ("d1\\가.png".encode(), png(1), UTF8), (b"d2\\a.png", png(2), 0),
        ("d3\\나.png".encode("cp949"), png(3), 0)])
    card = convert("gt-txt", path, str(tmp_path / "out"), "--split", "none")
    assert card["counts"]["written"] == 3 and card["rejects"] == []


def test_a_name_no_encoding_reads_is_replaced_not_a_crash(tmp_path) -> None:
    """Bytes valid in neither UTF-8 nor CP949: the name is listed with replacement
    characters, and the rest of the archive converts."""
    path = raw_zip(str(tmp_path / "bad.zip"), [(b"gt.txt", b"ok.png\tok\n", 0), (b"\xff\xfe\xff.png", png(1), 0),
                                               (b"ok.png", png(2), 0)])
    card = convert("gt-txt", path, str(tmp_path / "out"), "--split", "none")
    assert card["counts"]["written"] == 1


def symlink_zip(path: str, target: bytes, gt: str = "ok.png\tok\n") -> str:
    """A zip with gt.txt, one image and a symlink member whose target (its content) is
    ``target``: deflated, a long one costs the archive almost nothing."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("gt.txt", gt)
        z.writestr("ok.png", png(1))
        link = zipfile.ZipInfo("link.png")
        link.external_attr = 0o120777 << 16
        link.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(link, target)
    return path


def test_a_symlink_members_target_is_read_no_further_than_its_bound(tmp_path) -> None:
    """A symlink member claiming a 96 MB target (96 KB deflated) costs the listing no more
    memory than a short one: only its first bytes are read."""
    write_files(str(tmp_path), {})
    short = symlink_zip(str(tmp_path / "short.zip"), b"ok.png")
    long = symlink_zip(str(tmp_path / "long.zip"), b"a" * (96 << 20))
    rss = {}
    for name, path in (("short", short), ("long", long)):
        rss[name], code, err = peak_rss("gt-txt", "-i", path, "-o", tmp_path / f"out-{name}", "-q",
                                        "--workers", "1", "--split", "none")
        assert code == 0, err
    assert rss["long"] - rss["short"] < 48, rss


def raw_tar(path: str, members: list[tuple[bytes, bytes]]) -> str:
    """A GNU tar whose member names are stored as these bytes (a tar made on Windows with
    CP949 names)."""
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name.decode("utf-8", "surrogateescape"))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_tar_names_in_the_name_encoding_given(tmp_path) -> None:
    """``--name-encoding`` decodes a tar's names too; bytes invalid in it are replaced,
    and the rest converts."""
    path = raw_tar(str(tmp_path / "ko.tar"), [(b"gt.txt", "가.png\t가\n".encode()), ("가.png".encode("cp949"), png(1)),
                                               (b"\xff\xfe.png", png(2))])
    card = convert("gt-txt", path, str(tmp_path / "out"), "--split", "none", "--name-encoding", "cp949")
    assert card["counts"]["written"] == 1 and card["rejects"] == []


def test_an_archive_travels_to_a_worker_with_its_storage_options() -> None:
    options = '{"endpoint_url": "http://127.0.0.1:9"}'
    back = pickle.loads(pickle.dumps(Archive("s3://b/src.zip", "cp949", options)))
    assert (back.path, back.name_encoding, back.storage) == ("s3://b/src.zip", "cp949", options)


OPENS = """
import sys
from dataconv.errors import DataconvError, SampleRejected
from dataconv.io.archive import Archive
path = sys.argv[1]
opened = []
sys.addaudithook(lambda event, args: opened.append(1) if event == "open" and args[0] == path else None)
archive = Archive(path)
for _ in range(100):
    assert archive.read("a.png", 1 << 20)
print(len(opened))
"""


def test_member_reads_share_one_handle(tmp_path) -> None:
    """A hundred reads of one archive open it twice (the listing, then the handle the reads
    share), not once a read: a .tar.gz reopened is decompressed from its start again."""
    path = str(tmp_path / "many.tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("a.png")
        info.size = len(png(1))
        tar.addfile(info, io.BytesIO(png(1)))
    done = subprocess.run([sys.executable, "-c", OPENS, path], capture_output=True, text=True, check=True)
    assert int(done.stdout) == 2, done.stdout


def test_an_annotation_member_at_its_cap_and_one_byte_over(tmp_path) -> None:
    path = str(tmp_path / "cap.zip")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("gt.txt", "a.png\tword\n")
    size = len("a.png\tword\n")
    with Archive(path).open_stream("gt.txt", size) as f:
        assert f.read() == b"a.png\tword\n"
    with pytest.raises(DataconvError) as caught:
        Archive(path).open_stream("gt.txt", size - 1)
    assert str(caught.value) == f"{path}/gt.txt: {size} bytes, over the {size - 1}-byte limit of an annotation file"


def test_an_image_member_at_its_limit_and_one_byte_over(tmp_path) -> None:
    """Read whole at exactly the limit (not one byte short); one byte over, the sample's
    reject, naming the member."""
    path = str(tmp_path / "limit.zip")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("img/a.png", png(1))
    size = len(png(1))
    assert Archive(path).read("img/a.png", size) == png(1)
    with pytest.raises(SampleRejected) as caught:
        Archive(path).read("img/a.png", size - 1)
    assert caught.value.reason == "unreadable_image"
    assert caught.value.detail == f"img/a.png: over {size - 1} bytes once decompressed (the archive lists {size})"


def wide_png(size: tuple[int, int] = (100, 10)) -> bytes:
    """A real PNG, 100x10 unless told: its header claims 1,000 pixels."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("L", size, 200).save(out, "PNG")
    return out.getvalue()


# What a 100x10 image can take at the most (imageheader.encoded_bytes_bound of 1,000 pixels)
WIDE_NEEDS = 16 * 100 * 10 + (16 << 20)


def padded_zip(path: str, size: int) -> str:
    """A zip whose image member is the 100x10 PNG followed by zeros, ``size`` bytes in all
    (over HEAD_BYTES: its header bounds the rest of the read)."""
    data = wide_png()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("img/a.png", data + bytes(size - len(data)))
    return path


def test_past_the_first_megabyte_an_image_is_bounded_by_its_header(tmp_path) -> None:
    """An image member longer than HEAD_BYTES is read up to what its header's width x
    height can need, whole at exactly that, refused one byte over, with the size named."""
    at = Archive(padded_zip(str(tmp_path / "at.zip"), WIDE_NEEDS)).read("img/a.png", 64 << 20)
    assert len(at) == WIDE_NEEDS and at.startswith(wide_png())
    with pytest.raises(SampleRejected) as caught:
        Archive(padded_zip(str(tmp_path / "over.zip"), WIDE_NEEDS + 1)).read("img/a.png", 64 << 20)
    assert caught.value.reason == "unreadable_image"
    assert caught.value.detail == f"img/a.png: longer than the {WIDE_NEEDS} bytes a 100x10 image can need"


def test_a_header_bound_no_tighter_than_the_limit_keeps_the_limits_message() -> None:
    """At a limit equal to the header's bound the limit's message stands. (Through an
    archive the listed size stops such a member first: the stream here is one with no
    size of its own, as a damaged member's can be.)"""
    from dataconv.io.archive import _read_image

    with pytest.raises(SampleRejected) as caught:
        _read_image("a.png", io.BytesIO(wide_png() + bytes(WIDE_NEEDS)), WIDE_NEEDS, 10**8)
    assert caught.value.detail == f"a.png: over {WIDE_NEEDS} bytes once decompressed"


def test_an_endless_member_is_read_no_further_than_one_byte_past_its_bound() -> None:
    """The stream is left one byte past the bound, whatever follows: a member's memory
    is what its header allows, not what it inflates to."""
    from dataconv.io.archive import _read_image

    stream = io.BytesIO(wide_png() + bytes(WIDE_NEEDS + (8 << 20)))
    with pytest.raises(SampleRejected):
        _read_image("a.png", stream, 64 << 20, 10**8)
    assert stream.tell() == WIDE_NEEDS + 1


def test_a_bound_on_a_read_boundary_still_reads_the_byte_past_it() -> None:
    """A 256x256 header bounds the read at exactly 17 MiB, where a 1 MiB read ends: the
    byte after it is still read, and a longer member refused, not cut to 17 MiB."""
    from dataconv.io.archive import _read_image

    head = wide_png((256, 256))
    with pytest.raises(SampleRejected):
        _read_image("a.png", io.BytesIO(head + bytes((17 << 20) + 1 - len(head))), 64 << 20, 10**8)


def test_a_symlink_target_in_no_encoding_is_a_reject_not_a_crash(tmp_path) -> None:
    path = symlink_zip(str(tmp_path / "bad.zip"), b"\xff\xfe\x80.png", "ok.png\tok\nlink.png\tlink\n")
    card = convert("gt-txt", path, str(tmp_path / "out"), "--split", "none")
    assert card["counts"]["written"] == 1 and card["rejects"] == [("gt.txt:2", "not_a_file", "link.png")]
