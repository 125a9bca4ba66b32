"""Resolving annotation paths safely: nothing outside the source folder is ever opened.

Also the one place that knows how names written in annotations can differ from the
names on disk without being different files: Unicode normal forms. macOS writes Hangul
file names decomposed (NFD), so a zip made there holds ``ㅎㅏㄴ.png`` while the label
file says ``한.png`` (NFC). The exact name always wins; only when it is missing is the
other normal form tried (``name_forms``), and that is never ambiguous because the two
forms name the same text.
"""
from __future__ import annotations

import contextlib
import errno
import os
import stat
import unicodedata

from dataconv.errors import SampleRejected


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def has_lone_surrogate(text: str) -> bool:
    """True when ``text`` cannot be encoded as UTF-8 (JSON ``"\\ud800"`` escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def name_forms(name: str) -> list[str]:
    """``name`` first, then its NFC and NFD forms when they differ (no duplicates)."""
    forms = [name]
    for form in ("NFC", "NFD"):
        other = unicodedata.normalize(form, name)
        if other not in forms:
            forms.append(other)
    return forms


def _check_text(rel: str) -> None:
    if not rel:
        raise SampleRejected("missing_image", "empty image path")
    if "\x00" in rel:
        raise SampleRejected("bad_path", f"NUL byte in image path {rel!r}")
    if has_lone_surrogate(rel):
        raise SampleRejected("bad_path", f"image path {rel!r} is not valid Unicode")
    if os.path.isabs(rel) or rel.startswith(("\\", "/")) or (len(rel) > 1 and rel[1] == ":"):
        raise SampleRejected("path_outside_source", f"absolute path {rel!r}")


# realpath of folders, per process: images share a few folders, and resolving every
# component of every image path was a third of a conversion's path handling. Cleared at
# the start of every conversion (``clear_cache``), so a run never sees another's folders.
_REAL_DIRS: dict[str, str] = {}
_REAL_DIRS_MAX = 65_536


def clear_cache() -> None:
    _REAL_DIRS.clear()


def _real_dir(path: str) -> str:
    real = _REAL_DIRS.get(path)
    if real is None:
        if len(_REAL_DIRS) >= _REAL_DIRS_MAX:
            _REAL_DIRS.clear()
        real = _REAL_DIRS[path] = os.path.realpath(path)
    return real


def _candidate(root_abs: str, rel: str) -> str:
    """The absolute path ``rel`` names under ``root_abs``; text that cannot name a file
    inside it is rejected without touching the file system."""
    _check_text(rel)
    candidate = os.path.normpath(os.path.join(root_abs, rel))
    if not _inside(candidate, root_abs):
        raise SampleRejected("path_outside_source", f"{rel!r} leaves the source folder")
    return candidate


def _outside(rel: str) -> SampleRejected:
    return SampleRejected("path_outside_source", f"{rel!r} is a symlink out of the source folder")


# O_NONBLOCK: opening a FIFO planted under an image name returns at once instead of
# waiting for a writer (the regular-file test below then rejects it); no effect on files.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _open_inside(path: str, rel: str, root_abs: str, follow_symlinks: bool) -> int:
    """Open ``path`` (inside ``root_abs`` by its text) and return the descriptor.

    Unless ``follow_symlinks``, the file must also *be* inside the source: its folder's
    real location is checked (cached per folder), and the file itself is opened with
    O_NOFOLLOW, so a symlinked image costs nothing extra until it is met; then its target
    is resolved completely and opened only if it lies inside the source."""
    if follow_symlinks:
        return os.open(path, _OPEN_FLAGS)
    real_root = _real_dir(root_abs)
    head, tail = os.path.split(path)
    if not _inside(os.path.join(_real_dir(head), tail), real_root):
        raise _outside(rel)
    try:
        return os.open(path, _OPEN_FLAGS | _NOFOLLOW)
    except OSError as e:
        if e.errno != errno.ELOOP:
            raise
    real = os.path.realpath(path)  # the file itself is a symlink (or a loop of them)
    if not _inside(real, real_root):
        raise _outside(rel)
    return os.open(real, _OPEN_FLAGS | _NOFOLLOW)


def _read_fd(fd: int, rel: str) -> bytes:
    """The whole file behind ``fd``: one read when its size did not change under us."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise SampleRejected("not_a_file", f"{rel} is {kind}")
    data = os.read(fd, info.st_size + 1)
    if len(data) == info.st_size:
        return data
    parts = [data]  # a short read, or a file that grew or shrank: read to the end
    while block := os.read(fd, 1 << 20):
        parts.append(block)
    return b"".join(parts)


def _read_form(root_abs: str, rel: str, shown: str, follow_symlinks: bool) -> bytes:
    fd = _open_inside(_candidate(root_abs, rel), shown, root_abs, follow_symlinks)
    try:
        return _read_fd(fd, shown)
    finally:
        os.close(fd)


def read_inside(root: str, rel: str, follow_symlinks: bool = False) -> bytes:
    """The bytes of the file ``rel`` names under ``root``, or reject the sample.

    Absolute paths and ``..`` that climb out of ``root`` are refused without touching
    the file system. Unless ``follow_symlinks``, a file whose real location (after
    resolving symlinks) is outside ``root`` is refused as well. When ``rel`` is missing,
    its other Unicode normal form is tried (``name_forms``): the exact name wins.

    Reads go through ``os.open``/``os.read`` rather than ``open()``: four system calls
    instead of seven (``open()`` also seeks and asks whether the file is a terminal), and
    O_NOFOLLOW makes the symlink test part of the open instead of an ``lstat``."""
    root_abs = os.path.abspath(root)
    try:
        try:
            return _read_form(root_abs, rel, rel, follow_symlinks)
        except FileNotFoundError:
            for form in name_forms(rel)[1:]:
                with contextlib.suppress(FileNotFoundError):
                    return _read_form(root_abs, form, rel, follow_symlinks)
    except OSError as e:
        raise SampleRejected("unreadable_image", f"{rel}: {e.strerror or e}") from None
    raise SampleRejected("missing_image", f"{rel} not found")
