"""What dataconv may write over (dataconv/outputs/atomic.py): --overwrite replaces only a previous
dataconv output; anything else at OUT (a foreign folder, a file, a device, a FIFO, a socket,
a symlink) is refused with exit 2 and left untouched; OUT never overlaps an input of the
run; two runs into one OUT never silently replace each other; single-file outputs
(charset, report, export) and train's run folder follow the same rules."""
from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest

from helpers import load_json, run_cli
from dataconv.cli.main import cli
from dataconv.cli.options import input_paths
from dataconv.outputs.atomic import TMP_MARK
from hostile_util import accounted, convert, gt_source, long_source, png

SPECIAL = ["folder", "file", "device", "fifo", "socket", "symlink"]


def small_source(root: Path, n: int = 3) -> str:
    images = {f"{i}.png": png(i) for i in range(n)}
    return gt_source(str(root), "".join(f"{k}\tl{k[0]}\n" for k in images).encode(), images)


def make_special(path: Path, kind: str) -> socket.socket | None:
    """Put a ``kind`` at ``path``; returns the bound socket to keep it open."""
    if kind == "folder":
        path.mkdir()
        (path / "keep.txt").write_text("mine")
    elif kind == "file":
        path.write_text("mine")
    elif kind == "device":
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # what /dev/null is
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        return sock
    elif kind == "symlink":
        (path.parent / "elsewhere").mkdir()
        path.symlink_to(path.parent / "elsewhere", target_is_directory=True)
    return None


def assert_untouched(path: Path, kind: str) -> None:
    mode = os.lstat(path).st_mode
    if kind == "folder":
        assert sorted(os.listdir(path)) == ["keep.txt"] and (path / "keep.txt").read_text() == "mine"
    elif kind == "file":
        assert stat.S_ISREG(mode) and path.read_text() == "mine"
    elif kind == "device":
        assert stat.S_ISCHR(mode) and os.lstat(path).st_rdev == os.makedev(1, 3)
    elif kind == "fifo":
        assert stat.S_ISFIFO(mode)
    elif kind == "socket":
        assert stat.S_ISSOCK(mode)
    elif kind == "symlink":
        assert stat.S_ISLNK(mode) and os.listdir(path.parent / "elsewhere") == []


def no_temporaries(folder: Path) -> list[str]:
    return [p for p in os.listdir(folder) if TMP_MARK in p]


# --- the conversion's OUT ------------------------------------------------------------------

@pytest.mark.parametrize("overwrite", [True, False])
@pytest.mark.parametrize("kind", SPECIAL)
def test_out_that_is_not_a_dataconv_output_is_refused_and_left_untouched(tmp_path, kind, overwrite):
    src = small_source(tmp_path / "src")
    out = tmp_path / "out"
    keep = make_special(out, kind)
    result = convert("gt-txt", src, str(out), *(["--overwrite"] if overwrite else []), expect=2)
    assert "is not a dataconv output" in result.output and "left untouched" in result.output
    assert_untouched(out, kind)
    assert no_temporaries(tmp_path) == []
    if keep:
        keep.close()


@pytest.mark.parametrize("manifest", [
    b"", b"{not json", b"[]", b'{"counts": {"input": 1, "written": 1, "rejected": 0}}',
    b'{"dataconv_version": "0.1.0"}', b'{"dataconv_version": "0.1.0", "counts": {"input": "1"}}',
    b'{"dataconv_version": 1, "counts": {"input": 1, "written": 1, "rejected": 0}}',
    "fifo", "symlink", "folder",
])
def test_a_folder_whose_manifest_is_not_dataconvs_is_refused(tmp_path, manifest):
    """A manifest.json that does not parse or lacks dataconv's fields, or is not a regular
    file (a FIFO is never waited on), does not make a folder replaceable."""
    src = small_source(tmp_path / "src")
    out = tmp_path / "out"
    out.mkdir()
    target = out / "manifest.json"
    if manifest == "fifo":
        os.mkfifo(target)
    elif manifest == "symlink":
        real = tmp_path / "real.json"
        shutil.copy(_a_dataset(tmp_path / "other") + "/manifest.json", real)
        target.symlink_to(real)
    elif manifest == "folder":
        target.mkdir()
    else:
        target.write_bytes(manifest)
    before = sorted(os.listdir(out))
    result = convert("gt-txt", src, str(out), "--overwrite", expect=2)
    assert "not a dataconv output" in result.output
    assert sorted(os.listdir(out)) == before


