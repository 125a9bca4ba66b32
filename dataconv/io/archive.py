"""Reading a source that is still packed: a ``.zip``, ``.tar``, ``.tar.gz``/``.tgz``, in place.

The same rules as for a folder (``dataconv.io.safeopen``), applied to member names:

* names are decoded as the archive says: a zip member flagged UTF-8 (bit 11) as UTF-8;
  an unflagged one as UTF-8 when its bytes are valid UTF-8, else as ``name_encoding``
  (default ``cp949``: Korean archives made on Windows, AI Hub's ``[라벨]...zip``);
  tar names as UTF-8 (``name_encoding`` overrides both);
* a member whose name is absolute, has a drive letter, or climbs out with ``..`` is never
  listed nor read (``path_outside_source``), nor is a symlink member whose target does
  (as a symlink out of a folder); other symlinks, hard links, devices and FIFOs are
  not files (``not_a_file``: a symlink member is never followed); a name given twice is
  ``ambiguous_image`` (neither is read);
* a name missing in the written Unicode form is looked up in the other one
  (``paths.name_forms``: macOS zips hold NFD names);
* an image member is bounded before it is held: its size as the archive lists it, then
  the pixel count its image header claims (``max_pixels``), then a read that stops at the
  bytes an image of that size can need (``imageheader``), so memory follows what the
  image needs, never what a member inflates to; a member over ``HEAD_BYTES`` whose start
  is no image is ``undecodable_image`` there;
* any fault reading a member's bytes (a damaged deflate, bzip2 or LZMA stream, a bad CRC,
  data cut short, encryption, a compression method zipfile does not know) is that
  member's: an image is ``unreadable_image``, an annotation member an I/O error of that
  file, as a bad sector is on disk (``MEMBER_ERRORS``).

Handles are per process and opened lazily (like LMDB handles), so a worker process opens
the archive itself. A ``.zip`` and a plain ``.tar`` are read at random; a gzip stream
cannot be: each member read of a ``.tar.gz`` decompresses from the start up to that
member that lies behind the last one read, so reads in archive order cost one pass in
all, reads in another order up to one pass each; listing it costs one full pass.
Annotation files are streamed through a handle of their own (``open_stream``), so reading
images between two reads of a label file never rewinds the label file's stream.
"""
from __future__ import annotations

import errno
import io
import lzma
import os
import posixpath
import stat
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import IO, BinaryIO, Union

from dataconv.errors import DataconvError, SampleRejected
from dataconv.io import decode, imageheader
from dataconv.io.paths import name_forms
from dataconv.io.safeopen import open_user_path, rel_parts

SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
DEFAULT_NAME_ENCODING = "cp949"
_UTF8_FLAG = 0x800
MAX_LINK_BYTES = 4096  # a zip symlink member's target is its content: read no more
HEAD_BYTES = 1 << 20  # read first: where an image header says its size
CHUNK_BYTES = 1 << 20
Member = Union[zipfile.ZipInfo, tarfile.TarInfo]
# What reading a member's bytes can raise (see the module's rules); ValueError: a local
# header's name that is not the UTF-8 its flag says.
MEMBER_ERRORS = (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, RuntimeError, NotImplementedError,
                 ValueError, zlib.error, lzma.LZMAError, struct.error)


def is_archive(path: str) -> bool:
    """Whether ``path`` names an archive dataconv reads in place (by its suffix)."""
    return path.lower().endswith(SUFFIXES) and os.path.isfile(path)


@dataclass
class Listing:
    """The members of an archive by decoded name: the readable regular files, and the
    reasons the others are not read."""

    files: dict[str, Union[zipfile.ZipInfo, tarfile.TarInfo]] = field(default_factory=dict)
    refused: dict[str, SampleRejected] = field(default_factory=dict)


def zip_name(info: zipfile.ZipInfo, encoding: str | None) -> str:
    """The member's name as its maker meant it (see the module's rules)."""
    if info.flag_bits & _UTF8_FLAG and encoding is None:
        return info.filename
    raw = info.filename.encode("utf-8" if info.flag_bits & _UTF8_FLAG else "cp437")
    if encoding is None:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            encoding = DEFAULT_NAME_ENCODING
    return raw.decode(encoding, errors="replace")


