"""Reading a source that is still packed: a ``.zip``, ``.tar``, ``.tar.gz``/``.tgz``, in place.

The same rules as for a folder (``dataconv.io.safeopen``), applied to member names:

* names are decoded as UTF-8 when their bytes are valid UTF-8 (a zip member flagged UTF-8,
  bit 11, always is, unless the tool that made it set the flag on other bytes), else as
  ``cp949`` (Korean archives made on Windows, AI Hub's ``[라벨]...zip``); tar names as
  UTF-8; ``name_encoding`` overrides all of them;
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

import contextlib
import errno
import io
import lzma
import os
import stat
import struct
import tarfile
import zipfile
import zlib
from dataclasses import replace
from typing import IO, BinaryIO, Callable, Iterator

from dataconv.errors import DataconvError, SampleRejected
from dataconv.io import archive_index as index
from dataconv.io import decode, imageheader, remote
from dataconv.io.remote import is_url
from dataconv.io.paths import name_forms
from dataconv.io.safeopen import open_user_path, rel_parts

SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
DEFAULT_NAME_ENCODING = "cp949"
MAX_LINK_BYTES = 4096  # a zip symlink member's target is its content: read no more
HEAD_BYTES = 1 << 20  # read first: where an image header says its size
CHUNK_BYTES = 1 << 20
# What reading a member's bytes can raise (see the module's rules).
MEMBER_ERRORS = (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, RuntimeError, NotImplementedError,
                 ValueError, zlib.error, lzma.LZMAError, struct.error)


def is_archive(path: str) -> bool:
    """Whether ``path`` names an archive dataconv reads in place (by its suffix; a URL by
    its suffix alone: an object, read by ranged GETs, ``dataconv.io.remote``)."""
    return path.lower().endswith(SUFFIXES) and (is_url(path) or os.path.isfile(path))


def open_archive_file(path: str, storage: str = "") -> IO[bytes]:
    """The archive's bytes as a seekable file: a file the user named, or an object."""
    if is_url(path):
        return remote.open_file(path, storage)  # type: ignore[return-value]
    return os.fdopen(open_user_path(path), "rb")


def zip_name(raw: bytes, encoding: str | None) -> str:
    """The member's name as its maker meant it (see the module's rules), with Windows
    separators made ``/``. The UTF-8 flag decides nothing: a flagged name is valid UTF-8
    (read as such without it), and a tool that flags CP949 bytes is read as the unflagged
    ones are, never an archive refused for one name."""
    if encoding is None:
        try:
            return raw.decode("utf-8").replace("\\", "/")
        except UnicodeDecodeError:
            encoding = DEFAULT_NAME_ENCODING
    return raw.decode(encoding, errors="replace").replace("\\", "/")


def _zip_kind(raw: bytes, external_attr: int) -> tuple[int, str]:
    """What a zip entry is: a regular file, a directory, a symlink or something else."""
    kind = stat.S_IFMT(external_attr >> 16)  # 0: no Unix type recorded (a DOS zip): a file
    if raw.endswith(b"/") or kind == stat.S_IFDIR:
        return index.DIRECTORY, "a directory"
    if kind == stat.S_IFLNK:
        return index.SYMLINK, "a symlink member"
    if kind not in (0, stat.S_IFREG):
        return index.OTHER, "not a regular file"
    return index.REGULAR, ""


