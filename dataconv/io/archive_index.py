"""The members of an archive as a compact index: a few bytes a member, shared by processes.

``zipfile`` and ``tarfile`` keep an object of about 600 bytes for every member (a ``ZipInfo``
or ``TarInfo``), and every worker process listed the archive again: MJSynth's 8.9 million
members would cost about 5 GB a worker. Here the archive is listed once, into a file of
fixed-size records (sorted by member name, with the names in one block beside them) and a
short list of refused names; every process then maps that file read-only
(``numpy.memmap``), so the pages are shared through the page cache and a worker's own
memory does not grow with the member count. A lookup is a binary search over the sorted
names.

The file lives in the system's temporary folder under a key made of the archive's path,
identity (device, inode, size, modification and change times), the name encoding and a
token its process tree shares (``index_path``), so that the workers of a run (forked,
spawned, or Dask workers on the same machine) find the one the driver wrote, no other
run's file is read, and a changed archive is listed again. It is written to a temporary
name and renamed into place; the process that wrote it removes it when it exits. A
forked worker does not even open it: it inherits the driver's map.

The zip central directory is read here (Zip64 included) rather than through
``zipfile.ZipFile``, which builds every ``ZipInfo`` on open; a member's bytes are then read
through ``zipfile.ZipExtFile`` (decompression, CRC) from its local header on. Tar headers
are read by ``tarfile`` one at a time, each dropped once recorded.
"""
from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import posixpath
import struct
import tarfile
import tempfile
import uuid
import zipfile
import zlib
from array import array
from dataclasses import dataclass
from typing import IO, Callable, Iterator

import numpy as np

from dataconv.errors import SampleRejected
from dataconv.io import pids
from dataconv.io.safeopen import rel_parts

FORMAT = 1  # the index file's layout; part of its key
REGULAR, DIRECTORY, SYMLINK, OTHER = range(4)  # what a raw entry is (``kind``)
RECORD = np.dtype([("name_at", "<u8"), ("name_len", "<u4"), ("method", "<u2"), ("flags", "<u2"),
                   ("crc", "<u4"), ("name_crc", "<u4"), ("offset", "<u8"), ("packed", "<u8"), ("size", "<u8")])
_HEADER = struct.Struct("<8sQQQ")  # magic, member count, names block bytes, refused block bytes
_MAGIC = b"DCINDEX1"


@dataclass(frozen=True)
class Entry:
    """One raw archive entry as listed: its decoded name, what it is, where its bytes lie
    (``offset``: a zip member's local header; a tar member's data), and a symlink's target."""

    name: str
    kind: int
    what: str  # for OTHER: "a hard link member", "not a regular file", ...
    offset: int
    packed: int  # bytes stored (zip: compressed); a tar member's size
    size: int  # bytes once read
    method: int = 0  # zip compression method
    flags: int = 0  # zip general purpose flags
    crc: int = 0
    name_crc: int = 0  # zip: crc32 of the name's bytes in the central directory
    link: str = ""

    def member(self) -> Member:
        """This entry read as a member (a zip symlink's target is its content)."""
        return Member(self.name, self.offset, self.packed, self.size, self.method, self.flags, self.crc,
                      self.name_crc)


@dataclass(frozen=True)
class Member:
    """A readable regular member found by name."""

    name: str
    offset: int
    packed: int
    size: int
    method: int
    flags: int
    crc: int
    name_crc: int = 0


