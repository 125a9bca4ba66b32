"""Mutation run of dataconv/io/safeopen.py: the documented size caps at their exact byte
(sparse files: nothing is read), the open flags that keep a FIFO swapped in after the
check from hanging a run and a symlink swapped in from being followed, a FIFO in the
middle of a path, the 40-hop symlink limit the kernel has too."""
from __future__ import annotations

import errno
import os
import threading
import zipfile
from typing import Callable

import pytest

from dataconv.errors import DataconvError
from dataconv.io import safeopen
from dataconv.io.safeopen import DEFAULT_LIMITS, InputFile, open_inside, open_input

GiB, MiB = 1 << 30, 1 << 20


def sparse(path: str, size: int) -> str:
    with open(path, "wb") as f:
        f.truncate(size)
    return path


@pytest.mark.parametrize("cap,documented", [("whole_bytes", GiB), ("streamed_bytes", 4 * GiB),
                                            ("label_bytes", MiB)])
def test_the_documented_caps_hold_at_their_exact_byte(tmp_path, cap, documented):
    """docs/guarantees.md: 1 GiB read whole, 4 GiB streamed, 1 MiB a per-image label."""
    limit = getattr(DEFAULT_LIMITS, cap)
    assert isinstance(limit, int)
    sparse(str(tmp_path / "at.txt"), documented)
    over = sparse(str(tmp_path / "over.txt"), documented + 1)
    with open_input(InputFile.inside(str(tmp_path), "at.txt"), limit) as f:
        assert os.fstat(f.fileno()).st_size == documented
    for source in (InputFile.inside(str(tmp_path), "over.txt"), over):
        with pytest.raises(DataconvError) as e:
            open_input(source, limit)
        assert str(e.value) == (f"{over}: {documented + 1} bytes, over the {documented}-byte limit "
                                "of an annotation file")


