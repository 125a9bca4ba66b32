"""Failures after shards exist leave the previous OUT exactly as it was and no temporary
folder. Each failure is real, without ``mount`` or mocks:

- mid-write: the run's process gets ``RLIMIT_FSIZE`` (set in the child by ``preexec_fn``),
  so the kernel refuses the LMDB write that grows a file past it (EFBIG; Python ignores
  SIGXFSZ);
- at finalize: once the run's temporary folder holds a shard, a folder is made at the
  path of its ``manifest.json``, so writing the manifest fails;
- at the final rename: a non-empty folder at the name the old OUT is moved aside to makes
  that rename fail; and the rollback itself (``atomic._replace``) is run on real folders
  whose second rename fails, so the old OUT must come back;
- SIGINT once a shard is on disk.
"""
from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataconv.outputs import atomic
from dataconv.outputs.atomic import TMP_MARK
from hostile_util import convert, gt_source, png

N = 4000


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> str:
    """N distinct small PNGs (about 1.3 MB in all) in a gt-txt folder."""
    images = {f"img/{i:05d}.png": png(i % 97, width=48 + i % 50, height=16) for i in range(N)}
    root = tmp_path_factory.mktemp("failures") / "src"
    return gt_source(str(root), "".join(f"{k}\tw{i}\n" for i, k in enumerate(images)).encode(), images)


def previous_out(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A finished dataconv output at OUT and the sha256 of every file in it."""
    small = gt_source(str(tmp_path / "small"), b"a.png\told\n", {"a.png": png(1)})
    out = tmp_path / "out"
    convert("gt-txt", small, str(out))
    return out, snapshot(out)


def snapshot(folder: Path) -> dict[str, str]:
    found = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return found


def temporaries(out: Path) -> list[str]:
    return [p for p in os.listdir(out.parent) if p.startswith(f".{out.name}{TMP_MARK}")]


def start(src: str, out: Path, preexec=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dataconv", "gt-txt", "-i", src, "-o", str(out), "-q",
                             "--workers", "1", "--overwrite"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, preexec_fn=preexec)


def wait_for_shard(proc: subprocess.Popen, out: Path, timeout: float = 120) -> Path:
    """The run's temporary folder, once a data.mdb with data in it is there."""
    tmp = out.parent / f".{out.name}{TMP_MARK}{proc.pid}"
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"the run ended first: {proc.stderr.read().decode()}"
        assert time.monotonic() < deadline, "no shard appeared"
        mdbs = list(tmp.glob("**/data.mdb")) if tmp.is_dir() else []
        if any(p.stat().st_size > 0 for p in mdbs):
            return tmp
        time.sleep(0.01)


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    try:
        code = proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return code, proc.stderr.read().decode().strip()


def assert_untouched(out: Path, before: dict[str, str]) -> None:
    assert snapshot(out) == before
    assert temporaries(out) == []


def test_mid_write_file_size_limit(tmp_path, source) -> None:
    out, before = previous_out(tmp_path)
    limit = 256 * 1024  # the shard outgrows it after a few hundred samples

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    code, err = finish(start(source, out, small_files))
    assert code == 1, err
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err, err
    assert_untouched(out, before)


def test_at_finalize_manifest_cannot_be_written(tmp_path, source) -> None:
    out, before = previous_out(tmp_path)
    proc = start(source, out)
    tmp = wait_for_shard(proc, out)
    os.makedirs(tmp / "manifest.json" / "in-the-way")
    code, err = finish(proc)
    assert code == 1, err
    assert err.startswith("error:") and "\n" not in err and "manifest.json" in err, err
    assert_untouched(out, before)


def test_at_the_final_rename(tmp_path, source) -> None:
    """The old OUT cannot be moved aside (a non-empty folder holds the name): the run fails
    in one line, OUT is the old one, and the run's temporary folder is gone."""
    out, before = previous_out(tmp_path)
    proc = start(source, out)
    aside = out.parent / f".{out.name}{TMP_MARK}old-{proc.pid}"
    os.makedirs(aside / "someone")
    wait_for_shard(proc, out)
    code, err = finish(proc)
    assert code == 1, err
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err, err
    assert snapshot(out) == before
    assert temporaries(out) == [aside.name]  # the folder the test made, left alone


def test_rollback_restores_the_old_out_when_the_second_rename_fails(tmp_path) -> None:
    """``_replace`` moves OUT aside, then renames the new folder in; when that fails (here:
    the new folder is gone, ENOENT) OUT is moved back before the error goes up."""
    out, before = previous_out(tmp_path)
    trash = tmp_path / f".out{TMP_MARK}old-1"
    with pytest.raises(FileNotFoundError):
        atomic._replace(str(tmp_path / "vanished"), str(out), str(trash))
    assert snapshot(out) == before and not trash.exists()


def test_sigint_after_shards_exist(tmp_path, source) -> None:
    out, before = previous_out(tmp_path)
    proc = start(source, out)
    wait_for_shard(proc, out)
    os.kill(proc.pid, signal.SIGINT)
    code, err = finish(proc)
    assert code == 130 and err == "error: interrupted by SIGINT", (code, err)
    assert_untouched(out, before)