class MemberIndex:
    """The readable members by name (``find``), and the reasons the others are not read."""

    def __init__(self, records: np.ndarray, names: np.ndarray, refused: dict[str, SampleRejected]) -> None:
        self.records, self.names, self.refused = records, names, refused

    def __len__(self) -> int:
        return len(self.records)

    def name(self, i: int) -> str:
        at, length = int(self.records[i]["name_at"]), int(self.records[i]["name_len"])
        return bytes(self.names[at:at + length]).decode("utf-8", "surrogatepass")

    def find(self, rel: str) -> Member | None:
        """The member named ``rel`` exactly, or None."""
        key = rel.encode("utf-8", "surrogatepass")
        low, high = 0, len(self.records)
        while low < high:  # the first record whose name is not below key
            mid = (low + high) // 2
            at, length = int(self.records[mid]["name_at"]), int(self.records[mid]["name_len"])
            if bytes(self.names[at:at + length]) < key:
                low = mid + 1
            else:
                high = mid
        if low == len(self.records) or self.name(low) != rel:
            return None
        r = self.records[low]
        return Member(rel, int(r["offset"]), int(r["packed"]), int(r["size"]), int(r["method"]),
                      int(r["flags"]), int(r["crc"]), int(r["name_crc"]))

    def files(self) -> Iterator[str]:
        """Every readable member's name, in sorted order."""
        return (self.name(i) for i in range(len(self.records)))

    def __contains__(self, rel: str) -> bool:
        return self.find(rel) is not None or rel in self.refused


# --- building: the same rules as a folder, per name, in archive order ---------------------



@dataclass(frozen=True)
class Built:
    """An index as built, before it is written: the records, the names block, the refused."""

    records: np.ndarray
    names: bytes
    refused: dict[str, tuple[str, str]]

    def in_memory(self) -> MemberIndex:
        """This process's own index, when no file can be written for the others."""
        refused = {rel: SampleRejected(reason, detail) for rel, (reason, detail) in self.refused.items()}
        return MemberIndex(self.records, np.frombuffer(self.names, dtype=np.uint8), refused)


def build(entries: Iterator[Entry]) -> Built:
    """The index of ``entries``. A name given twice is ``ambiguous_image``; directories,
    symlinks and other non-files are refused (``decide``). Held meanwhile: each name's bytes
    and a few numbers a member, not the entries."""
    names: list[bytes] = []
    numbers = {field: array("Q") for field in ("method", "flags", "crc", "name_crc", "offset", "packed", "size")}
    odd: dict[int, Entry] = {}  # the entries that are not regular files, by position
    refused: dict[str, tuple[str, str]] = {}
    for entry in entries:
        try:
            rel = "/".join(rel_parts(entry.name))
        except SampleRejected as e:
            refused[entry.name] = ("path_outside_source", f"archive member {e.detail}")
            continue
        if not rel:  # a name for the archive's root itself ("./"): no file
            continue
        if entry.kind != REGULAR:
            odd[len(names)] = entry
        names.append(rel.encode("utf-8", "surrogatepass"))
        for field, column in numbers.items():
            column.append(getattr(entry, field))
    order = sorted(range(len(names)), key=names.__getitem__)  # stable: archive order within a name
    kept: list[int] = []
    for start, end in _groups([names[i] for i in order]):
        group = order[start:end]
        if len(group) == 1 and group[0] not in odd:
            kept.append(group[0])
            continue
        rel = names[group[0]].decode("utf-8", "surrogatepass")
        member, reason = decide(rel, [odd.get(i) or _regular(i) for i in group])
        if member is not None:
            kept.append(next(i for i in group if i not in odd))
        elif reason is not None:
            refused[rel] = reason
    return _built([names[i] for i in kept], {f: np.frombuffer(c, dtype="<u8")[kept] for f, c in numbers.items()},
                  refused)


