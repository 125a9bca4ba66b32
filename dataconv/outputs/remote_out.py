"""A dataset written to object storage (``-o s3://bucket/prefix``): built, staged, uploaded,
committed by its manifest.

The run builds exactly as on disk (so the output is the same bytes: shard digests,
samples.parquet, rejects), in a local temporary folder on the driver, except that the
workers, which may run on machines without that folder, upload what they write (shards,
part files, spools, page images) under ``PREFIX/.dataconv-staging/`` themselves
(``outputs.staging``). At the end the driver moves the staged objects into place
(server-side copies), uploads its own files, and **uploads manifest.json last: it is the
commit point**. A reader (``io.remote_dataset``) treats a prefix without one as incomplete.

* What may be at the prefix is decided as on disk (``atomic.check_target``): nothing, or a
  previous dataconv output (a prefix holding dataconv's manifest.json, or only the staged
  objects of a run that could not remove them) with ``--overwrite``; any other object
  under it is refused in one line and left untouched.
* ``--overwrite`` first removes the old manifest (from then on the prefix reads as
  incomplete, never as a mix of two runs), uploads the new files over it, removes the old
  objects the new output does not have, then uploads the new manifest.
* A failed or interrupted run writes no manifest and removes what it staged and uploaded
  (and, once the commit has started replacing an output, what is left of that output)
  where the store lets it; the one-line error says what could not be removed.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from typing import Any, Callable, ContextManager, Iterable, Iterator

from dataconv.errors import REPLACE_HINT, DataconvError, UsageError
from dataconv.io import remote
from dataconv.outputs import manifest
from dataconv.outputs import staging
from dataconv.outputs.staging import STAGING

Inputs = Iterable[tuple[str, str]]


def _card(fs: Any, path: str, url: str) -> Any:
    """The prefix's manifest.json parsed, or None when there is none or it is no JSON."""
    key = f"{path}/{manifest.MANIFEST}"
    try:
        with remote.errors(url):
            if fs.size(key) > manifest.LIMIT:
                return None
            return json.loads(fs.cat_file(key))
    except FileNotFoundError:
        return None
    except ValueError:
        return None


def _staged(path: str, key: str) -> bool:
    return key.startswith(f"{path}/{STAGING}/")


def _inside(outer: str, inner: str) -> bool:
    outer, inner = outer.rstrip("/"), inner.rstrip("/")
    return inner == outer or inner.startswith(outer + "/")


def check_remote_target(url: str, overwrite: bool, inputs: Inputs = ()) -> None:
    """Usage errors (exit 2) for an output prefix the run must not write: one that is, holds
    or lies in an input, one holding objects but no dataconv manifest, a previous output
    without ``--overwrite``. Nothing is touched."""
    for label, path in inputs:
        if remote.is_url(path) and (_inside(url, path) or _inside(path, url)):
            raise UsageError(f"{url} overlaps the source {path} ({label}); choose another output")
    fs, path = remote.filesystem(url)
    keys = remote.objects(fs, path, url)
    if not keys:
        return
    if all(_staged(path, key) for key in keys):
        if not overwrite:
            raise UsageError(f"{url} holds {len(keys)} object(s) staged by a dataconv run that did not finish; "
                             f"{REPLACE_HINT}")
        return
    if not manifest.is_dataconv_card(_card(fs, path, url)):
        raise UsageError(f"{url} holds {len(keys)} object(s) but no dataconv manifest.json (not a dataconv "
                         "output, or one whose upload did not finish); --overwrite replaces only a previous "
                         "dataconv output, so it is left untouched: choose another -o")
    if not overwrite:
        raise UsageError(f"{url} already exists; {REPLACE_HINT}")


Hold = Callable[[], ContextManager[None]]


