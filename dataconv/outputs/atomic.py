"""Everything dataconv writes goes through here: what may be at the target, what it may
replace, and how the result appears (atomically).

- A dataset folder (every conversion, ``atomic_output``) is built beside OUT in
  ``.<OUT>.dataconv-tmp-<pid>`` and renamed into place only when complete. ``--overwrite``
  replaces only a previous dataconv output (a folder whose manifest.json is dataconv's);
  anything else at OUT is refused and left untouched.
- A single file (``export -o``, ``report -o``, ``charset -o``; ``atomic_file``) is written
  to ``.<name>.dataconv-tmp-<pid>`` beside the target and renamed over it. A new file or an
  existing regular file is written, as these commands always did without ``--overwrite``;
  a folder, symlink, device, FIFO or socket at the target is refused and left untouched.
- A folder written in place (``train --out RUN``, which Lightning fills and ``--resume``
  continues; ``check_folder_target``) may exist, but only as a real folder.
- No output is ever an input of its run, nor inside or around one. The inputs are found
  from the command's parameters (``dataconv.cli.options.input_paths``) or, for the Python
  API and recipes, from the typed options objects (``option_inputs``), never from a list
  of option names; ``check_target`` is the one place that decides what ``--overwrite``
  may replace, for every command and every recipe.

Two runs into one OUT never silently replace each other: a run holds an exclusive lock on
its temporary folder, a second run that finds a locked sibling is refused, and the final
rename happens only if OUT is still what the run saw when it started. A crash, a signal
or ``kill -9`` never leaves an OUT that looks finished; leftovers of dead runs are removed
by the next run into the same parent.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import stat
from typing import Any, Iterable, Iterator

from dataconv.build import interrupts
from dataconv.outputs import manifest
from dataconv.errors import REPLACE_HINT, DataconvError, UsageError
from dataconv.io import pids
from dataconv.io.remote import is_url

TMP_MARK = ".dataconv-tmp-"
MANIFEST_LIMIT = manifest.LIMIT
# The files of a dataset folder: a report or charset file written into the dataset it is
# about must not take one of these names.
DATASET_FILES = frozenset({manifest.MANIFEST, manifest.REJECTS, manifest.SAMPLES, manifest.CHARSET})

Inputs = Iterable[tuple[str, str]]  # (option as the user typed it, path)


# --- what is at a path --------------------------------------------------------------------

_KINDS = [(stat.S_ISDIR, "folder"), (stat.S_ISREG, "regular file"), (stat.S_ISLNK, "symlink"),
          (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
          (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket")]


def kind_of(path: str) -> str | None:
    """What is at ``path`` itself (a symlink is not followed); None when nothing is."""
    try:
        mode = os.lstat(path).st_mode
    except (OSError, ValueError):
        return None
    return next((name for test, name in _KINDS if test(mode)), "special file")


def is_dataconv_output(path: str) -> bool:
    """A real folder (not a symlink) holding a manifest.json that parses and carries
    dataconv's fields. The manifest is opened without following symlinks or waiting on a
    FIFO, and read only when it is a regular file of sane size."""
    if kind_of(path) != "folder":
        return False
    try:
        fd = os.open(os.path.join(path, manifest.MANIFEST), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MANIFEST_LIMIT:
            return False
        with os.fdopen(os.dup(fd), "rb") as f:
            card = json.loads(f.read(MANIFEST_LIMIT + 1))
    except (OSError, ValueError, RecursionError):
        return False
    finally:
        os.close(fd)
    return manifest.is_dataconv_card(card)


def _identity(path: str) -> tuple[int, int] | None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    return info.st_dev, info.st_ino


# --- inputs ---------------------------------------------------------------------------------

def option_inputs(obj: Any, where: str = "", exclude: Iterable[str] = ("out",)) -> list[tuple[str, str]]:
    """The paths an options object (``dataconv.optionspec``) names, as the CLI finds them
    from its parameters: every ``Path`` switch's value, and every other text value that
    names an existing path (a ``--charset`` file, an mjsynth list). This is how the Python
    API and recipes find a run's inputs; ``where`` prefixes each switch's name in the label
    (``recipe.yaml: sources[0].options.``). A ``Path`` switch that must exist and does not
    is a UsageError, as on the command line."""
    from dataconv.optionspec import Path, switches, values

    specs = {s.name: s.spec for s in switches(type(obj))}
    found = []
    for name, value in values(obj).items():
        for v in value if isinstance(value, tuple) else (value,):
            kind = specs[name].type
            if name in exclude or not names_input(v, isinstance(kind, Path) and not kind.text_ok):
                continue
            if isinstance(kind, Path) and kind.exists and not os.path.lexists(v) and not is_url(v):
                raise UsageError(f"{where}{name}: {v}: no such file or folder")
            found.append((f"{where}{name}", v))
    return found


def names_input(value: object, path_switch: bool) -> bool:
    """Whether an option's value is a path the run reads: any text given to a path switch,
    and any other text that names an existing path (a ``--charset`` that is a file rather
    than the characters themselves, an mjsynth list). The one rule of the CLI's
    ``input_paths`` and of ``option_inputs``."""
    return isinstance(value, str) and bool(value) and (path_switch or os.path.lexists(value))


def _contains(folder: str, path: str) -> bool:
    folder, path = os.path.realpath(folder), os.path.realpath(path)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _refuse_overlap(out: str, inputs: Inputs) -> None:
    """OUT is not an input, does not hold one, and does not lie inside one."""
    for label, path in inputs:
        if _contains(out, path) or _same_file(out, path):
            raise UsageError(f"{out} is or contains the source {path} ({label}); choose another output")
        if _contains(path, out):
            raise UsageError(f"{out} lies inside the source {path} ({label}); choose another output")


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


# --- dataset folders (the conversions) -------------------------------------------------------

def check_target(out: str, overwrite: bool, inputs: Inputs = ()) -> None:
    """Usage errors (exit 2) for an OUT the run must not write: one that overlaps an input,
    anything at OUT that is not a previous dataconv output, and a previous output without
    ``--overwrite``. Nothing is touched. A URL is an object-storage prefix
    (``remote_out.check_remote_target``: the same rules)."""
    if is_url(out):
        from dataconv.outputs.remote_out import check_remote_target

        return check_remote_target(out, overwrite, inputs)
    out = os.path.abspath(out)
    _refuse_overlap(out, [(label, path) for label, path in inputs if not is_url(path)])
    kind = kind_of(out)
    if kind is None:
        return
    if not is_dataconv_output(out):
        what = "a folder without dataconv's manifest.json" if kind == "folder" else f"a {kind}"
        raise UsageError(
            f"{out} exists and is not a dataconv output ({what}); --overwrite replaces only a "
            f"previous dataconv output, so it is left untouched: choose another -o")
    if not overwrite:
        raise UsageError(f"{out} already exists; {REPLACE_HINT}")


def _make_parent(parent: str) -> None:
    try:
        os.makedirs(parent, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OSError(errno.ENOTDIR, "the folder for OUT is a file (or under one)", parent) from None


def output_folder(out: str, overwrite: bool) -> contextlib.AbstractContextManager[str]:
    """The temporary folder a conversion writes into: ``atomic_output`` for a folder,
    ``remote_out.remote_output`` (built locally, uploaded, manifest last) for a URL."""
    if is_url(out):
        from dataconv.outputs.remote_out import remote_output

        return remote_output(out, overwrite, interrupts.deferred)
    return atomic_output(out, overwrite)


@contextlib.contextmanager
def atomic_output(out: str, overwrite: bool) -> Iterator[str]:
    """Yield a fresh temporary folder beside ``out``; on success it becomes ``out``. On any
    failure or signal (including in the final renames) the temporary folder is removed and
    an existing ``out`` is left as it was."""
    out = os.path.abspath(out)
    check_target(out, overwrite)
    parent, name = os.path.split(out)
    _make_parent(parent)
    with _locked(parent):
        check_target(out, overwrite)  # again, now that no other run can be between check and claim
        seen = _identity(out)
        _remove_stale(parent, name)
        _refuse_live_runs(parent, name, out)
        tmp = os.path.join(parent, f".{name}{TMP_MARK}{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        claim = _lock_folder(tmp)
    try:
        yield tmp
        with interrupts.deferred(), _locked(parent):
            interrupts.check()  # a signal whose exception was lost on the way: no rename
            if _identity(out) != seen:
                raise DataconvError(f"{out} changed while this run was writing it (another program "
                                    "wrote there); it was left as it is and this run's result discarded")
            trash = _replace(tmp, out, os.path.join(parent, f".{name}{TMP_MARK}old-{os.getpid()}"))
        if trash:
            _remove(trash)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        os.close(claim)


@contextlib.contextmanager
def _locked(folder: str) -> Iterator[None]:
    """An exclusive lock on ``folder`` for a few quick steps (checks, claims, renames), so
    two runs into the same parent take them one after the other."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except PermissionError:  # a parent we may write but not read: no lock to take
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _lock_folder(path: str) -> int:
    """Hold an exclusive lock on this run's temporary folder until the run ends (the kernel
    drops it when the process dies, even by ``kill -9``)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def _refuse_live_runs(parent: str, name: str, out: str) -> None:
    """Another run writing the same OUT holds the lock on its temporary folder."""
    for entry, pid in _tmp_entries(parent, name):
        if pid is None:
            continue
        try:
            fd = os.open(os.path.join(parent, entry), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue  # a file or symlink under that name: not a run's folder
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(f"another dataconv run (pid {pid}) is writing {out} now; "
                                   "wait for it to end or choose another -o") from None
        finally:
            os.close(fd)


def _tmp_entries(parent: str, name: str) -> Iterator[tuple[str, int | None]]:
    """Temporary entries for ``name`` in ``parent``: (entry, pid of the run that works in
    it), pid None for the old OUT a finishing run moved aside (``-old-<pid>``)."""
    prefix = f".{name}{TMP_MARK}"
    for entry in os.listdir(parent):
        if entry.startswith(prefix):
            rest = entry[len(prefix):]
            if rest.isdigit():
                yield entry, int(rest)
            elif rest.startswith("old-") and rest[4:].isdigit():
                yield entry, None


def _remove_stale(parent: str, name: str) -> None:
    """Remove the temporary and replaced entries (``-<pid>``, ``-old-<pid>``) of dead runs."""
    for entry, _ in _tmp_entries(parent, name):
        pid = int(entry.rsplit("-", 1)[1])
        if not pids.alive(pid):
            _remove(os.path.join(parent, entry))


def _replace(tmp: str, out: str, trash: str) -> str | None:
    """Rename ``tmp`` to ``out``; an existing ``out`` goes to ``trash`` first and comes
    back if the second rename fails. Returns the trash to remove, if any."""
    if not os.path.lexists(out):
        os.rename(tmp, out)
        return None
    os.rename(out, trash)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(trash, out)
        raise
    return trash


def _remove(path: str) -> None:
    """Remove a temporary or replaced entry dataconv made (a folder or a file)."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.unlink(path)


