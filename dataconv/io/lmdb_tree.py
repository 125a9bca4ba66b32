"""Reading any LMDB dataset tree the way the trainers do, without trusting the files.

clovaai walks the tree and treats every folder holding an LMDB as one dataset; PARSeq
globs ``**/data.mdb``. Both find the same folders here. Handles are read-only and
lock-free, so readers never block a writer and work on read-only media.

Every LMDB any command reads is opened by ``open_readonly``. LMDB maps ``data.mdb`` into
memory and trusts it: a page past the end of a truncated file kills the process with
SIGBUS, and a FIFO under that name blocks the open forever. So ``data.mdb`` is opened
here first, through ``dataconv.io.safeopen`` (never a FIFO, device or socket; inside SRC,
never through a symlink out of it), its two meta pages are read and checked, and LMDB
then maps exactly the file that was checked (through ``/proc/self/fd`` on Linux).
Inside the map liblmdb trusts every page, so the main database's B-tree is checked page
by page (``lmdb_pages.verify``) before it is handed over: every page it reaches lies in
the file (a truncation is a one-line error, never SIGBUS) and is well formed (a damaged
page is a one-line error naming the file, never a SIGSEGV). A read-only reader reaches
no other page.
"""
from __future__ import annotations

import contextlib
import json
import os
import stat
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

import lmdb

from dataconv.io import lmdb_keys
from dataconv.io import safeopen
from dataconv.errors import DataconvError, SampleRejected
from dataconv.numbers import parse_int

if TYPE_CHECKING:
    from dataconv.io import lmdb_pages  # imported when an LMDB is first read: it loads NumPy

DATA_FILE = "data.mdb"

# The start of each of the two meta pages of a data.mdb (liblmdb 0.9 mdb.c, 64-bit
# little-endian builds: x86-64, arm64). MDB_page header: mp_pgno u64, mp_pad u16,
# mp_flags u16, lower/upper u16 each. Then MDB_meta: mm_magic u32, mm_version u32,
# mm_address (pointer), mm_mapsize u64, mm_dbs[2] (MDB_db, 48 bytes each; the page size is
# md_pad of the first, the free-page DB), mm_last_pg u64, mm_txnid u64. A file written
# by another build fails the magic test and is refused, as liblmdb would.
_META = struct.Struct("<QxxH4x II 16x I44x 48x QQ")
_P_META = 0x08
_MAGIC = 0xBEEFC0DE
_DATA_VERSION = 1
_PAGE_SIZES = {1 << n for n in range(9, 17)}  # 512 B .. 64 KiB

_PROC_FD = "/proc/self/fd"


@dataclass(frozen=True)
class Record:
    """One sample as stored: 1-based index, raw label bytes, image bytes (None if absent)."""

    index: int
    label_bytes: bytes | None
    image: bytes | None

    @property
    def label(self) -> str:
        """The label decoded as UTF-8 (invalid bytes replaced)."""
        return (self.label_bytes or b"").decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Meta:
    """What one meta page says: the page size, the last page in use, the transaction, the
    main database."""

    psize: int
    last_pg: int
    txnid: int
    db: "lmdb_pages.MainDb"


def is_detection(root: str) -> bool:
    """Whether ``root`` is a dataconv detection dataset (its manifest says ``"task": "det"``)."""
    from dataconv.io.safeopen import open_user_path

    path = os.path.join(root, "manifest.json")
    if not os.path.isfile(path):  # never a FIFO or device: open_user_path refuses those too
        return False
    try:
        with os.fdopen(open_user_path(path), encoding="utf-8") as f:
            return json.load(f).get("task") == "det"
    except (OSError, ValueError, AttributeError, DataconvError):
        return False


def _inside(path: str, real_root: str) -> bool:
    return path == real_root or path.startswith(real_root.rstrip(os.sep) + os.sep)


def _outside_error(path: str) -> DataconvError:
    return DataconvError(f"{path}: a symlink out of the source folder "
                         "(pass --follow-symlinks to read it)")


