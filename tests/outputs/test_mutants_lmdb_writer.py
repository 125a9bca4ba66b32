"""Issue 26, mutation run of dataconv/outputs/lmdb_writer.py and shard_writer.py: the
survivors that meant a wrong answer (docs/DEVELOPING.md, "Issue 26 run, second part").

Real LMDB files written and read back; a write failure is a real EFBIG (``RLIMIT_FSIZE``
lowered in this process for one commit; Python ignores SIGXFSZ), not a mock."""
from __future__ import annotations

import errno
import hashlib
import os
import resource
import shutil

import lmdb
import pytest

from helpers import read_lmdb
from dataconv.outputs import lmdb_writer, mapsize
from dataconv.outputs.shard_writer import RotatingWriter


def framed_digest(path: str) -> str:
    """The shard digest as the manifest documents it, written here: sha256 over every
    entry in key order, each as an 8-byte big-endian key length, the key, an 8-byte
    big-endian value length, the value."""
    h = hashlib.sha256()
    env = lmdb.open(path, readonly=True, lock=False)
    with env.begin() as txn:
        for key, value in txn.cursor():
            h.update(len(key).to_bytes(8, "big") + key + len(value).to_bytes(8, "big") + value)
    env.close()
    return h.hexdigest()


def test_digest_is_the_framed_sha256_of_the_entries(tmp_path):
    path = str(tmp_path / "shard")
    w = lmdb_writer.ShardWriter(path)
    for i in range(12):
        w.add(f"라벨{i}", os.urandom(i * 7))
    assert w.close() == framed_digest(path)  # hashed while writing
    assert lmdb_writer.content_digest(path) == framed_digest(path)  # read back


def test_default_map_is_the_initial_map_size(tmp_path):
    w = lmdb_writer.ShardWriter(str(tmp_path / "shard"))
    try:
        assert w.map_size == mapsize.INITIAL_MAP_SIZE
        assert w.env.info()["map_size"] == mapsize.INITIAL_MAP_SIZE
    finally:
        w.abort()


def test_a_shard_may_open_on_an_existing_empty_folder(tmp_path):
    path = tmp_path / "shard"
    path.mkdir()
    with lmdb_writer.ShardWriter(str(path)) as w:
        w.add("a", b"1")
    assert read_lmdb(str(path)) == [("a", b"1")]


def test_payload_bytes_are_the_label_utf8_and_image_bytes(tmp_path):
    w = lmdb_writer.ShardWriter(str(tmp_path / "shard"))
    w.add("한", b"x" * 10)  # 3 UTF-8 bytes + 10
    w.add("", b"")
    assert (w.count, w.payload_bytes) == (2, 13)
    w.close()


@pytest.mark.parametrize("max_bytes,max_count,counts", [
    (10, None, [2, 2, 1]),  # 5 + 5 reaches the budget exactly: still one shard
    (9, None, [1, 1, 1, 1, 1]),
    (100, 2, [2, 2, 1]),  # a shard holding max_count samples is full
    (100, 3, [3, 2]),
])
def test_rotation_at_the_exact_budget(tmp_path, max_bytes, max_count, counts):
    samples = [("", bytes([i]) * 5) for i in range(5)]  # empty labels: the payload is the data
    rot = lmdb_writer.RotatingWriter(str(tmp_path), "t", max_bytes, max_count)
    placed = [rot.add(label, data) for label, data in samples]
    records = rot.close()
    assert [r.count for r in records] == counts
    assert [r.name for r in records] == [f"t-{k:03d}" for k in range(len(counts))]
    expected_places = [(f"t-{k:03d}", i + 1) for k, n in enumerate(counts) for i in range(n)]
    assert placed == expected_places
    back = [s for r in records for s in read_lmdb(str(tmp_path / r.name))]
    assert back == samples


def test_the_format_free_rotation_at_the_exact_budget(tmp_path):
    opened = []

    def open_shard(path: str) -> lmdb_writer.ShardWriter:
        opened.append(os.path.basename(path))
        return lmdb_writer.ShardWriter(path)

    rot = RotatingWriter(str(tmp_path), "p", open_shard, max_bytes=8)
    for data in (b"1234", b"5678", b"9"):
        rot.add("", data)
    assert [(r.name, r.count) for r in rot.close()] == [("p-000", 2), ("p-001", 1)]
    assert opened == ["p-000", "p-001"]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT])
def test_lmdb_messages_map_to_their_errno(tmp_path, code):
    assert lmdb_writer._errno_of(f"mdb_txn_commit: {os.strerror(code)}", str(tmp_path)) == code


def test_a_failed_commit_is_an_oserror_naming_the_shard(tmp_path):
    path = str(tmp_path / "shard")
    w = lmdb_writer.ShardWriter(path)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, hard))
    try:
        with pytest.raises(OSError) as caught:
            for i in range(3000):  # the first commit (1000 samples, ~1 MB) passes the limit
                w.add(str(i), b"\xab" * 1024)
            w.close()
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        w.abort()
    e = caught.value
    low = shutil.disk_usage(path).free < lmdb_writer.LOW_SPACE
    assert e.errno == (errno.ENOSPC if low else errno.EIO)  # LMDB reports the short write as EIO
    assert e.filename == path
    assert e.strerror.startswith(f"cannot write LMDB shard: {os.strerror(e.errno)} (")
    assert "(mdb_" in e.strerror and e.strerror.endswith(")")  # LMDB's own text kept


@pytest.mark.parametrize("label", ["ab", "가나"])  # 2 and 6 bytes of UTF-8
def test_rotation_counts_the_next_label_too(tmp_path, label):
    """The budget covers what the shard will hold: the next sample's image and its label's
    UTF-8 bytes (a shard went over --shard-bytes by its last label's length before)."""
    size = 5 + len(label.encode("utf-8"))
    rot = lmdb_writer.RotatingWriter(str(tmp_path), "t", max_bytes=2 * size - 1)
    for i in range(3):
        rot.add(label, bytes([i]) * 5)
    records = rot.close()
    assert [r.count for r in records] == [1, 1, 1]  # two samples would be one byte over
    back = [s for r in records for s in read_lmdb(str(tmp_path / r.name))]
    assert back == [(label, bytes([i]) * 5) for i in range(3)]