# --- single files and run folders ----------------------------------------------------------

def check_file_target(out: str, inputs: Inputs = (), home: str | None = None) -> None:
    """Usage errors (exit 2) for a single-file output: anything at the target but a
    regular file, the target being an input, or lying inside an input folder. ``home`` is
    the dataset the file is about (``report``, ``charset``): the file may go directly into
    it, under a name that is not one of the dataset's own files."""
    _refuse_special(out)
    for label, path in inputs:
        if _same_file(out, path) or os.path.realpath(out) == os.path.realpath(path):
            raise UsageError(f"{out} is the input {path} ({label}); choose another -o")
        if _contains(path, out) and not _allowed_in_home(out, path, home):
            raise UsageError(f"{out} lies inside the input {path} ({label}); choose another -o")


def _allowed_in_home(out: str, folder: str, home: str | None) -> bool:
    real = os.path.realpath(out)
    return (home is not None and os.path.realpath(folder) == os.path.realpath(home)
            and os.path.dirname(real) == os.path.realpath(home)
            and os.path.basename(real) not in DATASET_FILES)


def _refuse_special(out: str) -> None:
    kind = kind_of(out)
    if kind not in (None, "regular file"):
        raise UsageError(f"{out} is a {kind}; dataconv writes only a new file or over a "
                               "regular file, so it is left untouched: choose another -o")


