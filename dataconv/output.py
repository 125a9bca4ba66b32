"""Atomic output folders: built beside OUT under a hidden name, renamed when complete.

A crash, Ctrl-C or ``kill -9`` never leaves an OUT that looks finished: until the final
rename the work lives in ``.<OUT>.dataconv-tmp-<pid>``; leftovers of dead runs are
removed by the next run.
"""
from __future__ import annotations

import contextlib
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
    prefix = f".{name}{TMP_MARK}"
    for entry in os.listdir(parent):
        if entry.startswith(prefix):
            pid = entry[len(prefix):]
            if pid.isdigit() and not _pid_alive(int(pid)):
                shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)


def check_target(out: str, overwrite: bool) -> None:
    """Refuse an existing OUT unless ``overwrite`` (a usage error, exit 2)."""
    if os.path.lexists(out) and not overwrite:
        raise click.UsageError(f"{out} already exists; pass --overwrite to replace it")


@contextlib.contextmanager
def atomic_output(out: str, overwrite: bool) -> Iterator[str]:
    """Yield a fresh temporary folder; on success it becomes ``out``."""
    out = os.path.abspath(out)
    check_target(out, overwrite)
    parent, name = os.path.split(out)
    os.makedirs(parent, exist_ok=True)
    _remove_stale(parent, name)
    tmp = os.path.join(parent, f".{name}{TMP_MARK}{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if os.path.lexists(out):
        trash = os.path.join(parent, f".{name}{TMP_MARK}old-{os.getpid()}")
        os.rename(out, trash)
        os.rename(tmp, out)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.rename(tmp, out)
