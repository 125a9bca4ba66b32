"""The one way dataconv opens an input file: confined, regular files only, checked at open.

Two kinds of path reach the tool:

* **Paths found inside SRC or named by annotations** (images, label files, JSON, XML, LMDB
  folders). ``open_inside(root, rel)`` walks ``rel`` one component at a time with
  ``openat`` from a descriptor of ``root``: every folder is opened with O_NOFOLLOW relative
  to the descriptor of its parent, so no path string is trusted twice and a folder swapped
  for a symlink during the run is met as a symlink at the next open. A symlink is resolved
  only when met, by this module, against the components already walked: its target must
  stay inside ``root`` (unless ``follow_symlinks``). The final file is opened O_NOFOLLOW and
  O_NONBLOCK (a FIFO returns at once instead of waiting for a writer) and must be a regular
  file (``fstat`` of the opened descriptor, so what is checked is what is read).
* **Paths the user names on the command line** (``-i``, ``--gt FILE``, ``--labels``, a
  ``predict`` image). They are the user's choice and are opened as given, symlinks
  included, by ``open_user_path``; but never a FIFO, device or socket: a one-line error
  instead of a hang.

Whole-run inputs (a label file, a JSON or XML annotation file) travel as ``InputFile``
values, which carry how to open them, so ``textfile``/``jsonstream``/``schema`` need no
knowledge of where a file came from. Each is opened with a size cap (``Limits``): files
read whole are refused past ``whole_bytes``, streamed ones past ``streamed_bytes``.

Failures: ``open_inside`` raises ``SampleRejected`` (``path_outside_source``,
``not_a_file``, ``bad_path``) for what the path *is*, and ``OSError`` for what the OS says
(missing, permissions), so a per-sample caller can name its own reasons
(``missing_image``); ``open_input`` turns every failure into a one-line ``DataconvError``.
"""
from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from typing import BinaryIO, Iterator, Protocol, Union

from dataconv.errors import DataconvError, SampleRejected



class SourceRoot(Protocol):
    """What this module needs of a source that is not a plain folder (an archive, several
    parts: ``dataconv.io.source.SourceRoot``, which builds on this module)."""

    is_folder: bool

    def read(self, rel: str, follow_symlinks: bool, max_pixels: int) -> bytes: ...

    def open_member(self, rel: str, max_bytes: int, follow_symlinks: bool) -> BinaryIO: ...

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
DIR_FLAGS = os.O_RDONLY | _CLOEXEC | _DIRECTORY | _NOFOLLOW
FILE_FLAGS = os.O_RDONLY | _CLOEXEC | _NONBLOCK | _NOFOLLOW
MAX_SYMLINKS = 40  # as the kernel: more hops than this is a loop

GiB, MiB = 1024 ** 3, 1024 ** 2


@dataclass(frozen=True)
class Limits:
    """Size caps of annotation files. Memory of a whole read is several times the file
    (bytes, text, Python objects), so files read whole get a smaller cap than streamed
    ones; a per-image label (minhon ``x.txt``) is one line of text."""

    whole_bytes: int = 1 * GiB
    streamed_bytes: int = 4 * GiB
    label_bytes: int = 1 * MiB


DEFAULT_LIMITS = Limits()