def find_lmdbs(root: str, confined: bool = False) -> list[str]:
    """Every folder at or under ``root`` that holds a ``data.mdb``, sorted.

    Symlinked folders are followed, as PARSeq's glob does, but each real folder is
    walked once, so a link loop ends. With ``confined`` (the ``lmdb`` source format
    without --follow-symlinks) a folder whose real location is outside ``root`` is an
    error rather than data read from elsewhere."""
    if not os.path.exists(root):
        raise DataconvError(f"{root}: no such file or folder")
    real_root = os.path.realpath(root)
    seen: set[tuple[int, int]] = set()
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        try:
            info = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        if (info.st_dev, info.st_ino) in seen:
            dirnames[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        if confined and not _inside(os.path.realpath(dirpath), real_root):
            raise _outside_error(dirpath)
        dirnames.sort()
        if DATA_FILE in filenames:
            found.append(dirpath)
    if not found:
        hint = ("; it is a detection dataset (--task det): `dataconv ls` lists it, `dataconv validate "
                "--for paddleocr-det|mmocr-det` checks it") if is_detection(root) else ""
        raise DataconvError(f"{root}: no LMDB dataset (no data.mdb) found{hint}")
    return sorted(found)


def _open_data_file(path: str, root: str | None) -> int:
    """A descriptor on ``path``/data.mdb through ``dataconv.io.safeopen``: never a FIFO,
    device or socket, and with ``root``, never reached through a symlink out of it."""
    data = os.path.join(path, DATA_FILE)
    if root is None:
        return safeopen.open_user_path(data)
    try:
        return safeopen.open_inside(root, os.path.relpath(data, root))
    except SampleRejected as e:
        if e.reason == "path_outside_source":
            raise _outside_error(data) from None
        raise DataconvError(f"{data}: {e.detail}, not an LMDB data file") from None
    except OSError as e:
        raise DataconvError(f"{data}: cannot open ({e.strerror or e})") from None


def _read_meta(fd: int, page: int, offset: int, size: int, shown: str) -> Meta:
    from dataconv.io import lmdb_pages

    raw = os.pread(fd, _META.size, offset)
    if len(raw) < _META.size:
        raise DataconvError(f"{shown}: truncated LMDB file ({size} bytes): meta page {page} is incomplete")
    pgno, flags, magic, version, psize, last_pg, txnid = _META.unpack(raw)
    if magic != _MAGIC or not flags & _P_META or pgno != page:
        raise DataconvError(f"{shown}: not an LMDB data file (page {page} is not a meta page)")
    if version != _DATA_VERSION:
        raise DataconvError(f"{shown}: LMDB data format version {version}; version {_DATA_VERSION} is read")
    if psize not in _PAGE_SIZES or last_pg < 1:
        raise DataconvError(f"{shown}: damaged LMDB meta page {page} "
                            f"(page size {psize}, last page {last_pg})")
    return Meta(psize, last_pg, txnid, lmdb_pages.main_db(raw))


def check_data_file(fd: int, shown: str) -> int:
    """Refuse a ``data.mdb`` that LMDB would map past its end or misread; return its size.

    The meta page with the higher transaction id is the one LMDB uses (mdb_env_pick_meta);
    the tree it names must pass ``lmdb_pages.verify`` and lie in the file."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise DataconvError(f"{shown}: not a regular file (a FIFO, device or socket cannot be an LMDB)")
    first = _read_meta(fd, 0, 0, info.st_size, shown)
    second = _read_meta(fd, 1, first.psize, info.st_size, shown)
    if second.psize != first.psize:
        raise DataconvError(f"{shown}: damaged LMDB meta pages (page sizes {first.psize} and {second.psize})")
    meta = second if second.txnid > first.txnid else first
    _verify_pages(fd, info, meta, shown)
    return info.st_size


# Files whose pages passed, by identity: each LMDB is walked once per process (and not
# again in the workers it forks), however often its readers open it.
_VERIFIED: set[tuple[int, ...]] = set()


def _verify_pages(fd: int, info: os.stat_result, meta: Meta, shown: str) -> None:
    from dataconv.io import lmdb_pages

    key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, meta.txnid)
    if key in _VERIFIED:
        return
    try:
        lmdb_pages.verify(fd, info.st_size, meta.psize, meta.last_pg, meta.db)
    except lmdb_pages.PastTheEnd as e:
        raise DataconvError(f"{shown}: truncated LMDB file: {info.st_size} bytes, {e}") from None
    except lmdb_pages.DamagedPage as e:
        raise DataconvError(f"{shown}: damaged LMDB ({e})") from None
    _VERIFIED.add(key)


def _lmdb_message(e: lmdb.Error, target: str) -> str:
    """liblmdb's message without the /proc/self/fd path it was opened through."""
    return str(e).replace(f"{target}: ", "").replace(target, "")


def open_readonly(path: str, root: str | None = None) -> lmdb.Environment:
    """A read-only, lock-free handle on the LMDB in folder ``path``, or DataconvError.

    ``root``: the source folder the LMDB must really lie in (no symlink out of it), for
    LMDBs found inside SRC; None for a tree the user named, whose links are the user's."""
    data = os.path.join(path, DATA_FILE)
    fd = _open_data_file(path, root)
    try:
        size = check_data_file(fd, data)
        # LMDB maps the very file checked above; elsewhere it reopens the path.
        target = f"{_PROC_FD}/{fd}" if os.path.isdir(_PROC_FD) else data
        try:
            return lmdb.open(target, subdir=False, readonly=True, lock=False, readahead=False,
                             meminit=False, max_readers=256, map_size=size)
        except lmdb.Error as e:
            raise DataconvError(f"{data}: not a readable LMDB ({_lmdb_message(e, target)})") from None
    finally:
        os.close(fd)


@contextlib.contextmanager
def read_errors(path: str) -> Iterator[None]:
    """An LMDB error while reading (a damaged page: LMDB keeps no checksums) becomes a
    one-line DataconvError naming the LMDB."""
    try:
        yield
    except lmdb.Error as e:
        raise DataconvError(f"{os.path.join(path, DATA_FILE)}: damaged LMDB ({e})") from None


@contextlib.contextmanager
def reading(path: str, root: str | None = None) -> Iterator[lmdb.Transaction]:
    """A read transaction on the LMDB in ``path`` (``open_readonly``), closed afterwards."""
    env = open_readonly(path, root)
    try:
        with read_errors(path), env.begin() as txn:
            yield txn
    finally:
        env.close()


def _own_keys(txn: lmdb.Transaction) -> int:
    """How many ``dataconv-`` keys the database holds (a few at most in our shards)."""
    cursor = txn.cursor()
    n = 0
    if cursor.set_range(lmdb_keys.OWN_PREFIX):
        for key in cursor.iternext(keys=True, values=False):
            if not key.startswith(lmdb_keys.OWN_PREFIX):
                break
            n += 1
    return n


def num_samples(env: lmdb.Environment, path: str) -> int:
    """``num-samples`` as plain ASCII decimal, and no more than the database can hold.

    Every sample owns at least one of its two keys (``label-%09d``, ``image-%09d``; a
    sample missing one is a reject, not an error), so the count cannot exceed the entries
    left once ``num-samples`` itself and the ``dataconv-`` keys are set aside. A larger
    count (10**15 in an LMDB of 3 samples) is refused before anything loops over it."""
    with read_errors(path), env.begin() as txn:
        raw = txn.get(lmdb_keys.NUM_SAMPLES)
        if raw is None:
            raise DataconvError(f"{path}: no 'num-samples' key")
        try:
            count = parse_int(raw)
        except ValueError as e:
            raise DataconvError(f"{path}: invalid 'num-samples' ({e})") from None
        room = env.stat()["entries"] - 1 - _own_keys(txn)
    if not 0 <= count <= room:
        raise DataconvError(f"{path}: 'num-samples' is {count}, but the LMDB holds keys "
                            f"for at most {max(room, 0)} samples")
    return count


def iter_records(path: str) -> Iterator[Record]:
    """Every sample of one LMDB, in index order."""
    env = open_readonly(path)
    try:
        total = num_samples(env, path)
        with read_errors(path), env.begin() as txn:
            for i in range(1, total + 1):
                yield Record(i, txn.get(lmdb_keys.label_key(i)), txn.get(lmdb_keys.image_key(i)))
    finally:
        env.close()


def count(path: str) -> int:
    env = open_readonly(path)
    try:
        return num_samples(env, path)
    finally:
        env.close()
