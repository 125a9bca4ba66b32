"""A dataset in object storage, read as a local folder: URL -> verified local copy.

Every reader (``ls``, ``validate``, ``report``, ``dump``, ``eval``, ``train``,
``dataconv.open``) takes the folder ``local_folder`` returns and reads it through the
normal local path; nothing else in dataconv reads a dataset's objects.

* manifest.json is the commit point of a remote output (``outputs.remote_out`` uploads it
  last): a prefix without one is an incomplete (or interrupted) run, or not a dataconv
  output, and is refused in one line;
* every object under the prefix is fetched into ``CACHE/<key>.part-<pid>``, each shard is
  verified against the manifest's ``sha256`` (the digest of its logical content,
  ``lmdb_digest``), then the folder is renamed to ``CACHE/<key>``: a cache folder exists
  only complete and verified. ``<key>`` hashes the URL and the manifest's bytes, so a
  replaced output is fetched again and an unchanged one is read from the cache;
* an object key that would climb out of the prefix is never written outside the folder.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from typing import Any

from dataconv.errors import DataconvError, SampleRejected
from dataconv.io import remote
from dataconv.io.lmdb_digest import content_digest
from dataconv.io.safeopen import rel_parts

MANIFEST = "manifest.json"  # the name outputs.manifest writes (io imports no outputs)
MANIFEST_LIMIT = 64 * 1024**2  # as outputs.manifest.LIMIT
CACHE_ENV = "DATACONV_CACHE"


def default_cache() -> str:
    """``--cache`` when given (kept in the environment), else the user cache folder."""
    given = os.environ.get(CACHE_ENV)
    if given:
        return given
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "dataconv", "datasets")


def set_cache(folder: str | None) -> None:
    """``--cache DIR``: where fetched datasets are kept, for this process and its children."""
    if folder:
        os.environ[CACHE_ENV] = os.path.abspath(folder)


def local_folder(url: str, cache: str | None = None) -> str:
    """The dataset at ``url`` as a complete, verified local folder (fetched if needed)."""
    url = url.rstrip("/")
    fs, path = remote.filesystem(url)
    manifest = _manifest_bytes(fs, path, url)
    key = hashlib.sha256(url.encode() + b"\0" + manifest).hexdigest()[:24]
    root = cache or default_cache()
    folder = os.path.join(root, key)
    if os.path.isfile(os.path.join(folder, MANIFEST)):
        return folder
    os.makedirs(root, exist_ok=True)
    part = f"{folder}.part-{os.getpid()}"
    shutil.rmtree(part, ignore_errors=True)
    try:
        _fetch(fs, path, url, part)
        _verify(part, json.loads(manifest), url)
        with open(os.path.join(part, MANIFEST), "wb") as f:
            f.write(manifest)
        try:
            os.rename(part, folder)
        except OSError:  # another process put the same verified copy there first
            pass
    finally:
        shutil.rmtree(part, ignore_errors=True)
    return folder


def _manifest_bytes(fs: Any, path: str, url: str) -> bytes:
    """manifest.json's bytes (sane size, a JSON object), or why the prefix is not read."""
    key = f"{path}/{MANIFEST}"
    try:
        with remote.errors(url):
            size = fs.size(key)
            if size > MANIFEST_LIMIT:
                raise DataconvError(f"{url}/{MANIFEST}: {size} bytes: not a manifest dataconv wrote")
            data = fs.cat_file(key)
    except FileNotFoundError:
        raise DataconvError(f"{url}: no {MANIFEST}: an incomplete dataconv output (a run that is still "
                            "uploading, failed or was interrupted), or not one; nothing was read") from None
    try:
        card = json.loads(data)
    except ValueError:
        card = None
    if not isinstance(card, dict) or not isinstance(card.get("shards", []), list):
        raise DataconvError(f"{url}/{MANIFEST}: not a dataconv manifest")
    return bytes(data)


def _fetch(fs: Any, path: str, url: str, part: str) -> None:
    """Every object under the prefix but the manifest (written last), into ``part``."""
    for key in remote.objects(fs, path, url):
        rel = key[len(path):].lstrip("/")
        try:
            parts = rel_parts(rel)
        except SampleRejected:
            continue  # a key that would land outside the folder: never written
        if not parts or "/".join(parts) == MANIFEST or parts[0] == remote.STAGING:
            continue  # the manifest goes last; a late worker's staged leftovers are no part of it
        local = os.path.join(part, *parts)
        os.makedirs(os.path.dirname(local), exist_ok=True)
        with remote.errors(f"{url}/{rel}", keep=()):
            fs.get_file(key, local)


def _verify(part: str, card: dict[str, Any], url: str) -> None:
    """Each shard the manifest lists is there and holds what its digest says."""
    for shard in card.get("shards", []):
        rel = shard.get("path") if isinstance(shard, dict) else None
        if not isinstance(rel, str) or not os.path.isfile(os.path.join(part, *rel_parts(rel), "data.mdb")):
            raise DataconvError(f"{url}: the shard {rel!r} listed in {MANIFEST} is missing")
        if content_digest(os.path.join(part, *rel_parts(rel))) != shard.get("sha256"):
            raise DataconvError(f"{url}/{rel}: its content does not match the sha256 in {MANIFEST} "
                                "(changed or damaged in storage); nothing was kept")
