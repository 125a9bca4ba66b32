"""Object storage as a place dataconv reads: an ``s3://`` (or any fsspec) URL.

A URL prefix is read as a folder (``RemoteFolder``), a ``.zip``/``.tar`` object as an
archive read in place (``open_file``: a seekable file whose reads are ranged GETs, so
zipfile fetches the central directory and the members it reads, never the whole object).
The rules are the folder's (``dataconv.io.safeopen``):

* a relative path is folded textually (``rel_parts``) before it becomes a key: ``..``
  never climbs above the prefix, so a label path never reads a sibling prefix
  (``path_outside_source``); object storage has no symlinks, FIFOs or devices;
* reads are bounded: an image by one ranged GET of at most the bytes an image may take,
  an annotation file refused past its cap from the size the store lists;
* a missing object is the sample's ``missing_image``, a refused one (403) its
  ``unreadable_image``; a store that cannot be reached (connection refused, timeouts,
  wrong endpoint) ends the run in one line naming the URL: every sample would fail alike.

fsspec and s3fs are imported only here, and only when a URL is opened: a run on local
files never loads them. Each process opens its own filesystem (fsspec caches instances
per process): a root pickles as its URL and the storage options, never a client.

Storage options come from the standard places (AWS environment variables and profiles,
``AWS_ENDPOINT_URL``) or ``--storage-options JSON`` (``set_options``: kept in this
process's environment, so local workers and a local Dask cluster see them too). Every
filesystem gets short connect/read timeouts and few retries, so a dead server fails in
seconds. Nothing secret is printed: messages go through ``redact``.
"""
from __future__ import annotations

import io
import json
import os
import re
from typing import Any, BinaryIO, ContextManager, Iterator

from dataconv.errors import DataconvError, SampleRejected
from dataconv.io.paths import name_forms
from dataconv.io.safeopen import rel_parts

OPTIONS_ENV = "DATACONV_STORAGE_OPTIONS"
# Under an object-storage output: what a run's workers upload before the commit moves it
# into place (outputs/staging.py). Never part of a dataset: readers leave it out.
STAGING = ".dataconv-staging"
OPTIONS_HELP = ("fsspec storage options for s3:// (and other) URLs, as JSON, e.g. '{\"endpoint_url\": "
                "\"http://minio:9000\"}' [default: the AWS environment variables and profiles, "
                "AWS_ENDPOINT_URL]. Never recorded or printed.")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")
# botocore's own timeouts and retries (s3fs passes config_kwargs to its client), and
# s3fs's retries of its own on top of them: a dead endpoint fails in seconds.
S3_DEFAULTS: dict[str, Any] = {"config_kwargs": {"connect_timeout": 3, "read_timeout": 20,
                                                 "retries": {"max_attempts": 2, "mode": "standard"}}}
FS_RETRIES = 2
BLOCK_BYTES = 1 << 20  # an archive object's read-ahead: a member header and its start
SECRET_WORDS = ("key", "secret", "token", "password", "credential", "session")
SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ACCESS_KEY_ID")


def is_url(path: object) -> bool:
    """Whether ``path`` is a URL (``s3://``, ``gs://``, ``memory://``...), not a local path."""
    return isinstance(path, str) and _SCHEME.match(path) is not None


def set_options(text: str | None) -> None:
    """``--storage-options JSON``: checked (a JSON object), then kept in the environment
    for this process and those it starts."""
    if not text:
        return
    try:
        value = json.loads(text)
    except ValueError as e:
        raise DataconvError(f"--storage-options: not JSON ({e.msg} at character {e.pos})") from None
    if not isinstance(value, dict):
        raise DataconvError("--storage-options: expected a JSON object of fsspec storage options")
    os.environ[OPTIONS_ENV] = json.dumps(value, sort_keys=True)


def options_text() -> str:
    """The storage options given to this process (JSON), "" for none."""
    return os.environ.get(OPTIONS_ENV, "")


def _secrets(options: Any) -> Iterator[str]:
    """Every value of a key that names a secret, anywhere in ``options``."""
    if isinstance(options, dict):
        for key, value in options.items():
            if isinstance(value, str) and any(w in str(key).lower() for w in SECRET_WORDS):
                yield value
            else:
                yield from _secrets(value)
    elif isinstance(options, list):
        for value in options:
            yield from _secrets(value)


def redact(text: str) -> str:
    """``text`` with every secret this process was given (storage options' keys, secrets
    and tokens, the AWS environment's) and a URL's ``user:password@`` replaced by ``***``."""
    try:
        options = json.loads(options_text() or "{}")
    except ValueError:
        options = {}
    secrets = [*_secrets(options), *(os.environ.get(name, "") for name in SECRET_ENV)]
    for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    return re.sub(r"(://)[^/@\s]+@", r"\1***@", text)


def _options(url: str, options: str | None) -> dict[str, Any]:
    given = json.loads(options) if options else json.loads(options_text() or "{}")
    if not url.startswith(("s3://", "s3a://")):
        return given
    merged = {**S3_DEFAULTS, **given}
    merged["config_kwargs"] = {**S3_DEFAULTS["config_kwargs"], **given.get("config_kwargs", {})}
    return merged


def filesystem(url: str, options: str | None = None) -> tuple[Any, str]:
    """This process's filesystem for ``url`` and the path inside it (fsspec imported now)."""
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise DataconvError(f"{url}: reading object storage needs fsspec and s3fs: "
                            "pip install 'dataconv[s3]'") from None
    with errors(url):
        fs, path = url_to_fs(url, **_options(url, options))
    if hasattr(fs, "retries"):
        fs.retries = FS_RETRIES
    return fs, path.rstrip("/")


