"""Scale: the libdeflate PNG check gives zlib's verdicts; workers write their own shards and
the output does not depend on how the work was split."""
from __future__ import annotations

import io
import json
import os
import pickle
import random
import struct
import subprocess
import sys
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from helpers import run_cli
from dataconv.build import shards
from dataconv.build.executors import base as executors_base
from dataconv.build.executors import executors, local as local_executor, register
from dataconv.fixtures.base import encode, ink_image
from dataconv.fixtures.ocr_mix import make_ocr_mix
from dataconv.fixtures.hostile import blank_png, idat_bomb
from dataconv.validators import _fastdecode

pytest.importorskip("deflate")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_with_idat(png: bytes, idat: bytes) -> bytes:
    """``png`` with its image data replaced by ``idat`` in one chunk, CRCs valid: the
    damage reaches the inflate, not the chunk check."""
    header = png[8:33]
    return png[:8] + header + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _idat(png: bytes) -> bytes:
    return b"".join(bytes(body) for kind, body in _fastdecode._png_chunks(png) if kind == b"IDAT")


def _verdict(data: bytes) -> bool | str:
    try:
        return _fastdecode.verify(data)
    except _fastdecode.Corrupt:
        return "corrupt"


def _both_paths(data: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[bool | str, bool | str]:
    fast = _verdict(data)
    with monkeypatch.context() as m:
        m.setattr(_fastdecode, "_libdeflate", None)
        slow = _verdict(data)
    return fast, slow


@pytest.fixture(scope="module")
def line_png() -> bytes:
    rng = random.Random(3)
    return encode(ink_image(300, 40, rng), "PNG")


@settings(max_examples=150, deadline=None)
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4),
       cut=st.one_of(st.none(), st.integers(0, 10**6)), extra=st.binary(max_size=8))
def test_libdeflate_and_zlib_agree_on_damaged_image_data(line_png, edits, cut, extra):
    """Bytes of the zlib stream changed, cut or followed by more: the one-shot libdeflate
    check and the streamed zlib check reach the same verdict (corrupt, or plain/not)."""
    idat = bytearray(_idat(line_png))
    for pos, value in edits:
        idat[pos % len(idat)] = value
    if cut is not None:
        idat = idat[:cut % (len(idat) + 1)]
    data = _png_with_idat(line_png, bytes(idat) + extra)
    with pytest.MonkeyPatch.context() as mp:
        fast, slow = _both_paths(data, mp)
    assert fast == slow


@pytest.mark.parametrize("extra, message", [(1, "longer than the 4160 bytes"), (200, "longer than the 4160 bytes"),
                                            (-1, "ends early (4159 of 4160")])
def test_declared_size_bounds_both_paths(extra, message, monkeypatch):
    data = blank_png(64, 64, depth=8, inflated=64 * 65 + extra)
    with pytest.raises(_fastdecode.Corrupt, match=message.replace("(", r"\(")):
        _fastdecode.verify(data)
    monkeypatch.setattr(_fastdecode, "_libdeflate", None)
    with pytest.raises(_fastdecode.Corrupt, match=message.replace("(", r"\(")):
        _fastdecode.verify(data)


def test_inflate_bomb_behind_honest_header_is_refused_at_the_declared_size():
    """2 GiB of zeros behind a 64x64 header: libdeflate stops at 4,161 bytes."""
    with pytest.raises(_fastdecode.Corrupt, match="4160 bytes"):
        _fastdecode.verify(idat_bomb(2 << 30))


def test_images_over_the_one_shot_size_are_streamed(line_png, monkeypatch):
    """Declared image data over ONE_SHOT_MAX_BYTES goes through zlib a step at a time
    (memory one step, whatever the header declares): same verdicts."""
    monkeypatch.setattr(_fastdecode, "ONE_SHOT_MAX_BYTES", 100)
    monkeypatch.setattr(_fastdecode, "_inflate_one_shot", None)  # would raise TypeError if used
    assert _fastdecode.verify(line_png) is True
    with pytest.raises(_fastdecode.Corrupt, match="4160 bytes"):
        _fastdecode.verify(idat_bomb(1 << 20))


