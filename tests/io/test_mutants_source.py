"""Mutation run of dataconv/io/source.py: URL prefixes read as folders (fsspec's
``memory://``: each root its own reader), storage options never in a root's ``repr``, the
confined defaults of ``read``/``open``/``open_member``, ``exists`` of a refused path, and
which part of a several-part source a file is read from or named by."""
from __future__ import annotations

import os
import zipfile

import pytest

from dataconv.errors import DataconvError, SampleRejected
from dataconv.io.source import SourceRoot

pytest.importorskip("fsspec")
from helpers import memory_root  # noqa: E402


def test_each_url_prefix_is_read_as_its_own_folder():
    first = SourceRoot.of(memory_root({"a.txt": b"first", "d/b.txt": b"b"}))
    second = SourceRoot.of(memory_root({"a.txt": b"second", "c.txt": b"c"}))
    for root, files, body in ((first, ["a.txt", "d/b.txt"], b"first"), (second, ["a.txt", "c.txt"], b"second"),
                              (first, ["a.txt", "d/b.txt"], b"first")):
        assert root.reader is root.remote is not None and root.archive is None
        assert root.is_dir() and not root.is_folder
        assert list(root.files()) == files
        assert root.exists("a.txt") and not root.exists("nothing.txt")
        with root.open("a.txt") as f:
            assert f.read() == body


def test_storage_options_are_never_in_a_roots_repr():
    root = SourceRoot("memory://b/src", None, (), '{"secret": "SECRET-7f3a"}')
    assert "SECRET" not in repr(root) and "SECRET" not in str(root)


@pytest.fixture
def linked(tmp_path):
    """A folder whose ``out.txt`` is a symlink to a file outside it."""
    (tmp_path / "secret.txt").write_bytes(b"secret")
    src = tmp_path / "src"
    src.mkdir()
    os.symlink(tmp_path / "secret.txt", src / "out.txt")
    (src / "in.txt").write_bytes(b"in")
    return str(src)


def test_reads_are_confined_unless_asked(linked):
    root = SourceRoot.of(linked)
    for read in (lambda: root.read("out.txt"), lambda: root.open("out.txt")):
        with pytest.raises(SampleRejected) as e:
            read()
        assert e.value.reason == "path_outside_source"
    with pytest.raises(DataconvError, match="path_outside_source"):
        root.open_member("out.txt", 1 << 20)
    assert root.read("out.txt", follow_symlinks=True) == b"secret"
    assert root.read("in.txt") == b"in"


def test_a_refused_path_exists_so_that_its_open_says_why(tmp_path):
    with zipfile.ZipFile(tmp_path / "src.zip", "w") as z:
        z.writestr("gt.txt", b"a.png\ta\n")
    for root in (SourceRoot.of(str(tmp_path / "src.zip")), SourceRoot.of(str(tmp_path))):
        for rel in ("../gt.txt", "/etc/passwd", "a\x00b"):
            assert root.exists(rel)


def test_several_parts_name_the_part_a_file_is_in_or_the_first(tmp_path):
    first, second = tmp_path / "p1", tmp_path / "p2"
    for part in (first, second):
        (part / "imgs").mkdir(parents=True)
        (part / "imgs" / "both.png").write_bytes(part.name.encode())
    (second / "imgs" / "only.png").write_bytes(b"only")
    root = SourceRoot.of(str(first), more=(str(second),))
    with pytest.raises(SampleRejected) as e:
        root.read("imgs/both.png")
    assert (e.value.reason, e.value.detail) == ("ambiguous_image", f"imgs/both.png is in both {first} and {second}")
    assert root.read("imgs/only.png") == b"only"
    assert root.part_for("imgs/none.png").path == str(first)
    with pytest.raises(DataconvError) as e:
        root.open_member("labels.txt", 1 << 20)
    assert str(e.value).startswith(f"{first / 'labels.txt'}: ")