@contextlib.contextmanager
def remote_output(url: str, overwrite: bool, hold: Hold = contextlib.nullcontext) -> Iterator[str]:
    """Yield a local temporary folder; when the block succeeds it and the staged objects
    are committed to ``url`` (``upload``), manifest last; when it fails, what the workers
    staged is removed. The folder is removed either way. ``hold`` holds a stop signal back
    while one object goes up (``interrupts.deferred``): a request left running when the
    signal lands would finish after the clean-up and leave its object behind."""
    url = url.rstrip("/")
    check_remote_target(url, overwrite)
    _clear_staging(url)
    tmp = tempfile.mkdtemp(prefix="dataconv-upload-")
    try:
        try:
            yield tmp
        except BaseException as e:
            _unstage(url, e)
            raise
        upload(tmp, url, hold)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        staging.remove_scratch(tmp)


def _clear_staging(url: str) -> None:
    """What an earlier run that could not clean up left staged (only ever dataconv's
    objects) is removed before this run stages anything."""
    fs, path = remote.filesystem(url)
    left = remote.objects(fs, f"{path}/{STAGING}", url)
    if left:
        with remote.errors(url):
            fs.rm(left)


def _unstage(url: str, e: BaseException) -> None:
    """After a failed run: remove what its workers staged; a one-line error that also says
    how many staged objects could not be removed (the store failing)."""
    fs, path = remote.filesystem(url)
    try:
        staged = remote.objects(fs, f"{path}/{STAGING}", url)
    except Exception:  # noqa: BLE001 - the store is failing: the original error says why
        staged, left = [], -1
    else:
        left = _remove(fs, staged)
    if left and isinstance(e, (DataconvError, OSError)):
        count = "the staged objects" if left < 0 else f"{left} staged object(s)"
        raise DataconvError(remote.redact(f"{url}: the run failed, no manifest.json was written and {count} "
                                          f"under {url}/{STAGING} could not be removed: delete them before "
                                          f"the next run ({remote.why(e)})")) from None


def _local_files(folder: str) -> list[str]:
    """Every file under ``folder``, relative with ``/``, sorted; the manifest left out."""
    found = []
    for here, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(here, name), folder).replace(os.sep, "/")
            if rel != manifest.MANIFEST:
                found.append(rel)
    return found


def upload(folder: str, url: str, hold: Hold = contextlib.nullcontext) -> None:
    """Commit ``folder`` and the staged objects to ``url``: the staged objects moved into
    place, the files uploaded, the old output's leftovers removed, then manifest.json (the
    commit point). On any failure, what was staged or uploaded and what is left of a
    replaced output are removed where possible (see the module's rules)."""
    fs, path = remote.filesystem(url)
    listed = remote.objects(fs, path, url)
    staged = [key for key in listed if _staged(path, key)]
    old = [key for key in listed if not _staged(path, key)]  # a previous output --overwrite replaces
    written: list[str] = []
    try:
        with remote.errors(url):
            if any(key == f"{path}/{manifest.MANIFEST}" for key in old):
                with hold():
                    fs.rm_file(f"{path}/{manifest.MANIFEST}")  # from now on the prefix reads as incomplete
            for key in staged:
                written.append(f"{path}/{key[len(path) + len(STAGING) + 2:]}")
                with hold():
                    fs.mv(key, written[-1])
            for rel in _local_files(folder):
                written.append(f"{path}/{rel}")
                with hold():
                    fs.put_file(os.path.join(folder, rel), f"{path}/{rel}")
            stale = sorted(set(old) - set(written) - {f"{path}/{manifest.MANIFEST}"})
            if stale:
                with hold():
                    fs.rm(stale)
            with hold():
                fs.put_file(os.path.join(folder, manifest.MANIFEST), f"{path}/{manifest.MANIFEST}")
    except BaseException as e:
        left = _remove(fs, sorted(set(written) | set(old) | set(staged)))
        cleanup = ("what it uploaded was removed" if not left else
                   f"{left} object(s) under it could not be removed: delete them before the next run")
        if isinstance(e, (DataconvError, OSError)):
            raise DataconvError(remote.redact(f"{url}: upload failed, no manifest.json was written and {cleanup} "
                                              f"({remote.why(e)})")) from None
        raise


def _remove(fs: Any, keys: list[str]) -> int:
    """Remove ``keys``; how many could not be (a dead server: all of them)."""
    if not keys:
        return 0
    try:
        fs.rm(keys)
    except Exception:  # noqa: BLE001 - the store is failing; count what is left instead
        return len(keys)
    return 0
