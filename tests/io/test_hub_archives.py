"""dataconv.io.archive: zip and tar sources read in place, on real archives built here: member
names decoded (UTF-8 flag, CP949 without it, --name-encoding), NFC/NFD lookup, the folder
confinement rules on hostile members, bounded reads, and a fresh handle per process."""
from __future__ import annotations

import io
import os
import pickle
import stat
import tarfile
import unicodedata
import zipfile

import pytest
from hypothesis import given, settings, strategies as st

from dataconv.errors import DataconvError, SampleRejected
from dataconv.io.archive import Archive, is_archive
from hostile_util import png

KOREAN = "한글/라벨_가.png"


class RawName(zipfile.ZipInfo):
    """A member whose name is stored as these exact bytes (zipfile would re-encode a
    non-ASCII name as UTF-8 and set the flag, as Windows tools do not)."""

    raw, raw_flags = b"", 0  # zipfile clears flag_bits when it writes: added back here

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:
        return self.raw, self.flag_bits | self.raw_flags


def raw_zip(path: str, entries: list[tuple[bytes, bytes, int, int]]) -> str:
    """A zip of (name bytes, data, flag bits, unix mode) members, names written as given."""
    with zipfile.ZipFile(path, "w") as z:
        for name, data, flags, mode in entries:
            info = RawName(name.decode("utf-8") if flags & 0x800 else name.decode("cp437"))
            info.raw, info.raw_flags = name, flags
            info.external_attr = mode << 16
            z.writestr(info, data)
    return path


def reject(archive: Archive, rel: str) -> SampleRejected:
    with pytest.raises(SampleRejected) as caught:
        archive.read(rel, 1 << 20)
    return caught.value


def test_cp949_names_without_utf8_flag_and_utf8_with_it(tmp_path):
    path = raw_zip(str(tmp_path / "labels.zip"), [
        (KOREAN.encode("cp949"), png(1), 0, 0o100644),
        ("utf8/이름.png".encode(), png(2), 0x800, 0o100644),
        ("plain/unflagged_utf8_한.png".encode(), png(3), 0, 0o100644),
    ])
    archive = Archive(path)
    assert archive.files() == sorted([KOREAN, "utf8/이름.png", "plain/unflagged_utf8_한.png"])
    assert archive.read(KOREAN, 1 << 20) == png(1)
    assert archive.read("utf8/이름.png", 1 << 20) == png(2)
    assert archive.read("plain/unflagged_utf8_한.png", 1 << 20) == png(3)
    # told otherwise, the unflagged names decode as that encoding
    latin = Archive(path, name_encoding="latin-1")
    assert KOREAN.encode("cp949").decode("latin-1") in latin.files()


def test_nfd_member_found_by_nfc_name_and_windows_separators(tmp_path):
    nfd = unicodedata.normalize("NFD", "글자/한.png")
    path = raw_zip(str(tmp_path / "mac.zip"), [(nfd.encode(), png(4), 0x800, 0o100644),
                                              (b"win\\sub\\a.png", png(5), 0, 0)])
    archive = Archive(path)
    assert archive.read("글자/한.png", 1 << 20) == png(4)
    assert archive.read("win/sub/a.png", 1 << 20) == png(5)


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_hostile_zip_members_are_refused_with_folder_reasons(tmp_path):
    path = raw_zip(str(tmp_path / "bad.zip"), [
        (b"../escape.png", png(0), 0, 0o100644),
        (b"/etc/abs.png", png(0), 0, 0o100644),
        (b"link.png", b"/etc/passwd", 0, 0o120777),
        (b"fifo.png", b"", 0, 0o010644),
        (b"dup.png", png(1), 0, 0o100644),
        (b"dup.png", png(2), 0, 0o100644),
        (b"good.png", png(3), 0, 0o100644),
    ])
    archive = Archive(path)
    assert archive.files() == ["good.png"]
    assert reject(archive, "link.png").reason == "path_outside_source"  # as a symlink out of a folder
    assert reject(archive, "fifo.png").reason == "not_a_file"
    assert reject(archive, "dup.png").reason == "ambiguous_image"
    assert reject(archive, "../escape.png").reason == "path_outside_source"
    assert reject(archive, "/etc/abs.png").reason == "path_outside_source"
    assert reject(archive, "missing.png").reason == "missing_image"
    assert set(archive.index().refused) == {"../escape.png", "/etc/abs.png", "link.png", "fifo.png", "dup.png"}


