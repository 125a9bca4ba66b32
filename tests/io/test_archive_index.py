"""The shared member index of an archive (dataconv/io/archive_index.py) lists what zipfile and
tarfile list, under the rules a folder has, reads every member back exactly, and is mapped,
not rebuilt, by the other processes of a run."""
from __future__ import annotations

import io
import json
import os
import posixpath
import stat
import subprocess
import sys
import tarfile
import zipfile

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from dataconv.errors import SampleRejected
from dataconv.io import archive_index
from dataconv.io.archive import Archive
from dataconv.io.safeopen import rel_parts

NAMES = st.sampled_from(["a.png", "b/c.png", "b/", "b", "../up.png", "/abs.png", "d/../e.png", "가.png",
                         "./f.png", "g\\h.png", "sp ace.png", "b/c.png/"])
KINDS = st.sampled_from(["file", "file", "file", "dir", "symlink-in", "symlink-out", "fifo"])


def reference(entries: list[tuple[str, str]], zip_names: bool) -> tuple[dict[str, bytes], dict[str, str]]:
    """The listing rules written out plainly, entry by entry in archive order: a name that
    leaves the archive is path_outside_source; a directory is not_a_file unless a file of
    that name came first; a symlink out of the archive is path_outside_source, one inside
    and other non-files not_a_file; a file named twice (or after a refused entry of its
    name) ambiguous_image. A zip's Windows separators are read as /."""
    files: dict[str, bytes] = {}
    refused: dict[str, str] = {}
    for n, (name, kind) in enumerate(entries):
        name = name.replace("\\", "/") if zip_names else name
        try:
            rel = "/".join(rel_parts(name))
        except SampleRejected:
            refused[name] = "path_outside_source"
            continue
        if not rel:
            continue
        if kind == "dir" or name.endswith("/"):
            if rel not in files:
                refused.setdefault(rel, "not_a_file")
        elif kind == "symlink-out":
            files.pop(rel, None)
            refused[rel] = "path_outside_source"
        elif kind != "file":
            files.pop(rel, None)
            refused[rel] = "not_a_file"
        elif rel in files or rel in refused:
            files.pop(rel, None)
            refused[rel] = "ambiguous_image"
        else:
            files[rel] = f"content {n}".encode()
    return files, refused


def write_zip(path: str, entries: list[tuple[str, str]]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for n, (name, kind) in enumerate(entries):
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = {"dir": stat.S_IFDIR, "symlink-in": stat.S_IFLNK, "symlink-out": stat.S_IFLNK,
                    "fifo": stat.S_IFIFO}.get(kind, stat.S_IFREG)
            info.external_attr = (mode | 0o644) << 16
            body = {"symlink-in": b"x.png", "symlink-out": b"../../x.png"}.get(kind, f"content {n}".encode())
            z.writestr(info, b"" if kind == "dir" else body)


def write_tar(path: str, entries: list[tuple[str, str]]) -> None:
    with tarfile.open(path, "w:gz" if path.endswith(".gz") else "w") as t:
        for n, (name, kind) in enumerate(entries):
            info = tarfile.TarInfo(name)
            body = f"content {n}".encode()
            info.type = {"dir": tarfile.DIRTYPE, "symlink-in": tarfile.SYMTYPE, "symlink-out": tarfile.SYMTYPE,
                         "fifo": tarfile.FIFOTYPE}.get(kind, tarfile.REGTYPE)
            info.linkname = {"symlink-in": "x.png", "symlink-out": "../../x.png"}.get(kind, "")
            info.size = len(body) if info.type == tarfile.REGTYPE else 0
            t.addfile(info, io.BytesIO(body) if info.type == tarfile.REGTYPE else None)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(st.tuples(NAMES, KINDS), min_size=1, max_size=12),
       suffix=st.sampled_from([".zip", ".tar", ".tar.gz"]))