def _a_dataset(path: Path, n: int = 3) -> str:
    src = small_source(path.with_name(path.name + "_src"), n)
    convert("gt-txt", src, str(path))
    return str(path)


def test_overwrite_replaces_a_previous_dataconv_output(tmp_path):
    out = _a_dataset(tmp_path / "out", n=2)
    (Path(out) / "extra.txt").write_text("left by a user")
    src = small_source(tmp_path / "src", n=4)
    convert("gt-txt", src, out, "--overwrite")
    assert accounted(out)["counts"]["written"] == 4
    assert not os.path.exists(os.path.join(out, "extra.txt"))
    assert no_temporaries(tmp_path) == []


def test_out_is_never_an_input_nor_inside_nor_around_one(tmp_path):
    """-i, --gt (a click.Path of one format), --charset (a text option naming a file) and
    --also (a repeatable folder option): each is found from the command's parameters."""
    out = _a_dataset(tmp_path / "out")
    before = load_json(os.path.join(out, "manifest.json"))
    src = small_source(tmp_path / "src")
    shutil.copy(os.path.join(src, "gt.txt"), os.path.join(out, "gt.txt"))
    cases = [
        (["gt-txt", "-i", src, "--gt", os.path.join(out, "gt.txt"), "-o", out], "contains the source"),
        (["gt-txt", "-i", src, "--charset", os.path.join(out, "charset.txt"), "-o", out], "contains the source"),
        (["gt-txt", "-i", src, "-o", os.path.join(src, "inside")], "lies inside the source"),
        (["gt-txt", "-i", src, "-o", str(tmp_path)], "contains the source"),
        (["lmdb", "-i", _a_dataset(tmp_path / "a"), "--also", out, "-o", out], "contains the source"),
    ]
    for args, message in cases:
        result = run_cli(*args, "--overwrite", "-q", "--workers", "1", expect=2)
        assert message in result.output, (args, result.output)
    assert load_json(os.path.join(out, "manifest.json")) == before
    assert os.path.exists(os.path.join(out, "gt.txt")) and not os.path.exists(os.path.join(src, "inside"))


def test_every_path_parameter_of_every_conversion_is_an_input():
    """The discovery is generic: every click.Path parameter of every conversion command
    (and of the other commands) is reported, whatever its name."""
    checked = 0
    for name, command in cli.commands.items():
        ctx = click.Context(command, info_name=name)
        paths = [p for p in command.params if isinstance(p.type, click.Path)]
        ctx.params = {p.name: (f"/nowhere/{p.name}",) if p.multiple or p.nargs != 1 else f"/nowhere/{p.name}"
                      for p in command.params}
        found = {path for _, path in input_paths(ctx, exclude={"out"})}
        for p in paths:
            if p.name != "out":
                assert f"/nowhere/{p.name}" in found, (name, p.name)
                checked += 1
    assert checked >= 15


