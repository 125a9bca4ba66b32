"""Hostile output conditions: OUT exists or holds the source, read-only or full file
systems, kill -9 mid-run, LMDB map growth, deterministic output. OUT is either complete
or absent; a failed --overwrite leaves the old OUT as it was."""
from __future__ import annotations

import contextlib
import filecmp
import glob
import os
import signal
import subprocess
import sys
import time
from typing import Iterator

import pandas as pd
import pytest

from helpers import load_json
from dataconv.outputs import mapsize
from dataconv.fixtures.hostile import make_hostile_images
from dataconv.outputs.atomic import TMP_MARK
from hostile_util import (accounted, aihub_document, aihub_source, assert_one_line_error, convert,
                          gt_source, long_source, png, written_labels)


def small_source(root: str, n: int = 3, size: int = 24) -> str:
    images = {f"{i}.png": png(i, width=size, height=size) for i in range(n)}
    return gt_source(root, "".join(f"{k}\tl{k}\n" for k in images).encode(), images)


@contextlib.contextmanager
def mounted(path: str, options: str) -> Iterator[str]:
    """A tmpfs at ``path`` (skips the test where mounting is not allowed)."""
    os.makedirs(path, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", path],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", path], check=False)


def test_existing_out_file_and_source_inside_out_are_refused(tmp_path):
    src = small_source(str(tmp_path / "src"))
    (tmp_path / "file").write_text("mine")
    result = convert("gt-txt", src, str(tmp_path / "file"), expect=2)
    assert "--overwrite" in result.output and (tmp_path / "file").read_text() == "mine"
    for out in (src, str(tmp_path)):
        result = convert("gt-txt", src, out, "--overwrite", expect=2)
        assert "contains the source" in result.output
    assert os.path.exists(os.path.join(src, "gt.txt"))


def test_parent_of_out_is_a_file(tmp_path):
    src = small_source(str(tmp_path / "src"))
    (tmp_path / "plain").write_text("x")
    result = convert("gt-txt", src, str(tmp_path / "plain" / "out"), expect=1)
    assert_one_line_error(result, "plain", "is a file")


def test_failed_overwrite_keeps_the_old_out(tmp_path):
    document = aihub_document([("1", "1", "하나")])
    src = aihub_source(str(tmp_path / "src"), document, {"1.png": png()})
    out = str(tmp_path / "out")
    convert("aihub", src, out)
    before = load_json(os.path.join(out, "manifest.json"))
    with open(os.path.join(src, "handwriting_data_info1.json"), "ab") as f:
        f.write(b"}")
    assert_one_line_error(convert("aihub", src, out, "--overwrite", expect=1), "invalid JSON")
    assert load_json(os.path.join(out, "manifest.json")) == before
    assert sorted(os.listdir(tmp_path)) == ["out", "src"]


def test_read_only_file_system(tmp_path):
    src = small_source(str(tmp_path / "src"))
    with mounted(str(tmp_path / "ro"), "ro,size=1m") as ro:
        result = convert("gt-txt", src, os.path.join(ro, "out"), expect=1)
        assert_one_line_error(result, "Read-only file system")
        assert os.listdir(ro) == []


def test_full_file_system(tmp_path):
    src = small_source(str(tmp_path / "src"), n=12, size=400)  # ~1.5 MB of noise-free PNGs
    for name in os.listdir(src):
        if name.endswith(".png"):
            with open(os.path.join(src, name), "ab") as f:
                f.write(os.urandom(200_000))  # trailing bytes after IEND still decode
    with mounted(str(tmp_path / "full"), "size=1m") as full:
        result = convert("gt-txt", src, os.path.join(full, "out"), expect=1)
        assert_one_line_error(result, "No space left on device")
        assert os.listdir(full) == []