def test_the_index_lists_and_reads_what_the_rules_say(entries, suffix, tmp_path_factory):
    if suffix != ".zip":  # tar keeps a directory's trailing slash out of its names
        entries = [(name.rstrip("/") or name, "dir" if name.endswith("/") else kind) for name, kind in entries]
        entries = [(n, k) for n, k in entries if n != "/"]
    path = str(tmp_path_factory.mktemp("index") / f"a{suffix}")
    (write_zip if suffix == ".zip" else write_tar)(path, entries)
    files, refused = reference(entries, suffix == ".zip")
    archive = Archive(path)
    members = archive.index()
    assert archive.files() == sorted(files)
    assert {rel: e.reason for rel, e in members.refused.items()} == refused
    for rel, body in files.items():
        assert archive.read(rel, 1 << 20) == body


def test_a_zip64_archive_of_65536_members(tmp_path):
    """Over 65,535 members a zip ends in Zip64 records; every member is listed and a few read."""
    path = str(tmp_path / "many.zip")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for i in range(65_536):
            z.writestr(f"{i // 1000:03d}/{i:05d}.png", str(i).encode())
    with open(path, "rb") as f:
        f.seek(-200, os.SEEK_END)
        assert b"PK\x06\x06" in f.read()  # the Zip64 end record is there
    archive = Archive(path)
    assert len(archive.index()) == 65_536
    assert archive.files()[:2] == ["000/00000.png", "000/00001.png"]
    for i in (0, 65_535, 40_000):
        assert archive.read(f"{i // 1000:03d}/{i:05d}.png", 1 << 20) == str(i).encode()


def test_data_before_the_zip_is_allowed_as_zipfile_allows_it(tmp_path):
    """A self-extracting zip: bytes in front, every offset shifted by them."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("x.png", b"hello")
    path = tmp_path / "sfx.zip"
    path.write_bytes(b"#!stub\n" * 100 + inner.getvalue())
    assert Archive(str(path)).read("x.png", 100) == b"hello"


CHILD = r"""
import json, os, sys
from dataconv.io import archive_index
from dataconv.io.archive import Archive
path = sys.argv[1]
before = os.path.exists(archive_index.index_path(path, None))
archive = Archive(path)
body = archive.read("a/1.png", 100)
print(json.dumps({"found": before, "mapped": archive.index().records.filename, "body": body.decode()}))
"""


def test_another_process_of_the_run_maps_the_index_the_first_one_wrote(tmp_path):
    path = str(tmp_path / "a.zip")
    with zipfile.ZipFile(path, "w") as z:
        for i in range(5):
            z.writestr(f"a/{i}.png", f"body {i}".encode())
    Archive(path).index()  # this process lists it first, as the driver does
    written = archive_index.index_path(path, None)
    assert os.path.isfile(written)
    done = subprocess.run([sys.executable, "-c", CHILD, path], capture_output=True, text=True, check=True,
                          env=dict(os.environ))  # a spawned worker: it inherits the run's token
    child = json.loads(done.stdout)
    assert child == {"found": True, "mapped": written, "body": "body 1"}
    other = dict(os.environ, **{archive_index.RUN_TOKEN: "another-run"})
    done = subprocess.run([sys.executable, "-c", CHILD, path], capture_output=True, text=True, check=True, env=other)
    assert json.loads(done.stdout)["found"] is False  # no other run's index is ever read


def test_a_changed_archive_is_listed_again(tmp_path):
    path = tmp_path / "a.zip"
    for body in (b"one", b"second"):
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("x.png", body)
        os.utime(path, ns=(1, len(body)))  # a new modification time, as any rewrite gets
        assert Archive(str(path)).read("x.png", 100) == body


def test_symlink_targets_are_resolved_like_paths():
    assert archive_index._leaves("a/b.png", "../c.png") is False
    assert archive_index._leaves("a/b.png", "../../c.png") is True
    assert posixpath.join("a", "/abs") == "/abs" and archive_index._leaves("a/b.png", "/abs") is True


def test_an_unwritable_temporary_folder_keeps_the_index_in_this_process(tmp_path, monkeypatch):
    """No room or no right in the temporary folder (here a path under a regular file, which
    no one can create anything in): the archive is still read, with this process's own index."""
    import tempfile

    path = str(tmp_path / "a.zip")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.png", b"hello")
    (tmp_path / "file").write_bytes(b"")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "file" / "tmp"))
    archive = Archive(path)
    assert archive.read("x.png", 100) == b"hello"
    assert not isinstance(archive.index().records, np.memmap)  # kept in this process's memory
