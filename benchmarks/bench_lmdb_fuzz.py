"""Damaged LMDBs: does a random change inside a B-tree page ever kill the reader?

    .venv/bin/python benchmarks/bench_lmdb_fuzz.py --runs 1000
    .venv/bin/python benchmarks/bench_lmdb_fuzz.py --runs 0 --cost 50000

Fuzz: one LMDB of ``--samples`` samples in the clovaai layout (PNG images of mixed sizes, so
that values sit both inside leaf pages and on overflow pages), then for each run a copy
with 1-4 random bytes written (``--mode``, each by default): at random offsets of its
branch and leaf pages (``btree``), in what liblmdb follows in those pages (``structural``:
page headers, node pointers, node headers), or anywhere past the two meta pages
(``anywhere``). Each copy is read in a forked child three ways:

* liblmdb alone: ``lmdb.open`` as a trainer calls it and every record by key and by
  cursor; ``file-size map``: the same with the map exactly the file's size, as dataconv's
  open maps it (what its readers did before the page check);
* dataconv: ``lmdb_tree.iter_records`` and a cursor walk through ``lmdb_tree.reading``
  (the checked open every command uses).

Each run ends as ``read`` (every record read; the bytes hit a key or a value),
``error`` (one ``DataconvError`` or ``lmdb.Error``), ``other`` (any other exception: a
traceback for the user) or ``signal`` (the child died by a signal: SIGSEGV, SIGBUS).

Cost (``--cost N``): a dataconv-written dataset of N samples (``dataconv gt-txt`` on
generated word images), the time of the page check (``lmdb_pages.verify``) against the
time of reading every label (what ``lmdb -i`` parses) and every record.
"""
from __future__ import annotations

import argparse
import collections
import faulthandler
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from typing import Callable

import lmdb
from PIL import Image

from dataconv.errors import DataconvError
from dataconv.fixtures.base import encode, ink_image
from dataconv.io import lmdb_keys, lmdb_pages, lmdb_tree

PSIZE = 4096
WIDTHS = [16, 64, 120, 400]
OUTCOMES = ("read", "error", "other", "signal")
MODES = {
    "btree": "1-4 random bytes at random offsets of the branch and leaf pages",
    "structural": "1-4 random bytes in page headers, node pointers and node headers",
    "anywhere": "1-4 random bytes anywhere past the two meta pages",
}


def word_image(rng: random.Random) -> bytes:
    """A PNG word image of 24 px high: ink on paper (76-520 bytes, stored inside a leaf
    page) or noise (2-12 KB, stored on overflow pages)."""
    width = rng.choice(WIDTHS)
    if rng.random() < 0.5:
        return encode(ink_image(width, 24, rng), "PNG")
    return encode(Image.frombytes("L", (width, 24), rng.randbytes(width * 24)), "PNG")


def write_lmdb(folder: str, samples: int, seed: int = 0) -> str:
    """A clovaai-layout LMDB of ``samples`` PNGs (``word_image``) with their labels;
    returns the path of its data.mdb."""
    rng = random.Random(seed)
    os.makedirs(folder, exist_ok=True)
    env = lmdb.open(folder, map_size=1 << 28)
    with env.begin(write=True) as txn:
        for i in range(1, samples + 1):
            image = word_image(rng)
            txn.put(lmdb_keys.image_key(i), image)
            txn.put(lmdb_keys.label_key(i), b"word%d" % i)
        txn.put(lmdb_keys.NUM_SAMPLES, b"%d" % samples)
    env.close()
    os.remove(os.path.join(folder, "lock.mdb"))
    return os.path.join(folder, lmdb_tree.DATA_FILE)