def _own_index(entries: Callable[[], Iterator[index.Entry]]) -> index.MemberIndex:
    """The index of an archive object (a URL), listed by this process and kept in its
    memory: a zip's central directory costs a few ranged GETs, and an object has no inode
    to share a file by."""
    return index.build(entries()).in_memory()


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
    """One archive file, read through this process's handle (reopened after a fork), its
    members found in the index every process shares (``archive_index``)."""

    def __init__(self, path: str, name_encoding: str | None = None, storage: str = "") -> None:
        self.path = path
        self.name_encoding = name_encoding
        self.storage = storage  # a URL's storage options (JSON)
        self._pid: int | None = None
        self._file: IO[bytes] | None = None
        self._tar: tarfile.TarFile | None = None
        self._index: index.MemberIndex | None = None
        self.is_zip = path.lower().endswith(".zip")

    def __getstate__(self) -> dict:
        """What a worker receives: the path and the encoding, never an open handle."""
        return {"path": self.path, "name_encoding": self.name_encoding, "storage": self.storage}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], state["name_encoding"], state.get("storage", ""))  # type: ignore[misc]

    def _open(self) -> IO[bytes]:
        """This process's file of the archive (its TarFile too, for a tar)."""
        if self._file is None or self._pid != os.getpid():
            self._file, self._tar = self._new_handle()
            self._pid = os.getpid()
        return self._file

    def _new_handle(self) -> tuple[IO[bytes], tarfile.TarFile | None]:
        f = open_archive_file(self.path, self.storage)
        try:
            return f, None if self.is_zip else tarfile.open(fileobj=f, mode="r:*", tarinfo=StrictTarInfo)
        except MEMBER_ERRORS as e:
            f.close()
            raise DataconvError(f"{self.path}: not a readable archive ({why(e)})") from None

    def index(self) -> index.MemberIndex:
        """The members by name (kept across a fork: the index is a read-only map)."""
        if self._index is None:
            try:
                self._index = (_own_index(self._entries) if is_url(self.path) else
                               index.shared(self.path, self.name_encoding, self._entries))
            except MEMBER_ERRORS as e:  # a zip's listing is its central directory: opening it
                what = "not a readable archive" if self.is_zip else "damaged archive"
                raise DataconvError(f"{self.path}: {what} ({why(e)})") from None
        return self._index

    def _entries(self) -> Iterator[index.Entry]:
        """Every entry of the archive, read through a handle of its own."""
        f, tar = self._new_handle()
        with f:
            if tar is None:
                for entry in index.zip_entries(f, lambda raw: zip_name(raw, self.name_encoding),
                                               _zip_kind):
                    yield self._with_link(f, entry) if entry.kind == index.SYMLINK else entry
            else:
                decode = (lambda name: name) if self.name_encoding is None else \
                    (lambda name: name.encode("utf-8", "surrogateescape").decode(self.name_encoding, "replace"))
                yield from index.tar_entries(tar, decode)

    @staticmethod
    def _with_link(f: IO[bytes], entry: index.Entry) -> index.Entry:
        """A zip symlink entry with its target (the member's content, bounded); "" when it
        cannot be read: still a symlink member, never read."""
        try:
            with index.open_zip_member(f, entry.member()) as link:
                return replace(entry, link=link.read(MAX_LINK_BYTES).decode("utf-8", "replace"))
        except MEMBER_ERRORS:
            return entry

    def files(self) -> list[str]:
        """Every readable regular file, sorted (what ``safeopen.walk_files`` is for a folder)."""
        return list(self.index().files())

    def exists(self, rel: str) -> bool:
        """Whether ``rel`` names a member, even one that is refused when read."""
        return rel in self.index()

    def read(self, rel: str, max_bytes: int, max_pixels: int = decode.DEFAULT_MAX_PIXELS) -> bytes:
        """The bytes of image member ``rel`` (its other Unicode form if missing), or the
        reject: ``missing_image``, ``path_outside_source``, ``not_a_file``,
        ``ambiguous_image``, ``too_many_pixels`` (from its header), ``unreadable_image``
        (damaged, or longer than ``max_bytes`` or than an image of its size can be)."""
        member = self._find(rel)
        return self._read_member(member, max_bytes, max_pixels)

    def _find(self, rel: str) -> index.Member:
        """The member ``rel`` names (or its other Unicode form), or why there is none; a
        missing member reads as a missing file does (``paths.read_inside``)."""
        name = "/".join(rel_parts(rel))
        members = self.index()
        for form in name_forms(name):
            if form in members.refused:
                raise members.refused[form]
            member = members.find(form)
            if member is not None:
                return member
        raise SampleRejected("missing_image", f"{rel} not found")

    def open_stream(self, rel: str, max_bytes: int) -> BinaryIO:
        """Member ``rel`` as a seekable stream (an annotation file), refused when the
        archive says it is over ``max_bytes``; a zip member never yields more than that
        either, a tar member never more than its header's size. It is read through a handle
        of its own (a gzip stream has one position, and image reads between two reads of a
        label file would otherwise move it). A fault reading it is an OSError naming it
        (``damaged``)."""
        member = self._find(rel)
        shown = os.path.join(self.path, member.name)
        if member.size > max_bytes:
            raise DataconvError(f"{shown}: {member.size} bytes, over the "
                                f"{max_bytes}-byte limit of an annotation file")
        f, tar = self._new_handle()
        try:
            opened = self._member_file(f, tar, member)
        except MEMBER_ERRORS as e:
            f.close()
            raise damaged(shown, e) from None
        except BaseException:
            f.close()
            raise
        return io.BufferedReader(_MemberStream(shown, opened, (tar, f) if tar is not None else (f,)))

    @staticmethod
    def _member_file(f: IO[bytes], tar: tarfile.TarFile | None, member: index.Member) -> IO[bytes]:
        if tar is None:
            return index.open_zip_member(f, member)
        opened = tar.extractfile(index.tar_member(member))
        assert opened is not None  # a regular member always has a file object
        return opened

    def _read_member(self, member: index.Member, max_bytes: int, max_pixels: int) -> bytes:
        rel = member.name
        limit = min(max_bytes, imageheader.encoded_bytes_bound(max_pixels))
        if member.size > limit:
            raise SampleRejected("unreadable_image", f"{rel}: over {limit} bytes once decompressed "
                                                     f"(the archive lists {member.size})")
        f = self._open()
        try:
            with self._member_file(f, self._tar, member) as opened:
                return _read_image(rel, opened, limit, max_pixels)
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


class _MemberStream(remote.Stream):
    """A member's file object as a stream whose faults are I/O errors naming the member
    (``damaged``); closing it closes ``owned`` too (the handle opened for it)."""

    @contextlib.contextmanager
    def faults(self) -> Iterator[None]:
        try:
            yield
        except MEMBER_ERRORS as e:
            raise damaged(self.name, e) from None