def has_lone_surrogate(text: str) -> bool:
    """True when ``text`` cannot be encoded as UTF-8 (JSON ``"\\ud800"`` escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_text(rel: str) -> None:
    """Reject path text that cannot name a file inside the source, without touching the
    file system: empty, NUL, lone surrogates, absolute, drive letters, UNC."""
    if not rel:
        raise SampleRejected("missing_image", "empty image path")
    if "\x00" in rel:
        raise SampleRejected("bad_path", f"NUL byte in image path {rel!r}")
    if has_lone_surrogate(rel):
        raise SampleRejected("bad_path", f"image path {rel!r} is not valid Unicode")
    if os.path.isabs(rel) or rel.startswith(("\\", "/")) or (len(rel) > 1 and rel[1] == ":"):
        raise SampleRejected("path_outside_source", f"absolute path {rel!r}")


def rel_parts(rel: str) -> list[str]:
    """The components of ``rel`` after textual ``..`` folding; climbing out is rejected."""
    check_text(rel)
    parts: list[str] = []
    for part in rel.replace(os.sep, "/").split("/"):
        if part == "..":
            if not parts:
                raise SampleRejected("path_outside_source", f"{rel!r} leaves the source folder")
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return parts


def _outside(rel: str) -> SampleRejected:
    return SampleRejected("path_outside_source", f"{rel!r} is a symlink out of the source folder")


def _not_a_file(rel: str, mode: int) -> SampleRejected:
    kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode)
            or stat.S_ISBLK(mode) else "not a regular file")
    return SampleRejected("not_a_file", f"{rel} is {kind}")


def _require_regular(fd: int, rel: str) -> int:
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise _not_a_file(rel, mode)
    return fd


def _readlink(name: str, dir_fd: int) -> str | None:
    """The target of the symlink ``name`` in ``dir_fd``, or None when it is not one."""
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError as e:
        if e.errno in (errno.EINVAL, errno.ENOENT):
            return None
        raise


class _Walker:
    """The folders walked so far, as open descriptors from the root down."""

    def __init__(self, root: str, rel: str) -> None:
        self.root, self.rel = root, rel
        self.stack = [os.open(root, os.O_RDONLY | _CLOEXEC | _DIRECTORY)]
        self.hops = 0
        self._real_root: str | None = None  # resolved when an absolute symlink is met

    def close(self) -> None:
        while self.stack:
            os.close(self.stack.pop())

    def up(self) -> None:
        if len(self.stack) == 1:
            raise _outside(self.rel)
        os.close(self.stack.pop())

    def enter(self, name: str) -> str | None:
        """Open the folder ``name``; its target text when it is a symlink instead."""
        try:
            self.stack.append(os.open(name, DIR_FLAGS, dir_fd=self.stack[-1]))
            return None
        except OSError as e:
            if e.errno not in (errno.ENOTDIR, errno.ELOOP):
                raise
            target = _readlink(name, self.stack[-1])
            if target is None:
                raise
            return target

    def open_file(self, name: str) -> int | str:
        """The descriptor of ``name``, or its target text when it is a symlink.

        A FIFO, socket or device is refused from its ``lstat`` before any open: opening
        some devices has effects (a watchdog, a tape), and a socket cannot be opened."""
        mode = os.stat(name, dir_fd=self.stack[-1], follow_symlinks=False).st_mode
        if stat.S_ISLNK(mode):
            return os.readlink(name, dir_fd=self.stack[-1])
        if not stat.S_ISREG(mode):
            raise _not_a_file(self.rel, mode)
        return os.open(name, FILE_FLAGS, dir_fd=self.stack[-1])  # O_NOFOLLOW: a swap fails

    def follow(self, target: str) -> list[str]:
        """The components to walk next for a symlink to ``target``: relative targets go on
        from the current folder, absolute ones from the root, if they lie inside it."""
        self.hops += 1
        if self.hops > MAX_SYMLINKS:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), self.rel)
        if not os.path.isabs(target):
            return target.split("/")
        if self._real_root is None:
            self._real_root = os.path.realpath(self.root)
        for base in (self._real_root, os.path.abspath(self.root)):
            inside = os.path.relpath(os.path.normpath(target), base)
            if inside != ".." and not inside.startswith(".." + os.sep):
                while len(self.stack) > 1:
                    os.close(self.stack.pop())
                return inside.split(os.sep)
        raise _outside(self.rel)


def open_inside(root: str, rel: str, follow_symlinks: bool = False, *,
                directory: bool = False) -> int:
    """A read-only descriptor of the regular file (or, with ``directory``, the folder)
    ``rel`` names under ``root``; the caller closes it.

    Raises SampleRejected (``path_outside_source``, ``not_a_file``, ``bad_path``) or
    OSError (``FileNotFoundError`` when missing, ``PermissionError``...)."""
    parts = rel_parts(rel)
    if follow_symlinks:
        path = os.path.join(root, *parts)
        if directory:
            return os.open(path, os.O_RDONLY | _CLOEXEC | _DIRECTORY)
        return _open_regular(path, rel)
    walker = _Walker(root, rel)
    try:
        return _walk(walker, parts, directory)
    finally:
        walker.close()


def _walk(walker: _Walker, parts: list[str], directory: bool) -> int:
    pending = parts[::-1]  # a stack: the next component last
    while pending:
        name = pending.pop()
        if name in ("", "."):
            continue
        if name == "..":
            walker.up()
            continue
        if pending or directory:
            target = walker.enter(name)
            if target is None:
                continue
        else:
            opened = walker.open_file(name)
            if isinstance(opened, int):
                return _require_regular(opened, walker.rel)
            target = opened
        pending.extend(walker.follow(target)[::-1])
    if directory:  # the folder walked to: hand its descriptor over
        return os.dup(walker.stack[-1])
    raise _not_a_file(walker.rel, stat.S_IFDIR)  # rel named the root itself


def _open_regular(path: str, rel: str) -> int:
    """``path`` opened following symlinks; anything but a regular file is refused from
    its ``stat`` before it is opened (opening some devices has effects)."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise _not_a_file(rel, mode)
    return _require_regular(os.open(path, os.O_RDONLY | _CLOEXEC | _NONBLOCK), rel)


