"""Check every B-tree page of a ``data.mdb`` before liblmdb maps it.

LMDB keeps no checksums and trusts every page it reads: a node offset, a key size or a
child page number changed by a damaged disk or a bad copy makes liblmdb read past its map
and die with SIGSEGV, with nothing for dataconv to catch. So the main database's tree is
walked here first, level by level from its root, with NumPy over the mapped file, and
every field liblmdb would follow on a read is checked against the page and the file
(liblmdb 0.9 ``mdb.c``, 64-bit builds):

* a page is a branch page above the last level and a leaf page on it, names its own page
  number, lies between the meta pages and the last page, and is reached once (no cycle);
* its node offsets (``lower``/``upper``) lie inside the page, and every node, with its key
  and its inline value, lies between ``upper`` and the end of the page;
* a branch page holds at least 2 nodes, a leaf page at least 1;
* a value stored on overflow pages ends before the end of the file.

Only the branch and leaf pages are read (overflow pages hold the images and are never
touched), so the cost is a small part of reading the values. A tree that passes can be
read in any order without a signal: every page number, offset and size liblmdb follows
has been checked here. What it cannot catch is a change inside a key or value's bytes,
which reads as a different key or value.
"""
from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass

import numpy as np

PAGE_HEADER = 16  # mp_pgno u64, mp_pad u16, mp_flags u16, mp_lower u16, mp_upper u16
NODE_HEADER = 8  # mn_lo u16, mn_hi u16, mn_flags u16, mn_ksize u16
P_BRANCH, P_LEAF, P_OVERFLOW, P_META, P_LEAF2, P_SUBP = 0x01, 0x02, 0x04, 0x08, 0x20, 0x40
_KIND_BITS = P_BRANCH | P_LEAF | P_OVERFLOW | P_META | P_LEAF2 | P_SUBP
F_BIGDATA, F_SUBDATA, F_DUPDATA = 0x01, 0x02, 0x04
P_INVALID = (1 << 64) - 1  # md_root of an empty database
MAX_DEPTH = 32  # liblmdb's CURSOR_STACK
CHUNK_PAGES = 1024  # pages checked in one set of array operations (bounds the memory)

# mm_dbs[1], the main database, in a meta page: md_pad u32, md_flags u16, md_depth u16,
# branch/leaf/overflow page counts and md_entries u64, md_root u64.
MAIN_DB = struct.Struct("<4xHH32xQ")
MAIN_DB_OFFSET = PAGE_HEADER + 24 + 48


@dataclass(frozen=True)
class MainDb:
    """What the meta page says of the main database: its flags, depth and root page."""

    flags: int
    depth: int
    root: int


class DamagedPage(Exception):
    """A page liblmdb would misread; ``str`` says which and why."""


class PastTheEnd(DamagedPage):
    """The tree reaches a page the meta names but the (truncated) file does not hold."""


def main_db(meta_page: bytes) -> MainDb:
    flags, depth, root = MAIN_DB.unpack_from(meta_page, MAIN_DB_OFFSET)
    return MainDb(flags, depth, root)


def verify(fd: int, size: int, psize: int, last_pg: int, db: MainDb) -> None:
    """Raise ``DamagedPage`` unless the main database's tree in the file ``fd`` (``size``
    bytes) is safe for liblmdb to read; ``PastTheEnd`` if it reaches a page the file lacks.

    A valid file may stop short of the meta's last page (pages freed in the transaction
    that allocated them are never written), so only the pages the tree reaches must be
    present."""
    if db.root == P_INVALID:
        return  # an empty database: liblmdb reads no page
    if db.flags:
        raise DamagedPage(f"main database flags {db.flags:#x} (sorted duplicates or integer keys: "
                          "not a dataset LMDB)")
    if not 1 <= db.depth <= MAX_DEPTH:
        raise DamagedPage(f"tree depth {db.depth}")
    with mmap.mmap(fd, size, prot=mmap.PROT_READ) as mapped:
        try:
            _Walk(np.frombuffer(mapped, dtype=np.uint8), psize, last_pg).tree(db)
            return
        except DamagedPage as e:
            # raised again once the traceback, whose frames hold arrays on the map, is gone
            kind, problem = type(e), str(e)
    raise kind(problem)


