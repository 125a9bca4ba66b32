"""Issue 27: a damaged foreign LMDB never kills the process. Every B-tree page is checked
before liblmdb maps the file (dataconv/io/lmdb_pages.py, called by the one checked open in
dataconv/io/lmdb_tree.py): a page liblmdb would misread is a one-line error naming the
file, for every command that reads an LMDB, and a valid LMDB of any shape still reads.

The fuzz runs are benchmarks/bench_lmdb_fuzz.py's (1,000 per mode there, a few here), each
read in a forked child so that a signal shows as an outcome instead of killing pytest."""
from __future__ import annotations

import os
import random
import struct
import subprocess
import sys
from pathlib import Path

import lmdb
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from helpers import REPO
from dataconv.io import lmdb_keys, lmdb_tree

sys.path.insert(0, os.path.join(REPO, "benchmarks"))
import bench_lmdb_fuzz as fuzz  # noqa: E402  (a script, not a package)


def test_fuzzed_btree_pages_never_end_in_a_signal():
    """Bytes written where liblmdb follows offsets and page numbers: liblmdb alone dies by
    a signal on some of these copies (so the damage is of the killing kind); dataconv's
    readers end every one of them with a record read or a one-line error."""
    counts = fuzz.fuzz(30, mode="structural", samples=120, seed=1)
    assert counts["liblmdb alone"]["signal"] >= 1, counts
    assert counts["dataconv"]["signal"] == 0 and counts["dataconv"]["other"] == 0, counts
    assert counts["dataconv"]["error"] >= counts["liblmdb alone"]["error"] + counts["liblmdb alone"]["signal"]


def sized_bytes(sizes: st.SearchStrategy[int]) -> st.SearchStrategy[bytes]:
    """Random bytes of a drawn size (drawn as a size and a seed: Hypothesis stays fast)."""
    return st.builds(lambda n, seed: random.Random(seed).randbytes(n), sizes, st.integers(0, 2**32))


KEYS = sized_bytes(st.one_of(st.integers(1, 16), st.integers(17, 511)))  # 511: liblmdb's largest key
VALUES = sized_bytes(st.one_of(st.integers(0, 64), st.integers(1500, 9000)))  # inline, overflow pages


def _bytes(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


# Found by CI: the last transaction frees pages it allocated, so the file ends before the
# meta's last page. liblmdb reads it; the check once refused it as truncated.
SHORTER_THAN_ITS_META = dict(
    batches=[{b"\xd8": b"", b"\xcd\x07,\xd8": b"", b"s\xa9\xbe\xf4": _bytes(1500),
              b"\xcd\x07,\xd8\x9fb": _bytes(40), _bytes(17, 1): b"", _bytes(18): b"\xd7\xa5m<M",
              _bytes(50): _bytes(29)},
             {b'"': b"", b"\xf4": b"", b"<": b"", b"\x9f": b"", b"\x07,\xd8": b"", b"?\xeb<": _bytes(1508),
              b"\xcd\x07,\xd8b": b",\xd8", b'\xb1e"': b"", b"s\xa9\xbe\xf4\xf4\xdc": b'"',
              _bytes(10, 2): b"\xcd\x07,\xd8b", _bytes(163): _bytes(64)},
             {b"\xd8": b"", _bytes(349): _bytes(64, 2), b"\xf7": b"", b"\xbe\xf4": b"", _bytes(17): b""}],
    deletes=[0, 10, 218, 0, 0, 1, 0], named_db=False)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.dictionaries(KEYS, VALUES, max_size=60), min_size=1, max_size=4),
       deletes=st.lists(st.integers(0, 10**6), max_size=30), named_db=st.booleans())
@example(**SHORTER_THAN_ITS_META)
def test_any_valid_lmdb_passes_the_check_and_reads_back_exactly(batches, deletes, named_db, tmp_path_factory):
    """Several write transactions, overwrites, deletes (free pages left behind), values
    inline and on overflow pages, keys of every size, a named sub-database beside the
    data: the check refuses none of them, and every key and value reads back."""
    folder = tmp_path_factory.mktemp("valid")
    expected: dict[bytes, bytes] = {}
    env = lmdb.open(str(folder), map_size=1 << 26, max_dbs=1)
    for batch in batches:
        with env.begin(write=True) as txn:
            for key, value in batch.items():
                txn.put(key, value)
        expected.update(batch)
    with env.begin(write=True) as txn:
        for n in deletes:
            if expected:
                key = sorted(expected)[n % len(expected)]
                txn.delete(key)
                del expected[key]
    if named_db:
        env.open_db(b"extra")
        expected[b"extra"] = None  # the sub-database's record in the main database
    env.close()
    with lmdb_tree.reading(str(folder)) as txn:
        found = dict(txn.cursor())
    assert found.keys() == expected.keys()
    assert all(found[k] == v for k, v in expected.items() if v is not None)