def test_bad_filter_byte_is_corrupt_on_both_paths(monkeypatch):
    raw = bytearray(64 * 65)
    raw[65 * 7] = 5  # row 8's filter type
    data = _png_with_idat(blank_png(64, 64, depth=8), zlib.compress(bytes(raw)))
    assert _both_paths(data, monkeypatch) == ("corrupt", "corrupt")
    rgb = io.BytesIO()
    Image.new("RGB", (30, 10), (1, 2, 3)).save(rgb, "PNG")
    assert _both_paths(rgb.getvalue(), monkeypatch) == (True, True)


# --- workers write: the same output however the work is cut ------------------------------

from test_scale import _fingerprint  # noqa: E402  (the output files and every shard's digest)


@pytest.fixture(scope="module")
def mix(tmp_path_factory) -> str:
    src = str(tmp_path_factory.mktemp("mix") / "src")
    make_ocr_mix(src, n=300, lines=10, corrupt=4, seed=5)
    return src


def _convert(src: str, out: str, *extra: str) -> dict[str, bytes | str]:
    run_cli("gt-txt", "-i", src, "-o", out, "-q", *extra)
    return _fingerprint(out)


def _shards(found: dict[str, bytes | str]) -> list[str]:
    return sorted(k for k in found if "shard-" in k)


@pytest.mark.parametrize("layout", [
    pytest.param(("--split", "none"), id="one-shard"),
    pytest.param(("--split", "none", "--shard-bytes", "60KB"), id="one-task-rotating-by-bytes"),
    pytest.param(("--shard-size", "120"), id="three-splits-several-tasks"),
    pytest.param(("--split", "none", "--shard-size", "40"), id="whole-tasks"),
])
def test_output_identical_for_any_workers_one_shard_or_many(mix, tmp_path, monkeypatch, layout):
    """Fewer tasks than workers (segments spooled, then joined by one worker per task) and
    at least as many (whole tasks per worker) write what one process writes."""
    one = _convert(mix, str(tmp_path / "w1"), *layout, "--workers", "1")
    if layout[-1] == "60KB":
        assert len(_shards(one)) >= 4  # shards cut by bytes inside one task
    for workers in ("2", "3", "8"):
        assert _convert(mix, str(tmp_path / f"w{workers}"), *layout, "--workers", workers) == one, workers
    monkeypatch.setattr(local_executor, "pool_start_method", lambda: "forkserver")
    assert _convert(mix, str(tmp_path / "forkserver"), *layout, "--workers", "2") == one
    assert json.loads(one["manifest.json"])["rejects"] == {"undecodable_image": 8}


def test_one_shard_on_dask_and_from_the_command(mix, tmp_path):
    one = _convert(mix, str(tmp_path / "w1"), "--split", "none", "--workers", "1")
    assert _shards(one) == ["train/shard-00000"]
    assert _convert(mix, str(tmp_path / "dask"), "--split", "none", "--workers", "2", "--dask", "local") == one
    subprocess.run([sys.executable, "-m", "dataconv", "gt-txt", "-i", mix, "-o", str(tmp_path / "cli"), "-q",
                    "--split", "none", "--workers", "2"], check=True, stdout=subprocess.DEVNULL)
    assert _fingerprint(str(tmp_path / "cli")) == one


class Recording:
    """Runs the work in this process, pretending to have ``workers`` workers, and records
    every work item and result as they would be pickled between processes."""

    name = "recording"
    chunk_samples = 16
    workers = 1
    sent: list[tuple[str, int]] = []  # (function, pickled size of the item)
    received: list[tuple[object, int]] = []  # (result, pickled size)

    def __init__(self, settings: executors_base.ExecutorSettings) -> None:
        pass

    def map_ordered(self, fn, items):
        for item in items:
            Recording.sent.append((fn.__name__, len(pickle.dumps(item))))
            result = pickle.loads(pickle.dumps(fn(pickle.loads(pickle.dumps(item)))))
            Recording.received.append((result, len(pickle.dumps(result))))
            yield result

    def close(self, abort: bool = False) -> None:
        pass


@pytest.fixture
def recording(monkeypatch):
    monkeypatch.setattr(executors_base, "_REGISTRY", executors())
    register(Recording)
    Recording.sent.clear()
    Recording.received.clear()
    return Recording


