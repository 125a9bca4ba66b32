"""Reading a source that is still packed: a ``.zip``, ``.tar``, ``.tar.gz``/``.tgz``, in place.

The same rules as for a folder (``dataconv.io.safeopen``), applied to member names:

* names are decoded as the archive says: a zip member flagged UTF-8 (bit 11) as UTF-8;
  an unflagged one as UTF-8 when its bytes are valid UTF-8, else as ``name_encoding``
  (default ``cp949``: Korean archives made on Windows, AI Hub's ``[라벨]...zip``);
  tar names as UTF-8 (``name_encoding`` overrides both);
* a member whose name is absolute, has a drive letter, or climbs out with ``..`` is never
  listed nor read (``path_outside_source``); symlinks, hard links, devices and FIFOs are
  not files (``not_a_file``); a name given twice is ``ambiguous_image`` (neither is read);
* a name missing in the written Unicode form is looked up in the other one
  (``paths.name_forms``: macOS zips hold NFD names);
* a read is bounded: at most ``max_bytes`` are decompressed, whatever the header claims.

Handles are per process and opened lazily (like LMDB handles), so a worker process opens
the archive itself. A ``.zip`` and a plain ``.tar`` are read at random; a gzip stream
cannot be: each member read of a ``.tar.gz`` decompresses from the start up to that
member, so such a source costs one pass per sample, and listing it costs one full pass.
"""
from __future__ import annotations

import os
import stat
import tarfile
import zipfile
from dataclasses import dataclass, field
from typing import IO, Union

from dataconv.errors import DataconvError, SampleRejected
from dataconv.io.paths import name_forms
from dataconv.io.safeopen import open_user_path, rel_parts

SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
DEFAULT_NAME_ENCODING = "cp949"
_UTF8_FLAG = 0x800


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


def _add(listing: Listing, name: str, member: Union[zipfile.ZipInfo, tarfile.TarInfo], kind: str | None) -> None:
    if kind == "a directory":
        return
    try:
        rel = "/".join(rel_parts(name))
    except SampleRejected as e:
        listing.refused[name] = SampleRejected("path_outside_source", f"archive member {e.detail}")
        return
    if not rel:  # a name for the archive's root itself ("./"): no file
        return
    if kind is not None:
        listing.refused[rel] = SampleRejected("not_a_file", f"archive member {rel} is {kind}")
    elif rel in listing.files or rel in listing.refused:
        listing.files.pop(rel, None)
        listing.refused[rel] = SampleRejected("ambiguous_image", f"archive member {rel} appears more than once")
    else:
        listing.files[rel] = member


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
                                else tarfile.open(fileobj=f, mode="r:*"))
            except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as e:
                f.close()
                raise DataconvError(f"{self.path}: not a readable archive ({e})") from None
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
                        _add(listing, name, info, _zip_kind(info))
                else:
                    for member in handle.getmembers():
                        name = member.name
                        if self.name_encoding is not None:
                            name = name.encode("utf-8", "surrogateescape").decode(self.name_encoding, "replace")
                        _add(listing, name, member, _tar_kind(member))
            except (tarfile.TarError, OSError, EOFError) as e:
                raise DataconvError(f"{self.path}: damaged archive ({e})") from None
            self._listing = listing
        return self._listing

    def files(self) -> list[str]:
        """Every readable regular file, sorted (what ``safeopen.walk_files`` is for a folder)."""
        return sorted(self.listing().files)

    def read(self, rel: str, max_bytes: int) -> bytes:
        """The bytes of member ``rel`` (its other Unicode form if missing), or the reject:
        ``missing_image``, ``path_outside_source``, ``not_a_file``, ``ambiguous_image``,
        ``unreadable_image`` (damaged or over ``max_bytes`` decompressed)."""
        name = "/".join(rel_parts(rel))
        listing = self.listing()
        for form in name_forms(name):
            if form in listing.refused:
                raise listing.refused[form]
            member = listing.files.get(form)
            if member is not None:
                return self._read_member(form, member, max_bytes)
        raise SampleRejected("missing_image", f"{rel} not found in {os.path.basename(self.path)}")

    def _read_member(self, rel: str, member: Union[zipfile.ZipInfo, tarfile.TarInfo], max_bytes: int) -> bytes:
        handle = self._open()
        try:
            f = handle.open(member) if isinstance(handle, zipfile.ZipFile) else handle.extractfile(member)
            assert f is not None  # a regular member always has a file object
            with f:
                data = f.read(max_bytes + 1)
        except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, RuntimeError, NotImplementedError) as e:
            raise SampleRejected("unreadable_image", f"{rel}: damaged archive member ({e})"[:300]) from None
        if len(data) > max_bytes:
            raise SampleRejected("unreadable_image", f"{rel}: over {max_bytes} bytes once decompressed")
        return data