def overflow_value_claiming_4gb(data: bytes) -> bytes:
    """``data`` with the first value stored on overflow pages (F_BIGDATA) claiming 4 GiB:
    a reader copying it runs far past the map, whatever lies beyond it."""
    out = bytearray(data)
    for page in fuzz.btree_pages(data):
        base = page * fuzz.PSIZE
        flags, lower = struct.unpack_from("<HH", out, base + 10)
        for slot in range((lower - 16) // 2) if flags & 0x7F == 0x02 else ():
            node = base + struct.unpack_from("<H", out, base + 16 + 2 * slot)[0]
            if struct.unpack_from("<H", out, node + 4)[0] & 0x01:  # F_BIGDATA
                struct.pack_into("<HH", out, node, 0xFFFF, 0xFFFF)  # mn_lo, mn_hi: the size
                return bytes(out)
    raise AssertionError("no value on overflow pages")


@pytest.fixture(scope="module")
def killing_tree(tmp_path_factory) -> Path:
    """A tree whose three splits' LMDBs kill liblmdb, opened as a trainer opens it and
    as dataconv's readers opened it before the page check (checked here, in a child)."""
    work = tmp_path_factory.mktemp("killing")
    damaged = overflow_value_claiming_4gb(Path(fuzz.write_lmdb(str(work / "pristine"), 40)).read_bytes())
    for split in ("train", "val", "test"):
        (work / "tree" / split).mkdir(parents=True)
        (work / "tree" / split / "data.mdb").write_bytes(damaged)
    for reader in (fuzz.read_raw, fuzz.read_file_sized):
        assert fuzz.outcome_in_child(reader, str(work / "tree" / "test")) == "signal"
    (work / "preds.tsv").write_text("test:1\tword1\n", encoding="utf-8")
    return work


def commands(work: Path) -> dict[str, list]:
    tree = work / "tree"
    return {
        "lmdb": ["lmdb", "-i", tree, "-o", work / "out", "-q", "--workers", "1", "--overwrite"],
        "validate": ["validate", tree, "--for", "clovaai", "-q"],
        "report": ["report", tree, "-o", work / "report.html"],
        "ls": ["ls", tree],
        "show": ["show", tree, "test:1"],
        "dump": ["dump", tree, "-o", work / "dump", "--style", "clovaai"],
        "eval": ["eval", tree, "--predictions", work / "preds.tsv", "-o", work / "eval"],
        "train": ["train", tree, "--out", work / "run", "--max-epochs", "1", "--accelerator", "cpu",
                  "--charset", "word0123456789"],
    }


@pytest.mark.parametrize("name", ["lmdb", "validate", "report", "ls", "show", "dump", "eval", "train"])
def test_every_reader_of_a_killing_tree_gets_one_line_and_loses_nothing(name, killing_tree):
    """What liblmdb alone dies on is one line naming the data.mdb for every command, and
    what is already there stays: a previous OUT replaced with --overwrite, a run folder."""
    work = killing_tree
    previous = {"lmdb": work / "out" / "manifest.json", "train": work / "run" / "notes.txt"}.get(name)
    if previous is not None:
        previous.parent.mkdir(exist_ok=True)
        previous.write_text('{"dataconv_version": "0", "counts": {"input": 1, "written": 1, "rejected": 0}}')
    proc = subprocess.run([sys.executable, "-m", "dataconv", *map(str, commands(work)[name])],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    err = proc.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    assert "/data.mdb: damaged LMDB (page " in err, err
    if previous is not None:
        assert sorted(os.listdir(previous.parent)) == [previous.name]
        assert "dataconv_version" in previous.read_text()


def test_each_file_is_walked_once_per_process(tmp_path):
    """Readers open a shard many times (count, records, a handle per worker): the walk is
    done once per file identity; a file changed in place is walked again."""
    folder = Path(fuzz.write_lmdb(str(tmp_path / "db"), 5)).parent
    lmdb_tree.count(str(folder))
    assert len(lmdb_tree._VERIFIED) >= 1
    before = set(lmdb_tree._VERIFIED)
    lmdb_tree.count(str(folder))
    assert lmdb_tree._VERIFIED == before
    env = lmdb.open(str(folder), map_size=1 << 26)
    with env.begin(write=True) as txn:
        txn.put(lmdb_keys.label_key(1), b"changed")
    env.close()
    assert [r.label for r in lmdb_tree.iter_records(str(folder))][0] == "changed"
    assert len(lmdb_tree._VERIFIED - before) == 1