def _start_conversion(src: str, out: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dataconv", "gt-txt", "-i", src, "-o", out, "-q",
                             "--workers", "1", "--shard-size", "50"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(proc: subprocess.Popen, pattern: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not glob.glob(pattern):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, f"{pattern} never appeared"
        time.sleep(0.005)


def _big_source(root: Path, n: int = 3000) -> str:
    return long_source(str(root), n)


def test_a_second_run_into_the_same_out_is_refused_while_the_first_runs(tmp_path):
    src = _big_source(tmp_path / "src")
    out = str(tmp_path / "out")
    first = _start_conversion(src, out)
    try:
        _wait_for(first, os.path.join(str(tmp_path), f".out{TMP_MARK}*", "*", "*", "data.mdb"))
        for extra in ([], ["--overwrite"]):
            result = convert("gt-txt", src, out, *extra, expect=2)
            assert f"another dataconv run (pid {first.pid}) is writing" in result.output
        assert first.wait(120) == 0, first.stderr.read().decode()
    finally:
        if first.poll() is None:
            first.kill()
    assert accounted(out)["counts"]["written"] == 3000
    assert sorted(os.listdir(tmp_path)) == ["out", "src"]


def test_an_out_that_appears_during_the_run_is_not_replaced(tmp_path):
    """Another program writes OUT meanwhile: the run checks at its final rename that OUT is
    still what it saw at the start, discards its result and exits 1."""
    src = _big_source(tmp_path / "src")
    out = tmp_path / "out"
    proc = _start_conversion(src, str(out))
    try:
        _wait_for(proc, os.path.join(str(tmp_path), f".out{TMP_MARK}*", "*", "*", "data.mdb"))
        out.mkdir()
        (out / "keep.txt").write_text("mine")
        assert proc.wait(120) == 1
        err = proc.stderr.read().decode().strip()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert err.startswith("error:") and "changed while this run was writing it" in err and "\n" not in err
    assert os.listdir(out) == ["keep.txt"] and (out / "keep.txt").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["out", "src"]


# --- single-file outputs and the run folder ------------------------------------------------

@pytest.mark.parametrize("kind", [k for k in SPECIAL if k != "file"])
def test_charset_report_export_refuse_a_target_that_is_not_a_regular_file(tmp_path, kind):
    data = _a_dataset(tmp_path / "data")
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"not read: the target is refused first")
    commands = [("charset", data, "--style", "paddle"), ("report", data), ("export", str(ckpt))]
    for i, command in enumerate(commands):
        target = tmp_path / f"target{i}"
        keep = make_special(target, kind) if kind != "symlink" else None
        if kind == "symlink":
            target.symlink_to(tmp_path / "data" / "charset.txt")
        result = run_cli(*command, "-o", target, expect=2)
        # a folder is already refused by click.Path(dir_okay=False), with click's message
        assert ("is a directory" if kind == "folder" else "left untouched") in result.output, result.output
        if kind == "symlink":
            assert target.is_symlink() and (tmp_path / "data" / "charset.txt").read_text() == "0\n1\n2\nl\n"
        else:
            assert_untouched(target, kind)
        if keep:
            keep.close()
    assert no_temporaries(tmp_path) == []


def test_charset_replaces_a_regular_file_atomically_and_never_a_dataset_file(tmp_path):
    data = _a_dataset(tmp_path / "data")
    target = tmp_path / "dict.txt"
    target.write_text("old")
    run_cli("charset", data, "-o", target, "--style", "paddle")
    assert target.read_text() == "0\n1\n2\nl\n"
    run_cli("charset", data, "-o", os.path.join(data, "dict.txt"), "--style", "paddle")  # beside it: fine
    assert Path(data, "dict.txt").read_text() == "0\n1\n2\nl\n"
    before = Path(data, "charset.txt").read_bytes()
    for inside in ("charset.txt", "manifest.json", "train/x.txt"):
        result = run_cli("charset", data, "-o", os.path.join(data, inside), "--style", "paddle", expect=2)
        assert "lies inside the input" in result.output
    assert Path(data, "charset.txt").read_bytes() == before
    assert no_temporaries(tmp_path) == [] and no_temporaries(Path(data)) == []


def test_report_never_writes_over_its_own_inputs(tmp_path):
    data = _a_dataset(tmp_path / "data")
    charset = tmp_path / "dict.txt"
    charset.write_text("l\n")
    result = run_cli("report", data, "--charset", charset, "-o", charset, expect=2)
    assert "is the input" in result.output and charset.read_text() == "l\n"
    manifest = json.loads(Path(data, "manifest.json").read_text())
    run_cli("report", data, "-o", os.path.join(data, "manifest.json"), expect=2)
    assert json.loads(Path(data, "manifest.json").read_text()) == manifest


@pytest.mark.parametrize("kind", ["file", "device", "fifo", "symlink"])
def test_train_out_must_be_a_real_folder_outside_the_data(tmp_path, kind):
    data = _a_dataset(tmp_path / "data")
    run = tmp_path / "run"
    make_special(run, kind)
    result = run_cli("train", data, "--out", run, expect=2)
    # a file is already refused by click.Path(file_okay=False), with click's message
    assert ("is a file" if kind == "file" else "not a folder") in result.output
    assert_untouched(run, kind)
    result = run_cli("train", data, "--out", os.path.join(data, "run"), expect=2)
    assert "lies inside the source" in result.output and not os.path.exists(os.path.join(data, "run"))