class _Walk:
    """The tree's pages, one level at a time, checked as arrays of page and node offsets."""

    def __init__(self, view: np.ndarray, psize: int, last_pg: int) -> None:
        self.u8 = view
        self.u16 = view[: view.size & ~1].view("<u2")
        self.psize, self.last_pg = psize, last_pg
        self.present = min(last_pg, view.size // psize - 1)
        self.seen = np.zeros(self.present + 1, dtype=bool)  # sized by the file, not the meta's claim

    def tree(self, db: MainDb) -> None:
        level = np.array([db.root], dtype=np.uint64)
        for depth in range(db.depth):
            leaf = depth == db.depth - 1
            self._claim(level, depth)
            children = [self._pages(level[i:i + CHUNK_PAGES], leaf) for i in range(0, level.size, CHUNK_PAGES)]
            level = np.concatenate(children)

    def _claim(self, pages: np.ndarray, depth: int) -> None:
        """Every page of a level is a B-tree page of this file, reached once."""
        bad = (pages < 2) | (pages > self.last_pg)
        if bad.any():
            raise DamagedPage(f"level {depth} points at page {int(pages[bad][0])}, outside 2..{self.last_pg}")
        index = pages.astype(np.int64)
        self._present(index + 1)
        unique = np.unique(index)
        if unique.size != index.size or self.seen[unique].any():
            raise DamagedPage(f"level {depth} reaches a page twice (a cycle or shared page)")
        self.seen[unique] = True

    def _pages(self, pages: np.ndarray, leaf: bool) -> np.ndarray:
        """Check one chunk of a level; return the page numbers of its children (none for
        leaf pages)."""
        base = pages.astype(np.int64) * self.psize
        self._headers(pages, base, leaf)
        counts = (self._u16(base + 12) - PAGE_HEADER) // 2
        if (counts < (1 if leaf else 2)).any():
            raise DamagedPage(f"{_first(pages, counts < (1 if leaf else 2))} holds too few nodes")
        owner = np.repeat(np.arange(pages.size), counts)
        slot = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
        offset = self._u16(base[owner] + PAGE_HEADER + 2 * slot)
        upper = self._u16(base + 14)[owner]
        end_of_header = offset + NODE_HEADER
        bad = (offset < upper) | (offset & 1 != 0) | (end_of_header > self.psize)
        if bad.any():
            raise DamagedPage(f"{_first(pages[owner], bad)} has a node offset outside its nodes")
        node = base[owner] + offset
        lo, hi, flags, ksize = (self._u16(node + 2 * k) for k in range(4))
        key_end = end_of_header + ksize
        if leaf:
            self._values(pages[owner], node + NODE_HEADER + ksize, key_end, lo | (hi << 16), flags)
            return np.empty(0, dtype=np.uint64)
        if (key_end > self.psize).any():
            raise DamagedPage(f"{_first(pages[owner], key_end > self.psize)} has a key past its end")
        return (lo | (hi << 16) | (flags << 32)).astype(np.uint64)

    def _headers(self, pages: np.ndarray, base: np.ndarray, leaf: bool) -> None:
        named = self._u64(base)
        if (named != pages).any():
            raise DamagedPage(f"{_first(pages, named != pages)} names another page number")
        kind = self._u16(base + 10) & _KIND_BITS
        wanted = P_LEAF if leaf else P_BRANCH
        if (kind != wanted).any():
            raise DamagedPage(f"{_first(pages, kind != wanted)} is not a {'leaf' if leaf else 'branch'} page")
        lower, upper = self._u16(base + 12), self._u16(base + 14)
        bad = (lower < PAGE_HEADER) | (lower & 1 != 0) | (lower > upper) | (upper > self.psize)
        if bad.any():
            raise DamagedPage(f"{_first(pages, bad)} has bounds {int(lower[bad][0])}..{int(upper[bad][0])}")

    def _values(self, pages: np.ndarray, data: np.ndarray, key_end: np.ndarray,
                size: np.ndarray, flags: np.ndarray) -> None:
        """Leaf values: inline ones end inside the page, overflow ones inside the file.
        ``data``: where each node's value (or its overflow page number) starts in the file."""
        odd = (flags & ~(F_BIGDATA | F_SUBDATA)) != 0
        if odd.any():
            raise DamagedPage(f"{_first(pages, odd)} has a node with duplicate data")
        big = (flags & F_BIGDATA) != 0
        inline_end = key_end + np.where(big, 8, size)
        if (inline_end > self.psize).any():
            raise DamagedPage(f"{_first(pages, inline_end > self.psize)} has a value past its end")
        if not big.any():
            return
        overflow = self._u64(data[big])
        inside = (overflow >= 2) & (overflow <= self.last_pg)
        first_page = np.where(inside, overflow, 0).astype(np.int64)
        value_end = first_page * self.psize + PAGE_HEADER + size[big]
        bad = ~inside | (value_end > (self.last_pg + 1) * self.psize)
        if bad.any():
            raise DamagedPage(f"{_first(pages[big], bad)} has a value on pages past the last page")
        self._present(-(-value_end // self.psize))

    def _present(self, page_ends: np.ndarray) -> None:
        """Every page before each of ``page_ends`` lies in the file."""
        beyond = page_ends > self.present + 1
        if beyond.any():
            end = int(page_ends[beyond].max())
            raise PastTheEnd(f"its tree reaches page {end - 1} ({end * self.psize} bytes)")

    def _u16(self, offsets: np.ndarray) -> np.ndarray:
        """The little-endian u16 at each (even) offset."""
        return self.u16[offsets // 2].astype(np.int64)

    def _u64(self, offsets: np.ndarray) -> np.ndarray:
        """The little-endian u64 at each offset (a value's overflow page number need not
        be aligned)."""
        return self.u8[offsets[:, None] + np.arange(8)].copy().view("<u8")[:, 0]


def _first(pages: np.ndarray, bad: np.ndarray) -> str:
    return f"page {int(pages[bad][0])}"