def _zip_kind(info: zipfile.ZipInfo) -> str | None:
    """None for a regular file; else what the member is."""
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0: no Unix type recorded (a DOS zip): a file
    if info.is_dir() or kind == stat.S_IFDIR:
        return "a directory"
    if kind == stat.S_IFLNK:
        return "a symlink member"
    if kind not in (0, stat.S_IFREG):
        return "not a regular file"
    return None


def _tar_kind(info: tarfile.TarInfo) -> str | None:
    if info.isreg():
        return None
    return ("a directory" if info.isdir() else "a symlink member" if info.issym()
            else "a hard link member" if info.islnk() else "not a regular file")


def _leaves(rel: str, target: str) -> bool:
    """Whether the symlink member ``rel`` pointing at ``target`` leads out of the archive."""
    try:
        rel_parts(posixpath.join(posixpath.dirname(rel), target))
    except SampleRejected:
        return True
    return False


def _add(listing: Listing, name: str, member: Member, kind: str | None, link: str = "") -> None:
    """File ``member`` under its decoded ``name``; ``link`` is a symlink member's target.
    A directory entry is refused as a folder is (``not_a_file``) when a sample names it."""
    try:
        rel = "/".join(rel_parts(name))
    except SampleRejected as e:
        listing.refused[name] = SampleRejected("path_outside_source", f"archive member {e.detail}")
        return
    if not rel:  # a name for the archive's root itself ("./"): no file
        return
    if kind == "a directory":
        if rel not in listing.files:
            listing.refused.setdefault(rel, SampleRejected("not_a_file", f"archive member {rel} is a directory"))
    elif kind == "a symlink member" and _leaves(rel, link):
        listing.refused[rel] = SampleRejected("path_outside_source",
                                              f"archive member {rel} is a symlink out of the archive")
    elif kind is not None:
        listing.refused[rel] = SampleRejected("not_a_file", f"archive member {rel} is {kind}")
    elif rel in listing.files or rel in listing.refused:
        listing.files.pop(rel, None)
        listing.refused[rel] = SampleRejected("ambiguous_image", f"archive member {rel} appears more than once")
    else:
        listing.files[rel] = member


class StrictTarInfo(tarfile.TarInfo):
    """A tar member header read strictly: a damaged or cut header after the first ends the
    listing with an error, where tarfile would end it silently and every member after it
    would go unseen (``tarfile.TarFile.next``)."""

    @classmethod
    def fromtarfile(cls, tar: tarfile.TarFile) -> tarfile.TarInfo:
        try:
            return super().fromtarfile(tar)
        except (tarfile.InvalidHeaderError, tarfile.TruncatedHeaderError) as e:
            raise tarfile.ReadError(f"damaged member header at byte {tar.offset}: {e}") from None