def _groups(names: list[bytes]) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of equal names in a sorted list."""
    start = 0
    for i in range(1, len(names) + 1):
        if i == len(names) or names[i] != names[start]:
            yield start, i
            start = i


def _regular(position: int) -> Entry:
    """A stand-in for a regular member in ``decide`` (only its kind matters there)."""
    return Entry("", REGULAR, "", position, 0, 0)


def decide(rel: str, entries: list[Entry]) -> tuple[Entry | None, tuple[str, str] | None]:
    """What the entries of one name, in archive order, make of it: a readable member, or
    the reject (reason, detail) a read of it gets, or neither (a directory nothing else is)."""
    member: Entry | None = None
    reason: tuple[str, str] | None = None
    for entry in entries:
        if entry.kind == DIRECTORY:
            if member is None and reason is None:
                reason = ("not_a_file", f"archive member {rel} is a directory")
        elif entry.kind == SYMLINK and _leaves(rel, entry.link):
            member, reason = None, ("path_outside_source", f"archive member {rel} is a symlink out of the archive")
        elif entry.kind != REGULAR:
            member, reason = None, ("not_a_file", f"archive member {rel} is {entry.what}")
        elif member is not None or reason is not None:
            member, reason = None, ("ambiguous_image", f"archive member {rel} appears more than once")
        else:
            member = entry
    return member, reason


def _leaves(rel: str, target: str) -> bool:
    """Whether the symlink member ``rel`` pointing at ``target`` leads out of the archive."""
    try:
        rel_parts(posixpath.join(posixpath.dirname(rel), target))
    except SampleRejected:
        return True
    return False


def _built(names: list[bytes], numbers: dict[str, np.ndarray], refused: dict[str, tuple[str, str]]) -> Built:
    records = np.zeros(len(names), dtype=RECORD)
    lengths = np.array([len(n) for n in names], dtype=np.uint64)
    records["name_len"] = lengths
    records["name_at"] = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(names) else lengths
    for field, column in numbers.items():
        records[field] = column
    return Built(records, b"".join(names), refused)


def write(path: str, built: Built) -> None:
    """``built`` into the file ``path`` (a temporary name renamed into place)."""
    refused_block = json.dumps(built.refused, ensure_ascii=False).encode("utf-8", "surrogatepass")
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(_HEADER.pack(_MAGIC, len(built.records), len(built.names), len(refused_block)))
            f.write(built.records.tobytes())
            f.write(built.names)
            f.write(refused_block)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load(path: str) -> MemberIndex:
    """The index in ``path``, mapped read-only."""
    with open(path, "rb") as f:
        magic, count, names_bytes, refused_bytes = _HEADER.unpack(f.read(_HEADER.size))
        if magic != _MAGIC:
            raise OSError(f"{path}: not a dataconv archive index")
        f.seek(_HEADER.size + count * RECORD.itemsize + names_bytes)
        refused_json = json.loads(f.read(refused_bytes).decode("utf-8", "surrogatepass"))
    records = np.memmap(path, dtype=RECORD, mode="r", offset=_HEADER.size, shape=(count,)) if count \
        else np.zeros(0, dtype=RECORD)
    names = np.memmap(path, dtype=np.uint8, mode="r", offset=_HEADER.size + count * RECORD.itemsize,
                      shape=(names_bytes,)) if names_bytes else np.zeros(0, dtype=np.uint8)
    refused = {rel: SampleRejected(reason, detail) for rel, (reason, detail) in refused_json.items()}
    return MemberIndex(records, names, refused)


# --- where the index file lives -----------------------------------------------------------

_WRITTEN: list[str] = []  # index files this process wrote: removed when it exits


RUN_TOKEN = "DATACONV_INDEX_TOKEN"  # set by the first process that lists an archive; its children inherit it


def index_path(archive: str, name_encoding: str | None) -> str:
    """The index file of ``archive`` as it is now, for this process and the ones it starts
    (forked, spawned, Dask's local workers): keyed by the archive's identity (a changed
    archive gets another file) and by a token of the process tree (no other run's file is
    ever read)."""
    token = os.environ.setdefault(RUN_TOKEN, f"{os.getpid()}-{uuid.uuid4().hex}")
    info = os.stat(archive)
    key = json.dumps([FORMAT, token, os.path.realpath(archive), info.st_dev, info.st_ino, info.st_size,
                      info.st_mtime_ns, info.st_ctime_ns, name_encoding])
    owner = token.split("-", 1)[0]
    return os.path.join(tempfile.gettempdir(), f"{_PREFIX}{owner}-{hashlib.sha1(key.encode()).hexdigest()}.index")


_PREFIX = "dataconv-archive-"


def _sweep() -> None:
    """Remove the index files of process trees whose first process is gone (killed before
    it could remove them)."""
    folder = tempfile.gettempdir()
    for name in os.listdir(folder):
        owner = name[len(_PREFIX):].split("-", 1)[0] if name.startswith(_PREFIX) else ""
        if owner.isdigit() and not pids.alive(int(owner)):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))


def shared(archive: str, name_encoding: str | None, entries: Callable[[], Iterator[Entry]]) -> MemberIndex:
    """The index of ``archive``: the one another process of this machine wrote, or listed
    now (``entries``) and written for the others."""
    path = index_path(archive, name_encoding)
    with contextlib.suppress(OSError, ValueError):
        return load(path)
    built = build(entries())
    try:
        write(path, built)
    except OSError:  # no room or no right in the temporary folder: this process keeps its own
        return built.in_memory()
    if not _WRITTEN:
        _sweep()
        atexit.register(_remove_written, os.getpid())
    _WRITTEN.append(path)
    return load(path)


def _remove_written(pid: int) -> None:
    if os.getpid() != pid:  # a forked worker inherits the list, not the files
        return
    for path in _WRITTEN:
        with contextlib.suppress(OSError):
            os.unlink(path)


# --- listing a zip: its central directory, read here --------------------------------------

_EOCD = struct.Struct("<4s4H2LH")
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_LOCAL = struct.Struct("<4s5H3L2H")


def zip_entries(f: IO[bytes], decode_name: Callable[[bytes], str],
                zip_kind: Callable[[bytes, int], tuple[int, str]]) -> Iterator[Entry]:
    """Every central-directory entry of the zip ``f``, in archive order."""
    count, offset, size, concat = _central_directory(f)
    f.seek(offset + concat)
    block = f.read(size)
    at = 0
    for _ in range(count):
        if at + _CENTRAL.size > len(block):
            raise zipfile.BadZipFile("truncated central directory")
        (sig, _made, _needed, flags, method, _time, _date, crc, packed, unpacked, name_len, extra_len,
         comment_len, _disk, _internal, external, local) = _CENTRAL.unpack_from(block, at)
        if sig != b"PK\x01\x02":
            raise zipfile.BadZipFile("bad magic number for central directory")
        raw = block[at + _CENTRAL.size: at + _CENTRAL.size + name_len]
        extra = block[at + _CENTRAL.size + name_len: at + _CENTRAL.size + name_len + extra_len]
        at += _CENTRAL.size + name_len + extra_len + comment_len
        unpacked, packed, local = _zip64(extra, unpacked, packed, local)
        name_crc = zlib.crc32(raw)
        raw = raw.split(b"\0", 1)[0]  # zipfile's rule: a name ends at a NUL
        kind, what = zip_kind(raw, external)
        name = decode_name(raw)
        yield Entry(name, kind, what, local + concat, packed, unpacked, method, flags, crc, name_crc)


def _central_directory(f: IO[bytes]) -> tuple[int, int, int, int]:
    """(entries, offset, size, bytes before the archive) from the end records."""
    f.seek(0, os.SEEK_END)
    end = f.tell()
    tail_at = max(0, end - (1 << 16) - _EOCD.size)
    f.seek(tail_at)
    tail = f.read()
    found = tail.rfind(b"PK\x05\x06")
    if found < 0 or found + _EOCD.size > len(tail):
        raise zipfile.BadZipFile("File is not a zip file")
    _sig, _disk, _cd_disk, _here, count, size, offset, _comment = _EOCD.unpack_from(tail, found)
    eocd_at = tail_at + found
    records = end_records = eocd_at
    if count == 0xFFFF or size == 0xFFFFFFFF or offset == 0xFFFFFFFF:
        loc_at = eocd_at - _EOCD64_LOCATOR.size
        f.seek(loc_at)
        sig, _disk, eocd64_at, _disks = _EOCD64_LOCATOR.unpack(f.read(_EOCD64_LOCATOR.size))
        if sig == b"PK\x06\x07":
            end_records = loc_at - _EOCD64.size
            f.seek(end_records)
            fields = _EOCD64.unpack(f.read(_EOCD64.size))
            if fields[0] != b"PK\x06\x06":
                raise zipfile.BadZipFile("corrupt Zip64 end of central directory")
            count, size, offset = fields[7], fields[8], fields[9]
    concat = end_records - size - offset
    if concat < 0 or records > end:
        raise zipfile.BadZipFile("bad central directory offset")
    return count, offset, size, concat


def _zip64(extra: bytes, unpacked: int, packed: int, local: int) -> tuple[int, int, int]:
    """The sizes and offset from the Zip64 extra field where the record holds 0xFFFFFFFF."""
    at = 0
    while at + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, at)
        if tag == 1:
            values = list(struct.unpack_from(f"<{min(length, len(extra) - at - 4) // 8}Q", extra, at + 4))
            if unpacked == 0xFFFFFFFF:
                unpacked = values.pop(0) if values else unpacked
            if packed == 0xFFFFFFFF:
                packed = values.pop(0) if values else packed
            if local == 0xFFFFFFFF:
                local = values.pop(0) if values else local
            break
        at += 4 + length
    return unpacked, packed, local


def open_zip_member(f: IO[bytes], m: Member) -> IO[bytes]:
    """Member ``m`` of the zip ``f`` as zipfile reads it (decompressed, its CRC checked at
    the end); ``f`` is read from ``m``'s local header on."""
    if m.flags & 0x1:
        raise RuntimeError("the member is encrypted")
    if m.flags & 0x60:
        raise NotImplementedError("compressed patched data or strong encryption")
    f.seek(m.offset)
    header = f.read(_LOCAL.size)
    if len(header) != _LOCAL.size or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad magic number for file header")
    name_len, extra_len = struct.unpack_from("<HH", header, 26)
    local_name = f.read(name_len)  # the directory's name bytes: nothing else is asked of them
    if zlib.crc32(local_name) != m.name_crc:
        raise zipfile.BadZipFile("file name in directory and header differ")
    f.seek(m.offset + _LOCAL.size + name_len + extra_len)
    info = zipfile.ZipInfo(m.name)
    info.compress_type, info.flag_bits, info.CRC = m.method, m.flags, m.crc
    info.compress_size, info.file_size = m.packed, m.size
    return zipfile.ZipExtFile(f, "r", info, None, False)


# --- listing a tar: one header at a time ---------------------------------------------------

def tar_entries(tar: tarfile.TarFile, decode_name: Callable[[str], str]) -> Iterator[Entry]:
    """Every member of ``tar`` in archive order, each ``TarInfo`` dropped once recorded."""
    while (info := tar.next()) is not None:
        tar.members.clear()  # tarfile keeps every member it read otherwise
        name = decode_name(info.name)
        if info.isreg() and not info.issparse():
            yield Entry(name, REGULAR, "", info.offset_data, info.size, info.size)
        elif info.isdir():
            yield Entry(name, DIRECTORY, "a directory", 0, 0, 0)
        elif info.issym():
            yield Entry(name, SYMLINK, "a symlink member", 0, 0, 0, link=info.linkname)
        else:
            what = ("a hard link member" if info.islnk() else "a sparse member" if info.isreg()
                    else "not a regular file")
            yield Entry(name, OTHER, what, 0, 0, 0)


def tar_member(m: Member) -> tarfile.TarInfo:
    """A ``TarInfo`` that ``TarFile.extractfile`` reads member ``m`` through."""
    info = tarfile.TarInfo(m.name)
    info.offset_data, info.size, info.type = m.offset, m.size, tarfile.REGTYPE
    return info
