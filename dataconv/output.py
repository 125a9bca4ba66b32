"""Atomic output folders: built beside OUT under a hidden name, renamed when complete.

A crash, Ctrl-C or ``kill -9`` never leaves an OUT that looks finished: until the final
rename the work lives in ``.<OUT>.dataconv-tmp-<pid>``; leftovers of dead runs are
removed by the next run.
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
from typing import Iterator

import click

TMP_MARK = ".dataconv-tmp-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(parent: str, name: str) -> None:
    """Remove the temporary and replaced folders (``-<pid>``, ``-old-<pid>``) of dead runs."""
    prefix = f".{name}{TMP_MARK}"
    for entry in os.listdir(parent):
        if entry.startswith(prefix):
            pid = entry[len(prefix):].removeprefix("old-")
            if pid.isdigit() and not _pid_alive(int(pid)):
                _remove(os.path.join(parent, entry))


def _contains(folder: str, path: str) -> bool:
    folder, path = os.path.realpath(folder), os.path.realpath(path)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_target(out: str, overwrite: bool, src: str | None = None) -> None:
    """Refuse an existing OUT unless ``overwrite``, and an OUT that is or holds the source
    (``--overwrite`` would delete it) or that is a file (usage errors, exit 2)."""
    if src is not None and _contains(out, src):
        raise click.UsageError(f"{out} is or contains the source {src}; choose another -o")
    if os.path.lexists(out) and not overwrite:
        raise click.UsageError(f"{out} already exists; pass --overwrite to replace it")


def _make_parent(parent: str) -> None:
    try:
        os.makedirs(parent, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OSError(errno.ENOTDIR, "the folder for OUT is a file (or under one)", parent) from None


@contextlib.contextmanager
def atomic_output(out: str, overwrite: bool) -> Iterator[str]:
    """Yield a fresh temporary folder; on success it becomes ``out``. On any failure
    (including in the final renames) the temporary folder is removed and an existing
    ``out`` is left as it was."""
    out = os.path.abspath(out)
    check_target(out, overwrite)
    parent, name = os.path.split(out)
    _make_parent(parent)
    _remove_stale(parent, name)
    tmp = os.path.join(parent, f".{name}{TMP_MARK}{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        yield tmp
        _replace(tmp, out, os.path.join(parent, f".{name}{TMP_MARK}old-{os.getpid()}"))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _replace(tmp: str, out: str, trash: str) -> None:
    """Rename ``tmp`` to ``out``; an existing ``out`` goes to ``trash`` first and comes
    back if the second rename fails."""
    if not os.path.lexists(out):
        os.rename(tmp, out)
        return
    os.rename(out, trash)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(trash, out)
        raise
    _remove(trash)


def _remove(path: str) -> None:
    """Remove a folder, file or symlink (a replaced OUT may have been any of them)."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.unlink(path)
