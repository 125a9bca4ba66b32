"""Issue 12, the LMDB read side: a damaged, lying or planted LMDB is a one-line error for
every command that reads one, never a signal, a hang or a read outside SRC.

Every command runs as a real ``python -m dataconv`` subprocess, so SIGBUS or SIGSEGV
would show as a negative return code instead of killing the test run."""
from __future__ import annotations

import os
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import lmdb
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from hostile_util import png
from dataconv.io import lmdb_tree
from dataconv.errors import DataconvError

PSIZE = 4096  # the page size liblmdb picks on x86-64 and arm64 Linux
META_SIZE = 152  # MDB_page header (16 bytes) + MDB_meta (136 bytes)
MAIN_DB_ENTRIES = 16 + 24 + 48 + 32  # md_entries of the main DB in a meta page
MAIN_DB_ROOT = MAIN_DB_ENTRIES + 8  # md_root of the main DB


def write_lmdb(folder: Path, samples: int = 3, num_samples: bytes | None = None,
               extra: dict[bytes, bytes] | None = None, image_size: tuple[int, int] = (64, 24)) -> Path:
    """A clovaai-layout LMDB of ``samples`` PNG + label pairs, ``num-samples`` as given
    (default: the true count), ``extra`` keys; no lock file left behind."""
    folder.mkdir(parents=True, exist_ok=True)
    env = lmdb.open(str(folder), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for i in range(1, samples + 1):
            txn.put(b"image-%09d" % i, png(i, *image_size))
            txn.put(b"label-%09d" % i, b"word%d" % i)
        txn.put(b"num-samples", num_samples if num_samples is not None else b"%d" % samples)
        for key, value in (extra or {}).items():
            txn.put(key, value)
    env.close()
    (folder / "lock.mdb").unlink()
    return folder


def dataconv(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dataconv", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def command(name: str, tree: Path, work: Path) -> list[str | Path]:
    """The command line of each LMDB reader, on ``tree``."""
    return {
        "lmdb": ["lmdb", "-i", tree, "-o", work / "out", "-q", "--workers", "1", "--split", "none"],
        "validate": ["validate", tree, "--for", "clovaai", "-q"],
        "report": ["report", tree, "-o", work / "report.html"],
        "charset": ["charset", tree, "-o", work / "charset.txt", "--style", "paddle"],
    }[name]


READERS = ["lmdb", "validate", "report", "charset"]


def assert_error(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 1 (not a signal: -7 / 135 is SIGBUS), one ``error:`` line, no traceback."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert err.startswith("error:") and "\n" not in err, err
    assert "Traceback" not in proc.stderr + proc.stdout
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A data.mdb of 8 samples with images big enough for overflow pages."""
    folder = write_lmdb(tmp_path_factory.mktemp("pristine") / "db", samples=8, image_size=(400, 120))
    return folder / "data.mdb"


def newest_meta(data: bytes) -> int:
    """The meta page (0 or 1) with the higher txnid: the one liblmdb reads."""
    txnids = [struct.unpack_from("<Q", data, page * PSIZE + META_SIZE - 8)[0] for page in (0, 1)]
    return int(txnids[1] > txnids[0])


def damaged_tree(root: Path, data: bytes) -> Path:
    """``root/train/data.mdb`` holding ``data``."""
    (root / "train").mkdir(parents=True)
    (root / "train" / "data.mdb").write_bytes(data)
    return root


def test_pristine_file_is_what_the_meta_layout_says(pristine):
    """The offsets used here and in lmdb_tree agree with what liblmdb wrote."""
    data = pristine.read_bytes()
    env = lmdb.open(str(pristine.parent), readonly=True, lock=False)
    info, entries = env.info(), env.stat()["entries"]
    env.close()
    metas = [struct.unpack_from("<QxxH4xII16xI44x48xQQ", data, page * PSIZE) for page in (0, 1)]
    newest = max(metas, key=lambda m: m[-1])
    assert [m[0] for m in metas] == [0, 1] and {m[2] for m in metas} == {0xBEEFC0DE}
    assert newest[4] == PSIZE and newest[5] == info["last_pgno"] and newest[6] == info["last_txnid"]
    assert len(data) == (newest[5] + 1) * PSIZE
    assert struct.unpack_from("<Q", data, metas.index(newest) * PSIZE + MAIN_DB_ENTRIES)[0] == entries == 17


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("where", ["inside meta page 0", "inside meta page 1", "after the metas",
                                   "one byte short"])
def test_truncated_data_mdb_is_one_line_error(reader, where, pristine, tmp_path):
    data = pristine.read_bytes()
    cut = {"inside meta page 0": 100, "inside meta page 1": PSIZE + 60,
           "after the metas": 3 * PSIZE, "one byte short": len(data) - 1}[where]
    tree = damaged_tree(tmp_path / "src", data[:cut])
    fragment = "meta page" if cut < 2 * PSIZE else f"{cut} bytes, its tree reaches page"
    assert_error(dataconv(*command(reader, tree, tmp_path)), "train/data.mdb", "truncated LMDB file", fragment)
    assert not (tmp_path / "out").exists()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=1 << 20))
def test_any_truncation_is_an_error_never_a_signal(cut, pristine):
    data = pristine.read_bytes()
    with tempfile.TemporaryDirectory() as work:
        tree = damaged_tree(Path(work) / "src", data[:cut % len(data)])
        assert_error(dataconv("validate", tree, "--for", "parseq", "-q"), "truncated LMDB file")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(page=st.sampled_from([0, 1]), offset=st.integers(0, META_SIZE - 1), value=st.integers(0, 255))
def test_a_damaged_meta_page_is_refused_or_harmless(page, offset, value, pristine):
    """A changed byte in either meta page: refused with one line, or (a field liblmdb does
    not use, or the older meta) the dataset still reads; never a signal or a traceback."""
    data = bytearray(pristine.read_bytes())
    data[page * PSIZE + offset] = value
    with tempfile.TemporaryDirectory() as work:
        proc = dataconv("validate", damaged_tree(Path(work) / "src", bytes(data)), "--for", "parseq", "-q")
    if proc.returncode == 0:
        assert proc.stdout.startswith("parseq: 8 samples"), proc.stdout
    else:  # the LMDB named; an older meta made newest reads as the empty database it was
        assert_error(proc, "src/train")


@pytest.mark.parametrize("reader", READERS)
def test_a_damaged_btree_page_is_one_line_error(reader, pristine, tmp_path):
    """The main DB's root page no longer says it is a B-tree page: the page check before
    the map (LMDB keeps no checksums) names the file and the page in one line."""
    data = bytearray(pristine.read_bytes())
    root = struct.unpack_from("<Q", data, newest_meta(data) * PSIZE + MAIN_DB_ROOT)[0]
    struct.pack_into("<H", data, root * PSIZE + 10, 0)  # mp_flags
    tree = damaged_tree(tmp_path / "src", bytes(data))
    assert_error(dataconv(*command(reader, tree, tmp_path)), "train/data.mdb: damaged LMDB",
                 f"page {root} is not a")


@pytest.mark.parametrize("reader", READERS)
def test_num_samples_beyond_the_entries_is_refused_at_once(reader, tmp_path):
    tree = tmp_path / "src"
    write_lmdb(tree / "train", samples=3, num_samples=b"%d" % 10**15)
    proc = dataconv(*command(reader, tree, tmp_path), timeout=60)
    assert_error(proc, "'num-samples' is 1000000000000000, but the LMDB holds keys for at most 6 samples")


@pytest.mark.parametrize("raw, fragment", [
    (b"-1", "'num-samples' is -1"),
    (b"1_0", "invalid 'num-samples' (not a plain decimal integer: '1_0')"),
    (b" 3", "invalid 'num-samples' (not a plain decimal integer: ' 3')"),
    (b"\xd9\xa3", "invalid 'num-samples'"),  # Arabic-Indic 3
])
@pytest.mark.parametrize("reader", ["lmdb", "validate"])
def test_num_samples_is_plain_ascii_decimal(reader, raw, fragment, tmp_path):
    tree = tmp_path / "src"
    write_lmdb(tree / "train", samples=3, num_samples=raw)
    assert_error(dataconv(*command(reader, tree, tmp_path)), fragment)


def test_num_samples_bound_counts_one_key_per_sample_and_skips_own_keys(tmp_path):
    """3 pairs + num-samples + 2 dataconv- keys = 9 entries: at most 6 samples can own a
    key. A sample missing a key stays a reject (not an error) within that bound."""
    own = {b"dataconv-a": b"1", b"dataconv-b": b"2"}
    assert lmdb_tree.count(str(write_lmdb(tmp_path / "six", 3, b"6", own))) == 6
    with pytest.raises(DataconvError, match="'num-samples' is 7, but the LMDB holds keys for at most 6"):
        lmdb_tree.count(str(write_lmdb(tmp_path / "seven", 3, b"7", own)))
    tree = tmp_path / "src"
    write_lmdb(tree, samples=3, num_samples=b"4")
    proc = dataconv(*command("lmdb", tree, tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "4 input samples, 3 written, 1 rejected" in proc.stdout and "missing_label" in proc.stdout


@pytest.mark.parametrize("reader", READERS)
def test_fifo_named_data_mdb_is_refused_without_waiting(reader, tmp_path):
    tree = tmp_path / "src"
    (tree / "train").mkdir(parents=True)
    os.mkfifo(tree / "train" / "data.mdb")
    assert_error(dataconv(*command(reader, tree, tmp_path), timeout=60), "data.mdb is a FIFO")


@pytest.mark.parametrize("reader", ["lmdb", "validate"])
def test_device_named_data_mdb_is_refused(reader, tmp_path):
    tree = tmp_path / "src"
    (tree / "train").mkdir(parents=True)
    try:
        os.mknod(tree / "train" / "data.mdb", stat.S_IFCHR | 0o600, os.makedev(1, 3))  # like /dev/null
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD")
    assert_error(dataconv(*command(reader, tree, tmp_path), timeout=60), "data.mdb is a device")


@pytest.fixture
def outside(tmp_path) -> Path:
    """A valid 3-sample LMDB folder outside any SRC."""
    return write_lmdb(tmp_path / "elsewhere" / "db")


@pytest.mark.parametrize("link", ["data.mdb", "folder"])
def test_lmdb_source_refuses_a_symlink_out_of_src(link, outside, tmp_path):
    src = tmp_path / "src"
    if link == "folder":
        src.mkdir()
        (src / "train").symlink_to(outside, target_is_directory=True)
    else:
        (src / "train").mkdir(parents=True)
        (src / "train" / "data.mdb").symlink_to(outside / "data.mdb")
    proc = dataconv(*command("lmdb", src, tmp_path))
    assert_error(proc, f"{src / 'train'}", "a symlink out of the source folder", "--follow-symlinks")
    assert not (tmp_path / "out").exists()
    proc = dataconv(*command("lmdb", src, tmp_path), "--follow-symlinks")
    assert proc.returncode == 0 and "3 input samples, 3 written, 0 rejected" in proc.stdout, proc.stderr
    # a tree the user names to validate is read as the user laid it out
    proc = dataconv(*command("validate", src, tmp_path))
    assert proc.returncode == 0 and proc.stdout.startswith("clovaai: 3 samples, kept 3"), proc.stderr


def test_symlinks_inside_src_and_loops_are_read_once(tmp_path):
    """A symlinked folder pointing inside SRC is allowed; a real folder reached twice (or
    through a loop) is walked once."""
    src = tmp_path / "src"
    write_lmdb(src / "store" / "train")
    (src / "train").symlink_to(src / "store" / "train", target_is_directory=True)
    (src / "store" / "train" / "loop").symlink_to(src, target_is_directory=True)
    assert lmdb_tree.find_lmdbs(str(src), confined=True) == [str(src / "store" / "train")]
    proc = dataconv(*command("lmdb", src, tmp_path))
    assert proc.returncode == 0 and "3 input samples, 3 written, 0 rejected" in proc.stdout, proc.stderr


def test_readers_map_the_checked_file_and_leave_no_lock_file(tmp_path):
    """A read-only folder: no lock.mdb is created, and the samples read back exactly."""
    folder = write_lmdb(tmp_path / "db")
    folder.chmod(0o555)
    try:
        records = list(lmdb_tree.iter_records(str(folder)))
    finally:
        folder.chmod(0o755)
    assert [(r.index, r.label, r.image) for r in records] == [(i, f"word{i}", png(i)) for i in (1, 2, 3)]
    assert sorted(os.listdir(folder)) == ["data.mdb"]
    shutil.rmtree(folder)