def open_user_path(path: str) -> int:
    """A read-only descriptor of a file the user named: opened as given (symlinks too),
    but a FIFO, device, socket or folder is a one-line error, never waited on."""
    try:
        return _open_regular(path, path)
    except OSError as e:
        raise DataconvError(f"{path}: cannot open ({e.strerror or e})") from None
    except SampleRejected as e:
        raise DataconvError(f"{e.detail}, not a regular file") from None


@dataclass(frozen=True)
class InputFile:
    """A whole-run input file: where to open it from, and the name messages show.

    ``InputFile.inside(root, rel)`` for a file found in SRC (confined; ``root`` a folder
    path, or a ``source.SourceRoot``: an archive's member is streamed from the archive);
    ``InputFile.user(path)`` for a path from the command line (opened as given)."""

    path: str
    root: str | SourceRoot | None = None
    rel: str = ""
    follow_symlinks: bool = False

    @classmethod
    def inside(cls, root: str | SourceRoot, rel: str, follow_symlinks: bool = False) -> InputFile:
        if not isinstance(root, str) and root.is_folder:
            root = root.path  # one folder: opened by open_inside
        return cls(os.path.join(root, rel), root, rel, follow_symlinks)

    @classmethod
    def user(cls, path: str) -> InputFile:
        return cls(path)

    def __str__(self) -> str:
        return self.path

    def exists(self) -> bool:
        """Whether the file is there to be opened (or refused when opened: a symlink, an
        archive's hostile member): the check before a "no such file" message."""
        if self.root is None or isinstance(self.root, str):
            return os.path.lexists(self.path)
        return self.root.exists(self.rel)

    def open_fd(self) -> int:
        """The descriptor, or a one-line DataconvError naming the file and why."""
        if self.root is None:
            return open_user_path(self.path)
        if not isinstance(self.root, str):
            raise DataconvError(f"{self.path}: an archive member has no descriptor")
        try:
            return open_inside(self.root, self.rel, self.follow_symlinks)
        except SampleRejected as e:
            raise DataconvError(f"{self.path}: {e.reason}: {e.detail}") from None
        except OSError as e:
            raise DataconvError(f"{self.path}: cannot open ({e.strerror or e})") from None


Source = Union[str, InputFile]  # a plain string is a path the user named


def as_input(source: Source) -> InputFile:
    return source if isinstance(source, InputFile) else InputFile.user(source)


def open_input(source: Source, max_bytes: int) -> BinaryIO:
    """``source`` opened for binary reading, refused (one-line error) past ``max_bytes``."""
    source = as_input(source)
    if source.root is not None and not isinstance(source.root, str):  # archives, several parts
        return source.root.open_member(source.rel, max_bytes, source.follow_symlinks)
    fd = source.open_fd()
    size = os.fstat(fd).st_size
    if size > max_bytes:
        os.close(fd)
        raise DataconvError(f"{source.path}: {size} bytes, over the {max_bytes}-byte limit "
                            "of an annotation file")
    return os.fdopen(fd, "rb")


def read_bounded(f: BinaryIO, max_bytes: int, name: str) -> bytes:
    """All of ``f``, but never more than ``max_bytes``: a file that grows while it is
    read is refused instead of filling memory."""
    data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise DataconvError(f"{name}: grew past the {max_bytes}-byte limit of an annotation "
                            "file while it was read")
    return data


def walk_files(root: str) -> Iterator[str]:
    """Every regular file under ``root`` as a relative path, in a stable (sorted) order.

    Folders are opened with O_NOFOLLOW relative to their parent's descriptor, so a
    symlinked folder is never descended (not even one swapped in during the walk); a
    symlink to a file is listed (opening it decides whether it stays inside); FIFOs,
    sockets, devices and dangling symlinks are not files and are not listed."""
    fd = os.open(root, os.O_RDONLY | _CLOEXEC | _DIRECTORY)
    try:
        yield from _walk_dir(fd, "")
    finally:
        os.close(fd)


def _walk_dir(fd: int, prefix: str) -> Iterator[str]:
    with os.scandir(fd) as it:
        entries = sorted(it, key=lambda e: e.name)
    folders = []
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                folders.append(entry.name)
            elif entry.is_file():  # a symlink's target is stat'ed, never opened
                yield prefix + entry.name
        except OSError:  # vanished, or a symlink loop: not a file
            continue
    for name in folders:
        try:
            sub = os.open(name, DIR_FLAGS, dir_fd=fd)
        except OSError:  # swapped for a symlink or removed since it was listed
            continue
        try:
            yield from _walk_dir(sub, prefix + name + "/")
        finally:
            os.close(sub)