@pytest.mark.parametrize("workers, split, used", [
    (1, "none", {"write_task"}),  # whole tasks
    (1, "0.9,0.05,0.05", {"spool_segment", "join_task"}),  # the split needs the digests first
    (4, "none", {"spool_segment", "join_task"}),  # one task, four workers
])
def test_the_driver_receives_no_image_bytes(mix, tmp_path, monkeypatch, recording, workers, split, used):
    """Whole tasks, or the checked pass then the writers: what comes back to the driver is
    a digest and a spool offset per sample, then shard names, digests, counts and rejects -
    never the 1+ MB of images - and the output is the in-process one."""
    one = _convert(mix, str(tmp_path / "w1"), "--shard-size", "1000", "--workers", "1", "--split", split)
    monkeypatch.setattr(executors_base, "chosen_name", lambda workers, dask: "recording")
    monkeypatch.setattr(Recording, "workers", workers)
    assert _convert(mix, str(tmp_path / "rec"), "--shard-size", "1000", "--split", split) == one
    assert {name for name, _ in Recording.sent} == used
    images = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(mix) for f in fs)
    assert images > 1_000_000
    samples = json.loads(one["manifest.json"])["counts"]["input"]
    assert all(isinstance(r, (shards.ShardResult, shards.Spooled)) for r, _ in Recording.received)
    assert sum(n for _, n in Recording.received) < 10_000 + 40 * samples
    results = sum(isinstance(r, shards.ShardResult) for r, _ in Recording.received)
    assert results == (1 if split == "none" else 3)  # train (val, test)
    if "spool_segment" in used:
        spooled = [r for r, _ in Recording.received if isinstance(r, shards.Spooled)]
        assert sum(len(r.ends) for r in spooled) == samples and len(spooled) >= 4


# --- how samples travel to workers -------------------------------------------------------

from dataconv.sample import BytesImage, FileImage, Sample  # noqa: E402

TEXT = st.text(max_size=6)
SAMPLE = st.builds(Sample, id=TEXT, label=TEXT, source=TEXT, group=st.none() | TEXT,
                   image=st.one_of(st.builds(FileImage, root=st.sampled_from(["/a", "/b"]), rel=TEXT),
                                   st.builds(BytesImage, data=st.binary(max_size=8))),
                   meta=st.dictionaries(TEXT, st.integers(), max_size=2))


@settings(max_examples=200, deadline=None)
@given(samples=st.lists(st.tuples(st.integers(0, 10**9), SAMPLE), max_size=12))
def test_tasks_reach_workers_with_the_same_samples(samples):
    """A task or segment pickled as columns comes back with equal samples, whatever the
    mix of image kinds, roots, groups and meta."""
    task = shards.Segment(samples, checks=None, read_ctx=None, path="p", stage=None)  # type: ignore[arg-type]
    back = pickle.loads(pickle.dumps(task))
    assert back.samples == samples and back.path == "p"
    assert [type(s.image) for _, s in back.samples] == [type(s.image) for _, s in samples]


def test_samples_under_one_root_travel_as_names_in_buffers():
    samples = [(i, Sample(str(i), "label", FileImage("/data/src", f"words/{i}.jpg"), f"gt.txt:{i}"))
               for i in range(1000)]
    task = shards.Segment(samples, checks=None, read_ctx=None, path="p", stage=None)  # type: ignore[arg-type]
    assert task.samples.root == "/data/src" and task.samples.objects == {}
    assert len(pickle.dumps(task)) < len(pickle.dumps(samples))
    assert pickle.loads(pickle.dumps(task)).samples == samples


# --- a worker's failure is the run's one-line error ---------------------------------------

@pytest.mark.parametrize("split, shard_size, message", [
    ("none", "100000", "File too large"),  # one task: a spool fails
    ("0.9,0.05,0.05", "100000", "File too large"),  # the split's checked pass: a spool fails
    ("none", "40", "cannot write LMDB shard"),  # whole tasks (8 of about 40 samples)
])
def test_a_write_failing_in_a_worker_is_one_line_and_leaves_nothing(mix, tmp_path, split, shard_size, message):
    """The kernel refuses to grow any file past 64 KB (RLIMIT_FSIZE, inherited by the
    forked workers): the spool or LMDB write fails in a worker; the run ends with one
    ``error:`` line, exit 1, and no output or temporary folder."""
    import resource

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "dataconv", "gt-txt", "-i", mix, "-o", str(out), "-q",
                           "--workers", "2", "--split", split, "--shard-size", shard_size],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=small_files, timeout=120)
    err = proc.stderr.decode().strip()
    assert proc.returncode == 1, err
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err, err
    assert message in err
    assert os.listdir(tmp_path) == []