class errors:
    """Faults of the store while ``url`` is used, as one line naming it. The kinds in
    ``keep`` pass through for the caller to decide whose fault they are (a missing object,
    by default; a per-sample read keeps PermissionError too); anything else (access denied,
    wrong credentials, connection refused, timeouts, a bad endpoint) is a DataconvError,
    the whole run's."""

    def __init__(self, url: str, keep: tuple[type[BaseException], ...] = (FileNotFoundError,)) -> None:
        self.url, self.keep = url, keep

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, e: BaseException | None, tb: Any) -> bool:
        if e is None or not isinstance(e, Exception) or isinstance(e, (DataconvError, SampleRejected, *self.keep)):
            return False
        what = "access denied" if isinstance(e, PermissionError) else "object storage failed"
        raise DataconvError(redact(f"{self.url}: {what} ({why(e)})")) from None


def why(e: BaseException) -> str:
    """What the store said, on one line, at most 300 characters."""
    return " ".join((str(e) or type(e).__name__).split())[:300]


def objects(fs: Any, prefix: str, url: str) -> list[str]:
    """Every object under ``prefix/`` as the store lists it (keys without the scheme),
    folder markers left out; [] for none. A store fault is one line naming ``url``."""
    with errors(url):
        try:
            return [key for key in fs.find(prefix.rstrip("/") + "/") if not key.endswith("/")]
        except FileNotFoundError:
            return []


def join(url: str, rel: str) -> str:
    """The key of ``rel`` under the prefix ``url``: folded, never above it
    (``SampleRejected`` ``path_outside_source`` when it climbs out)."""
    return url.rstrip("/") + "/" + "/".join(rel_parts(rel))


def open_file(url: str, options: str | None = None) -> BinaryIO:
    """The object ``url`` as a seekable binary file read by ranged GETs (an archive)."""
    fs, path = filesystem(url, options)
    try:
        with errors(url):
            return io.BufferedReader(Stream(url, fs.open(path, "rb", block_size=BLOCK_BYTES,
                                                         cache_type="readahead")))
    except FileNotFoundError:
        raise DataconvError(f"{url}: no such object") from None


def open_input(url: str, max_bytes: int, options: str | None = None) -> BinaryIO:
    """A whole-run input file at ``url`` (``--gt s3://...``), refused past ``max_bytes``."""
    fs, path = filesystem(url, options)
    try:
        with errors(url):
            size = fs.size(path)
            if size is not None and size > max_bytes:
                raise DataconvError(f"{url}: {size} bytes, over the {max_bytes}-byte limit of an annotation file")
            return io.BufferedReader(Stream(url, fs.open(path, "rb")))
    except FileNotFoundError:
        raise DataconvError(f"{url}: no such object") from None


class RemoteFolder:
    """A URL prefix read as a source folder (see the module's rules)."""

    def __init__(self, url: str, options: str = "") -> None:
        self.url, self.options = url.rstrip("/"), options

    def _fs(self) -> tuple[Any, str]:
        return filesystem(self.url, self.options)

    def is_dir(self) -> bool:
        fs, path = self._fs()
        with errors(self.url):
            return bool(fs.isdir(path))

    def files(self) -> list[str]:
        """Every object under the prefix, relative, sorted; keys that would climb out of
        it or name nothing (folder markers) are not files."""
        fs, path = self._fs()
        with errors(self.url):
            found = fs.find(path)
        names = []
        for key in found:
            rel = key[len(path):].lstrip("/")
            try:
                if rel and not key.endswith("/") and "/".join(rel_parts(rel)) == rel:
                    names.append(rel)
            except SampleRejected:
                continue
        return sorted(names)

    def exists(self, rel: str) -> bool:
        """Whether the object ``rel`` is there (folded; SampleRejected if it climbs out)."""
        fs, _ = self._fs()
        key = join(self.url, rel)
        with errors(key):
            return bool(fs.exists(key))

    def read(self, rel: str, max_bytes: int, max_pixels: int) -> bytes:
        """The bytes of image ``rel`` (its other Unicode form if missing) in one ranged GET
        of at most the bytes an image may take; ``missing_image``, ``unreadable_image``."""
        from dataconv.io import imageheader

        limit = min(max_bytes, imageheader.encoded_bytes_bound(max_pixels))
        fs, _ = self._fs()
        for form in name_forms("/".join(rel_parts(rel))):
            key = join(self.url, form)
            try:
                with errors(key, keep=(FileNotFoundError, PermissionError)):
                    data = fs.cat_file(key, start=0, end=limit + 1)
            except FileNotFoundError:
                continue
            except PermissionError as e:
                raise SampleRejected("unreadable_image", f"{rel}: {redact(why(e))}") from None
            if len(data) > limit:
                raise SampleRejected("unreadable_image", f"{rel}: over {limit} bytes")
            return bytes(data)
        raise SampleRejected("missing_image", f"{rel} not found")

    def open_stream(self, rel: str, max_bytes: int) -> BinaryIO:
        """Annotation file ``rel`` streamed, refused past ``max_bytes`` (one line)."""
        return open_input(join(self.url, rel), max_bytes, self.options)


class Stream(io.RawIOBase):
    """A file object read as a raw stream (buffer it with ``io.BufferedReader``) whose read
    faults are turned into one error naming ``name`` by ``faults`` (here: a store fault
    ends the run in one line, ``errors``); closing it closes ``owned`` too (the handles
    opened for it). ``archive``'s member streams are the same with another ``faults``."""

    def __init__(self, name: str, f: Any, owned: tuple[Any, ...] = ()) -> None:
        self.name, self._f, self._owned = name, f, owned

    def faults(self) -> ContextManager[None]:
        return errors(self.name)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with self.faults():
            data = self._f.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def close(self) -> None:
        if not self.closed:
            self._f.close()
            for owned in self._owned:
                owned.close()
        super().close()