def _start(src: str, out: str) -> subprocess.Popen:
    code = "import sys; from dataconv.cli.main import main; sys.argv[0] = 'dataconv'; main()"
    args = ["gt-txt", "-i", src, "-o", out, "-q", "--workers", "1", "--shard-size", "50"]
    return subprocess.Popen([sys.executable, "-c", code, *args], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for_shard(proc: subprocess.Popen, pattern: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not glob.glob(pattern):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "no shard appeared"
        time.sleep(0.005)


def test_kill_9_leaves_no_out_and_a_rerun_cleans_up(tmp_path):
    n = 4000
    src = long_source(str(tmp_path / "src"), n)
    out = str(tmp_path / "out")
    proc = _start(src, out)
    _wait_for_shard(proc, os.path.join(str(tmp_path), f".out{TMP_MARK}*", "*", "*", "data.mdb"))
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    leftovers = [p for p in os.listdir(tmp_path) if p.startswith(".out")]
    assert not os.path.exists(out) and leftovers == [f".out{TMP_MARK}{proc.pid}"]
    convert("gt-txt", src, out)
    assert accounted(out)["counts"]["written"] == n
    assert sorted(os.listdir(tmp_path)) == ["out", "src"]


def test_stale_replaced_out_of_a_dead_run_is_removed(tmp_path):
    src = small_source(str(tmp_path / "src"))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    for name in (f".out{TMP_MARK}{dead}", f".out{TMP_MARK}old-{dead}"):
        os.makedirs(tmp_path / name / "train")
    live = tmp_path / f".out{TMP_MARK}{os.getppid()}"
    live.mkdir()
    convert("gt-txt", src, str(tmp_path / "out"))
    assert sorted(os.listdir(tmp_path)) == [live.name, "out", "src"]


def test_map_grows_from_a_tiny_initial_map(tmp_path, monkeypatch):
    monkeypatch.setattr(mapsize, "INITIAL_MAP_SIZE", 64 * 1024)
    sizes: list[int] = []
    grown = mapsize.grown
    monkeypatch.setattr(mapsize, "grown", lambda *a: sizes.append(grown(*a)) or sizes[-1])
    images = {f"{i}.png": png(i, width=300, height=200) + os.urandom(100_000) for i in range(25)}
    src = gt_source(str(tmp_path / "src"), "".join(f"{k}\t{k}\n" for k in images).encode(), images)
    out = str(tmp_path / "out")
    convert("gt-txt", src, out)
    assert accounted(out)["counts"]["written"] == 25
    assert sorted(written_labels(out)) == sorted(images)
    assert sizes, "the map never grew: INITIAL_MAP_SIZE was not read at run time"


def test_same_hostile_input_gives_identical_output(tmp_path):
    src = str(tmp_path / "src")
    make_hostile_images(src, seed=5)
    outs = [str(tmp_path / name) for name in ("a", "b")]
    for out in outs:
        convert("gt-txt", src, out, "--split", "0.5,0.25,0.25")
    for name in ("manifest.json", "rejects.jsonl", "charset.txt"):
        assert filecmp.cmp(os.path.join(outs[0], name), os.path.join(outs[1], name), shallow=False)
    frames = [pd.read_parquet(os.path.join(out, "samples.parquet")) for out in outs]
    pd.testing.assert_frame_equal(frames[0], frames[1])


@pytest.mark.parametrize("kind", ["file", "symlink"])
def test_overwrite_refuses_a_file_or_symlink_out_and_leaves_it(tmp_path, kind):
    """--overwrite replaces only a previous dataconv output (tests/outputs/test_trust_output.py)."""
    src = small_source(str(tmp_path / "src"))
    target = tmp_path / "elsewhere"
    target.mkdir()
    out = tmp_path / "out"
    if kind == "file":
        out.write_text("old")
    else:
        out.symlink_to(target, target_is_directory=True)
    result = convert("gt-txt", src, str(out), "--overwrite", expect=2)
    what = {"file": "a regular file", "symlink": "a symlink"}[kind]
    assert f"({what})" in result.output and "not a dataconv output" in result.output
    assert out.is_symlink() if kind == "symlink" else out.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["elsewhere", "out", "src"]
    assert os.listdir(target) == []