def returns_promptly(call: Callable[[], object], fifo: str) -> object:
    """``call()``'s result or exception; a call still blocked after 10 s (an open of the
    FIFO waiting for a writer) is released by opening the FIFO's other end, and fails."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            outcome["value"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # the blocked reader is there
        thread.join(10)
        pytest.fail("the open waited on a FIFO for a writer")
    return outcome["value"]


def test_a_fifo_swapped_in_after_the_check_is_opened_without_waiting(tmp_path):
    """The last open of a file is O_NONBLOCK: what was a regular file at the ``lstat`` and
    is a FIFO at the open returns at once (then ``fstat`` refuses it), never waits."""
    fifo = str(tmp_path / "swapped")
    os.mkfifo(fifo)
    fd = returns_promptly(lambda: os.open(fifo, safeopen.FILE_FLAGS), fifo)
    assert isinstance(fd, int), fd
    try:
        with pytest.raises(safeopen.SampleRejected) as e:
            safeopen._require_regular(os.dup(fd), "swapped")
        assert (e.value.reason, e.value.detail) == ("not_a_file", "swapped is a FIFO")
    finally:
        os.close(fd)


def test_a_symlink_swapped_in_after_the_check_is_not_followed(tmp_path):
    (tmp_path / "real.txt").write_bytes(b"x")
    os.symlink("real.txt", tmp_path / "link.txt")
    with pytest.raises(OSError) as e:
        os.open(tmp_path / "link.txt", safeopen.FILE_FLAGS)
    assert e.value.errno == errno.ELOOP
    with pytest.raises(OSError) as e:
        os.open(tmp_path / "link.txt", safeopen.DIR_FLAGS)
    assert e.value.errno in (errno.ELOOP, errno.ENOTDIR)


def test_a_fifo_in_the_middle_of_a_path_is_not_a_folder_and_is_never_waited_on(tmp_path):
    fifo = str(tmp_path / "pipe")
    os.mkfifo(fifo)
    (tmp_path / "file.txt").write_bytes(b"x")
    for rel in ("pipe/x.png", "pipe/sub/x.png"):
        error = returns_promptly(lambda: open_inside(str(tmp_path), rel), fifo)
        assert isinstance(error, NotADirectoryError), error
    error = returns_promptly(lambda: os.open(fifo, safeopen.DIR_FLAGS), fifo)
    assert isinstance(error, NotADirectoryError), error
    with pytest.raises(NotADirectoryError):
        open_inside(str(tmp_path), "file.txt/x.png")


def chain(root: str, hops: int) -> str:
    """``s0 -> s1 -> ... -> x.txt``: opening ``s0`` follows ``hops`` symlinks."""
    with open(os.path.join(root, "x.txt"), "wb") as f:
        f.write(b"end")
    for i in range(hops):
        os.symlink(f"s{i + 1}" if i + 1 < hops else "x.txt", os.path.join(root, f"s{i}"))
    return "s0"


@pytest.mark.parametrize("hops,ok", [(40, True), (41, False)])
def test_a_symlink_chain_is_followed_up_to_40_hops_as_the_kernel_does(tmp_path, hops, ok):
    root = str(tmp_path)
    rel = chain(root, hops)
    for follow in (False, True):  # confined walk, and the kernel's own resolution
        if ok:
            with os.fdopen(open_inside(root, rel, follow), "rb") as f:
                assert f.read() == b"end"
        else:
            with pytest.raises(OSError) as e:
                open_inside(root, rel, follow)
            assert e.value.errno == errno.ELOOP


def test_a_source_root_that_is_a_fifo_is_never_waited_on(tmp_path):
    fifo = str(tmp_path / "src")
    os.mkfifo(fifo)
    error = returns_promptly(lambda: open_inside(fifo, "x.png"), fifo)
    assert isinstance(error, NotADirectoryError), error


def test_an_absolute_symlink_through_the_real_path_of_an_aliased_root_is_inside(tmp_path):
    """The root named through a symlinked folder; a link inside it to the root's real path
    (what ``realpath`` gives) stays inside and is read."""
    real = tmp_path / "real"
    (real / "d").mkdir(parents=True)
    (real / "d" / "x.txt").write_bytes(b"inside")
    os.symlink(real, tmp_path / "alias")
    os.symlink(real / "d" / "x.txt", real / "abs.txt")
    os.symlink(tmp_path / "alias" / "d" / "x.txt", real / "via_alias.txt")  # the path as named
    for rel in ("abs.txt", "via_alias.txt"):
        assert read(str(tmp_path / "alias"), rel) == b"inside"


def read(root: str, rel: str) -> bytes:
    with os.fdopen(open_inside(root, rel), "rb") as f:  # the default: confined
        return f.read()


def test_symlinks_are_confined_unless_asked_and_resolved_from_where_they_point(tmp_path):
    root = tmp_path / "root"
    (root / "d" / "e").mkdir(parents=True)
    (root / "x.txt").write_bytes(b"top")
    (root / "d" / "x.txt").write_bytes(b"in d")
    (tmp_path / "secret.txt").write_bytes(b"secret")
    os.symlink(tmp_path / "secret.txt", root / "out.txt")
    with pytest.raises(safeopen.SampleRejected) as e:
        open_inside(str(root), "out.txt")  # no follow_symlinks given: refused
    assert e.value.reason == "path_outside_source"
    os.symlink(root / "x.txt", root / "d" / "e" / "abs.txt")  # absolute: from the root
    os.symlink("..//./x.txt", root / "d" / "e" / "rel.txt")  # empty and "." parts
    os.symlink("./../../d/./x.txt", root / "d" / "e" / "dots.txt")
    os.symlink("e/", root / "d" / "e_link")
    assert read(str(root), "d/e/abs.txt") == b"top"
    assert read(str(root), "d/e/rel.txt") == b"in d"
    assert read(str(root), "d/e/dots.txt") == b"in d"
    assert read(str(root), "d/e_link/rel.txt") == b"in d"


def test_empty_and_dot_components_are_dropped_and_a_bare_drive_is_refused():
    assert safeopen.rel_parts("a//b/./c/") == ["a", "b", "c"]
    assert safeopen.rel_parts("./a/../b") == ["b"]
    for rel in ("C:", "C:x.png", "c:/x.png"):
        with pytest.raises(safeopen.SampleRejected) as e:
            safeopen.check_text(rel)
        assert e.value.reason == "path_outside_source"


def test_an_input_file_inside_the_source_is_confined_by_default(tmp_path):
    (tmp_path / "secret.txt").write_bytes(b"secret")
    root = tmp_path / "src"
    root.mkdir()
    os.symlink(tmp_path / "secret.txt", root / "labels.txt")
    with pytest.raises(DataconvError) as e:
        open_input(InputFile.inside(str(root), "labels.txt"), MiB)
    assert str(e.value).startswith(f"{root / 'labels.txt'}: path_outside_source: ")


def test_exists_asks_the_folder_the_archive_or_the_path_the_user_named(tmp_path):
    from dataconv.io.source import SourceRoot

    (tmp_path / "gt.txt").write_bytes(b"a.png\ta\n")
    with zipfile.ZipFile(tmp_path / "src.zip", "w") as z:
        z.writestr("sub/gt.txt", b"a.png\ta\n")
    archive = SourceRoot.of(str(tmp_path / "src.zip"))
    assert InputFile.inside(archive, "sub/gt.txt").exists()
    assert not InputFile.inside(archive, "gt.txt").exists()
    assert InputFile.inside(str(tmp_path), "gt.txt").exists()
    assert not InputFile.inside(str(tmp_path), "sub/gt.txt").exists()
    assert InputFile.user(str(tmp_path / "gt.txt")).exists()
    assert not InputFile.user(str(tmp_path / "nothing.txt")).exists()


def test_the_walk_goes_on_past_a_symlink_loop_and_never_waits_on_a_fifo_root(tmp_path):
    root = tmp_path / "src"
    (root / "a").mkdir(parents=True)
    (root / "z").mkdir()
    os.symlink("loop", root / "a" / "loop")  # stat'ing it is ELOOP
    (root / "a" / "m.txt").write_bytes(b"m")
    (root / "z" / "z.txt").write_bytes(b"z")
    assert list(safeopen.walk_files(str(root))) == ["a/m.txt", "z/z.txt"]
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    error = returns_promptly(lambda: list(safeopen.walk_files(fifo)), fifo)
    assert isinstance(error, NotADirectoryError), error