class Archive:
    """One archive file, read through this process's handle (reopened after a fork)."""

    def __init__(self, path: str, name_encoding: str | None = None) -> None:
        self.path = path
        self.name_encoding = name_encoding
        self._pid: int | None = None
        self._handle: Union[zipfile.ZipFile, tarfile.TarFile, None] = None
        self._listing: Listing | None = None

    def __getstate__(self) -> dict:
        """What a worker receives: the path and the encoding, never an open handle."""
        return {"path": self.path, "name_encoding": self.name_encoding}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], state["name_encoding"])  # type: ignore[misc]

    def _open(self) -> Union[zipfile.ZipFile, tarfile.TarFile]:
        if self._handle is None or self._pid != os.getpid():
            f: IO[bytes] = os.fdopen(open_user_path(self.path), "rb")
            try:
                self._handle = (zipfile.ZipFile(f) if self.path.lower().endswith(".zip")
                                else tarfile.open(fileobj=f, mode="r:*", tarinfo=StrictTarInfo))
            except MEMBER_ERRORS as e:
                f.close()
                raise DataconvError(f"{self.path}: not a readable archive ({why(e)})") from None
            self._pid, self._listing = os.getpid(), None
        return self._handle

    def listing(self) -> Listing:
        handle = self._open()
        if self._listing is None:
            listing = Listing()
            try:
                if isinstance(handle, zipfile.ZipFile):
                    for info in handle.infolist():
                        name = zip_name(info, self.name_encoding).replace("\\", "/")  # Windows separators
                        kind = _zip_kind(info)
                        _add(listing, name, info, kind, self._zip_link(handle, info, kind))
                else:
                    for member in handle.getmembers():
                        name = member.name
                        if self.name_encoding is not None:
                            name = name.encode("utf-8", "surrogateescape").decode(self.name_encoding, "replace")
                        _add(listing, name, member, _tar_kind(member), member.linkname)
            except MEMBER_ERRORS as e:
                raise DataconvError(f"{self.path}: damaged archive ({why(e)})") from None
            self._listing = listing
        return self._listing

    @staticmethod
    def _zip_link(handle: zipfile.ZipFile, info: zipfile.ZipInfo, kind: str | None) -> str:
        """A zip symlink member's target (its content, bounded); "" for other members."""
        if kind != "a symlink member":
            return ""
        try:
            with handle.open(info) as f:
                return f.read(MAX_LINK_BYTES).decode("utf-8", "replace")
        except MEMBER_ERRORS:  # a target that cannot be read: still a symlink member, never read
            return ""

    def files(self) -> list[str]:
        """Every readable regular file, sorted (what ``safeopen.walk_files`` is for a folder)."""
        return sorted(self.listing().files)

    def read(self, rel: str, max_bytes: int, max_pixels: int = decode.DEFAULT_MAX_PIXELS) -> bytes:
        """The bytes of image member ``rel`` (its other Unicode form if missing), or the
        reject: ``missing_image``, ``path_outside_source``, ``not_a_file``,
        ``ambiguous_image``, ``too_many_pixels`` (from its header), ``unreadable_image``
        (damaged, or longer than ``max_bytes`` or than an image of its size can be)."""
        form, member = self._find(rel)
        return self._read_member(form, member, max_bytes, max_pixels)

    def _find(self, rel: str) -> tuple[str, Member]:
        """The member ``rel`` names (or its other Unicode form), or why there is none; a
        missing member reads as a missing file does (``paths.read_inside``)."""
        name = "/".join(rel_parts(rel))
        listing = self.listing()
        for form in name_forms(name):
            if form in listing.refused:
                raise listing.refused[form]
            member = listing.files.get(form)
            if member is not None:
                return form, member
        raise SampleRejected("missing_image", f"{rel} not found")

    def open_stream(self, rel: str, max_bytes: int) -> BinaryIO:
        """Member ``rel`` as a seekable stream (an annotation file), refused when the
        archive says it is over ``max_bytes``; a zip member never yields more than that
        either, a tar member never more than its header's size. A fault reading it is an
        OSError naming it (``damaged``)."""
        form, member = self._find(rel)
        size = member.file_size if isinstance(member, zipfile.ZipInfo) else member.size
        if size > max_bytes:
            raise DataconvError(f"{os.path.join(self.path, form)}: {size} bytes, over the "
                                f"{max_bytes}-byte limit of an annotation file")
        shown = os.path.join(self.path, form)
        handle = self._open()
        try:
            if isinstance(handle, zipfile.ZipFile):
                return io.BufferedReader(_MemberStream(shown, handle.open(member)))  # type: ignore[arg-type]
            return self._tar_stream(shown, member)  # type: ignore[arg-type]
        except MEMBER_ERRORS as e:
            raise damaged(shown, e) from None

    def _tar_stream(self, shown: str, member: tarfile.TarInfo) -> BinaryIO:
        """A tar member through a handle of its own: a gzip stream has one position, and
        image reads between two reads of a label file would otherwise rewind it each time."""
        f: IO[bytes] = os.fdopen(open_user_path(self.path), "rb")
        try:
            tar = tarfile.open(fileobj=f, mode="r:*", tarinfo=StrictTarInfo)
        except BaseException:
            f.close()
            raise
        member_file = tar.extractfile(member)
        assert member_file is not None  # a regular member always has a file object
        return io.BufferedReader(_MemberStream(shown, member_file, (tar, f)))

    def _read_member(self, rel: str, member: Member, max_bytes: int, max_pixels: int) -> bytes:
        limit = min(max_bytes, imageheader.encoded_bytes_bound(max_pixels))
        listed = member.file_size if isinstance(member, zipfile.ZipInfo) else member.size
        if listed > limit:
            raise SampleRejected("unreadable_image", f"{rel}: over {limit} bytes once decompressed "
                                                     f"(the archive lists {listed})")
        handle = self._open()
        try:
            f = handle.open(member) if isinstance(handle, zipfile.ZipFile) else handle.extractfile(member)
            assert f is not None  # a regular member always has a file object
            with f:
                return _read_image(rel, f, limit, max_pixels)
        except MEMBER_ERRORS as e:
            raise SampleRejected("unreadable_image", f"{rel}: damaged archive member ({why(e)})") from None