def check_folder_target(out: str, inputs: Inputs = ()) -> None:
    """Usage errors (exit 2) for a folder written in place (``train --out``): it may exist,
    but only as a real folder (not a symlink, file or device), and it overlaps no input."""
    kind = kind_of(out)
    if kind not in (None, "folder"):
        raise UsageError(f"{out} is a {kind}, not a folder; it is left untouched: choose another --out")
    _refuse_overlap(out, inputs)


@contextlib.contextmanager
def atomic_file(out: str) -> Iterator[str]:
    """Yield a temporary path beside ``out``; when the block succeeds the file there
    replaces ``out``. On failure or a signal it is removed and ``out`` left as it was."""
    out = os.path.abspath(out)
    _refuse_special(out)
    parent, name = os.path.split(out)
    _remove_stale(parent, name)
    tmp = os.path.join(parent, f".{name}{TMP_MARK}{os.getpid()}")
    _remove(tmp)
    try:
        yield tmp
        with interrupts.deferred():
            interrupts.check()
            _refuse_special(out)  # again: something may have appeared there meanwhile
            os.replace(tmp, out)
    except BaseException:
        _remove(tmp)
        raise


def write_text(out: str, text: str) -> None:
    """Write ``text`` as UTF-8 (``\\n`` line ends kept as they are) to ``out`` atomically."""
    with atomic_file(out) as tmp, open(tmp, "xb") as f:
        f.write(text.encode("utf-8"))