def test_tar_and_tar_gz_members_and_hostile_entries(tmp_path):
    for mode, name in (("w", "data.tar"), ("w:gz", "data.tar.gz"), ("w:gz", "data.tgz")):
        path = str(tmp_path / name)
        with tarfile.open(path, mode) as t:
            for member, data in (("imgs/가.png", png(1)), ("../out.png", png(2)), ("imgs/b.png", png(3))):
                info = tarfile.TarInfo(member)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            sym = tarfile.TarInfo("imgs/sym.png")
            sym.type, sym.linkname = tarfile.SYMTYPE, "/etc/passwd"
            t.addfile(sym)
            hard = tarfile.TarInfo("imgs/hard.png")
            hard.type, hard.linkname = tarfile.LNKTYPE, "imgs/b.png"
            t.addfile(hard)
        archive = Archive(path)
        assert is_archive(path)
        assert archive.files() == ["imgs/b.png", "imgs/가.png"]
        assert archive.read("imgs/가.png", 1 << 20) == png(1)
        assert reject(archive, "imgs/sym.png").reason == "path_outside_source"
        assert reject(archive, "imgs/hard.png").reason == "not_a_file"
        assert archive.index().refused["../out.png"].reason == "path_outside_source"


def test_reads_are_bounded_whatever_the_header_claims(tmp_path):
    path = str(tmp_path / "bomb.zip")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("zeros.png", b"\0" * (8 << 20))
    with pytest.raises(SampleRejected, match="over 1048576 bytes once decompressed") as caught:
        Archive(path).read("zeros.png", 1 << 20)
    assert caught.value.reason == "unreadable_image"


def test_damaged_or_special_archives_are_one_line_errors(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataconvError, match="junk.zip: not a readable archive"):
        Archive(str(junk)).files()
    fifo = str(tmp_path / "pipe.zip")
    os.mkfifo(fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and not is_archive(fifo)
    with pytest.raises(DataconvError, match="not a regular file"):
        Archive(fifo).files()


def test_workers_open_their_own_handle(tmp_path):
    path = raw_zip(str(tmp_path / "a.zip"), [(b"x.png", png(7), 0, 0o100644)])
    archive = Archive(path)
    assert archive.read("x.png", 1 << 20) == png(7)
    copy = pickle.loads(pickle.dumps(archive))
    assert copy._file is None and copy.read("x.png", 1 << 20) == png(7)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a forked worker reopens the archive instead of sharing the parent's file position
        os.close(read)
        ok = archive.read("x.png", 1 << 20) == png(7) and archive._pid == os.getpid()
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(pid, 0)
    os.close(read)


@pytest.mark.filterwarnings("ignore:Duplicate name")
@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(st.sampled_from("a./\\가..한"), min_size=1, max_size=12), min_size=1, max_size=6))
def test_no_member_name_ever_reads_outside(tmp_path_factory, names):
    """Whatever the member names, every listed file is a relative path without ``..``."""
    path = str(tmp_path_factory.mktemp("prop") / "p.zip")
    raw_zip(path, [(n.encode(), b"d", 0x800, 0o100644) for n in names])
    archive = Archive(path)
    for rel in archive.files():
        assert not rel.startswith("/") and ".." not in rel.split("/") and "" not in rel.split("/")
        assert archive.read(rel, 10) == b"d"
    assert len(archive.files()) + len(archive.index().refused) <= len(names)