def _read_image(rel: str, f: IO[bytes], limit: int, max_pixels: int) -> bytes:
    """The image in ``f``, read no further than ``limit``; past its first ``HEAD_BYTES``,
    refused from its header over ``max_pixels`` and read no further than the bytes an
    image of the size it claims can need."""
    data = io.BytesIO()
    data.write(f.read(min(HEAD_BYTES, limit + 1)))
    too_long = f"over {limit} bytes once decompressed"
    if data.tell() >= HEAD_BYTES:  # more may follow: bound it by what the header says
        limit, too_long = _header_bound(data.getvalue(), limit, too_long, max_pixels)
        while data.tell() <= limit and (block := f.read(min(CHUNK_BYTES, limit + 1 - data.tell()))):
            data.write(block)
    if data.tell() > limit:
        raise SampleRejected("unreadable_image", f"{rel}: {too_long}")
    return data.getvalue()


def _header_bound(head: bytes, limit: int, too_long: str, max_pixels: int) -> tuple[int, str]:
    """The bytes an image starting with ``head`` may take (at most ``limit``), and what the
    message says when it is longer; ``too_many_pixels`` over ``max_pixels``."""
    size = imageheader.claimed_size(head)
    if size is None:
        return limit, too_long
    decode.refuse_size(*size, max_pixels)
    needs = imageheader.encoded_bytes_bound(size[0] * size[1])
    if needs >= limit:
        return limit, too_long
    return needs, f"longer than the {needs} bytes a {size[0]}x{size[1]} image can need"


def why(e: BaseException) -> str:
    """What an archive library says of a fault (its type when it says nothing), on one
    line (tarfile lists each method it tried on a line of its own), at most 300 characters."""
    return " ".join((str(e) or type(e).__name__).split())[:300]


def damaged(path: str, e: BaseException) -> OSError:
    """A member whose bytes cannot be read back, as an I/O error of that file (a bad sector
    is one on disk): a whole-run input ends in one line naming it, a per-sample file is
    that sample's reject."""
    return OSError(errno.EIO, f"damaged archive member ({why(e)})", path)


class _MemberStream(io.RawIOBase):
    """A member's file object as a stream whose faults are I/O errors naming the member
    (``damaged``); closing it closes ``owned`` too (the handle opened for it)."""

    def __init__(self, path: str, member_file: IO[bytes], owned: tuple[object, ...] = ()) -> None:
        self._path, self._member, self._owned = path, member_file, owned

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: "bytearray | memoryview") -> int:  # type: ignore[override]
        try:
            data = self._member.read(len(buffer))
        except MEMBER_ERRORS as e:
            raise damaged(self._path, e) from None
        buffer[:len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._member.seek(offset, whence)

    def tell(self) -> int:
        return self._member.tell()

    def close(self) -> None:
        if not self.closed:
            self._member.close()
            for owned in self._owned:
                owned.close()  # type: ignore[attr-defined]
        super().close()