def btree_pages(data: bytes) -> list[int]:
    """The branch and leaf pages of a pristine data.mdb (they name their own number)."""
    found = []
    for page in range(2, len(data) // PSIZE):
        pgno, flags = struct.unpack_from("<Q2xH", data, page * PSIZE)
        if pgno == page and flags & 0x7F in (lmdb_pages.P_BRANCH, lmdb_pages.P_LEAF):
            found.append(page)
    return found


def damage(data: bytes, pages: list[int], mode: str, rng: random.Random) -> bytes:
    """``data`` with 1-4 random bytes written where ``mode`` says (``MODES``)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if mode == "anywhere":
            offset = rng.randrange(2 * PSIZE, len(out))
        else:
            page = rng.choice(pages) * PSIZE
            offset = page + (rng.randrange(PSIZE) if mode == "btree" else structural_offset(out, page, rng))
        out[offset] = rng.randrange(256)
    return bytes(out)


def structural_offset(data: bytes, page: int, rng: random.Random) -> int:
    """An offset in the page of what liblmdb follows: the header's flags and bounds, a node
    pointer, or a node's header (sizes, flags, child page number)."""
    lower = struct.unpack_from("<H", data, page + 12)[0]
    slots = max(0, min(lower, PSIZE) - 16) // 2
    kind = rng.randrange(3) if slots else 0
    if kind == 0:
        return rng.randrange(8, 16)
    if kind == 1:
        return 16 + rng.randrange(2 * slots)
    node = struct.unpack_from("<H", data, page + 16 + 2 * rng.randrange(slots))[0]
    return min(node + rng.randrange(8), PSIZE - 1)


def read_raw(folder: str, **open_args: int) -> None:
    """Every record through liblmdb alone, by key and by cursor (a trainer's open)."""
    env = lmdb.open(folder, readonly=True, lock=False, readahead=False, **open_args)
    with env.begin() as txn:
        count = int(txn.get(lmdb_keys.NUM_SAMPLES) or b"0")
        for i in range(1, min(count, 10**6) + 1):
            txn.get(lmdb_keys.image_key(i)), txn.get(lmdb_keys.label_key(i))
        for _ in txn.cursor():
            pass
    env.close()


def read_file_sized(folder: str) -> None:
    """The same with the map exactly the file's size, as dataconv's open maps it."""
    read_raw(folder, map_size=os.path.getsize(os.path.join(folder, lmdb_tree.DATA_FILE)))


def read_dataconv(folder: str) -> None:
    """Every record through dataconv's checked open."""
    for _ in lmdb_tree.iter_records(folder):
        pass
    with lmdb_tree.reading(folder) as txn:
        for _ in txn.cursor():
            pass


READERS: dict[str, Callable[[str], None]] = {
    "liblmdb alone": read_raw, "file-size map": read_file_sized, "dataconv": read_dataconv}


def outcome_in_child(read: Callable[[str], None], folder: str) -> str:
    """Run ``read(folder)`` in a forked child; how it ended."""
    pid = os.fork()
    if pid == 0:
        faulthandler.disable()  # pytest's dump of a child's SIGSEGV would only be noise
        code = 0
        try:
            read(folder)
        except (DataconvError, lmdb.Error):
            code = 1
        except BaseException:  # noqa: BLE001 - any other exception is what is counted
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return "signal"
    return OUTCOMES[min(os.WEXITSTATUS(status), 2)]


def fuzz(runs: int, mode: str = "btree", samples: int = 300, seed: int = 0,
         readers: tuple[str, ...] = tuple(READERS)) -> dict[str, collections.Counter]:
    """Outcomes of ``runs`` damaged copies for each reader."""
    rng = random.Random(seed)
    counts = {name: collections.Counter() for name in readers}
    with tempfile.TemporaryDirectory() as work:
        with open(write_lmdb(os.path.join(work, "pristine"), samples, seed), "rb") as f:
            pristine = f.read()
        pages = btree_pages(pristine)
        folder = os.path.join(work, "damaged")
        os.makedirs(folder)
        for _ in range(runs):
            with open(os.path.join(folder, lmdb_tree.DATA_FILE), "wb") as f:
                f.write(damage(pristine, pages, mode, rng))
            for name in readers:
                counts[name][outcome_in_child(READERS[name], folder)] += 1
    return counts


def dataconv_tree(work: str, samples: int) -> str:
    """A dataconv-written dataset of ``samples`` generated word images (a few distinct
    images hard-linked under many names); returns its path."""
    src = os.path.join(work, "src")
    os.makedirs(os.path.join(src, "img"))
    rng = random.Random(0)
    distinct = [encode(ink_image(rng.randint(60, 300), 32, rng), "PNG") for _ in range(64)]
    for k, data in enumerate(distinct):
        with open(os.path.join(src, "img", f"d{k}.png"), "wb") as f:
            f.write(data)
    with open(os.path.join(src, "gt.txt"), "w", encoding="utf-8") as gt:
        for i in range(samples):
            os.link(os.path.join(src, "img", f"d{i % 64}.png"), os.path.join(src, "img", f"{i}.png"))
            gt.write(f"img/{i}.png\tw{i}\n")
    out = os.path.join(work, "out")
    dataconv = os.path.join(os.path.dirname(sys.executable), "dataconv")
    subprocess.run([dataconv, "gt-txt", "-i", src, "-o", out, "-q", "--split", "none",
                    "--shard-size", str(samples)], check=True)
    return out


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def verify_only(path: str) -> None:
    lmdb_tree._VERIFIED.clear()  # each file is walked once per process: time the walk itself
    fd = os.open(os.path.join(path, lmdb_tree.DATA_FILE), os.O_RDONLY)
    try:
        lmdb_tree.check_data_file(fd, path)
    finally:
        os.close(fd)


def read_labels(path: str) -> None:
    env = lmdb_tree.open_readonly(path)
    with env.begin() as txn:
        for i in range(1, lmdb_tree.num_samples(env, path) + 1):
            txn.get(lmdb_keys.label_key(i))
    env.close()


def cost(samples: int) -> None:
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        out = dataconv_tree(work, samples)
        print(f"dataconv tree of {samples:,} samples written in {time.perf_counter() - started:.1f} s")
        for shard in lmdb_tree.find_lmdbs(out):
            size = os.path.getsize(os.path.join(shard, lmdb_tree.DATA_FILE))
            check = timed(lambda: verify_only(shard))
            labels = timed(lambda: read_labels(shard))
            records = timed(lambda: sum(1 for _ in lmdb_tree.iter_records(shard)))
            print(f"{os.path.relpath(shard, out)}: {size / 2**20:.1f} MB data.mdb; meta + page check "
                  f"{check * 1000:.1f} ms; then reading every label {labels * 1000:.1f} ms, every "
                  f"record {records * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", action="append", choices=list(MODES), help="where to damage "
                        "(repeatable; default: every mode)")
    parser.add_argument("--cost", type=int, default=0, help="samples of the dataconv tree to time")
    args = parser.parse_args()
    for mode in args.mode or list(MODES):
        if not args.runs:
            break
        started = time.perf_counter()
        counts = fuzz(args.runs, mode, args.samples, args.seed)
        print(f"{args.runs} runs, {MODES[mode]}, {args.samples}-sample LMDB "
              f"({time.perf_counter() - started:.0f} s):")
        for name, counter in counts.items():
            print(f"  {name:15}" + ", ".join(f"{k} {counter[k]}" for k in OUTCOMES))
    if args.cost:
        cost(args.cost)


if __name__ == "__main__":
    main()
