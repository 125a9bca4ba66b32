"""Where the workers of a run leave what they write: shards, samples.parquet part files,
the checked pass's spools, detection page images.

Every path a worker is given lies in the run's build folder (``root``). On disk, that is
where the workers write (``Stage(root)``: they share the driver's disk). For an
object-storage output (``-o s3://...``) the workers may run on machines that do not see the
build folder, so ``Stage(root, url)`` has each work item write into its own local scratch
folder and, when the item succeeds, upload what it wrote to the same relative key under
the staging prefix ``url`` (``OUT/.dataconv-staging``), then remove the scratch folder. The
driver renames, fetches and removes staged files through the same object, and the commit
(``remote_out.upload``) moves what is left under the staging prefix into place before the
manifest is written. A failed run removes the staging prefix (``remote_out.remote_output``).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Callable, ContextManager, Iterator

from dataconv.io.remote import STAGING  # the staging prefix's name under an object-storage OUT
# Bytes between two records of a staged spool read rather than skipped: a ranged GET costs
# milliseconds whatever its size, and a split's records are spread over every spool.
STAGED_READ_GAP = 1 << 20

Read = Callable[[int, int], bytes]  # (size, offset) -> the bytes there
Hold = Callable[[], ContextManager[None]]


@contextlib.contextmanager
def local_reader(path: str) -> Iterator[Read]:
    """Ranged reads of the local file ``path``."""
    fd = os.open(path, os.O_RDONLY)
    try:
        yield lambda size, offset: os.pread(fd, size, offset)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Stage:
    root: str  # the run's build folder on the driver
    url: str | None = None  # the staging prefix; None: workers write into ``root`` itself
    options: str = ""  # storage options, so a Dask worker opens the store as the driver does
    # Holds a stop signal back while one object goes up or is moved (``interrupts.deferred``
    # in the driver, which runs the items itself with --workers 1): a request left running
    # when the signal lands would finish after the clean-up and leave its object behind.
    hold: Hold = contextlib.nullcontext

    def rel(self, path: str) -> str:
        rel = os.path.relpath(path, self.root)
        if rel.startswith(os.pardir):
            raise ValueError(f"{path} is not in the build folder {self.root}")
        return rel.replace(os.sep, "/")

    def key(self, path: str) -> str:
        """The staged object of the build-folder path ``path``."""
        return f"{self.url}/{self.rel(path)}"

    @property
    def read_gap(self) -> int:
        """How far apart two records of a spool may be and still be read together."""
        return 0 if self.url is None else STAGED_READ_GAP

    def under(self, name: str) -> Stage:
        """The stage of the folder ``name`` in the build folder (a dataset inside the output)."""
        url = f"{self.url}/{name}" if self.url is not None else None
        return Stage(os.path.join(self.root, name), url, self.options, self.hold)

    def _fs(self):  # noqa: ANN202 - an fsspec filesystem, imported only for a URL
        from dataconv.io import remote

        return remote.filesystem(self.url or "", self.options)[0]

    @contextlib.contextmanager
    def scratch(self) -> Iterator[Callable[[str], str]]:
        """For one work item: a function giving the local path to write each build-folder
        path at. When the block succeeds, everything written is staged (uploaded, then the
        scratch folder removed); the scratch folder is removed either way."""
        if self.url is None:
            yield lambda path: path
            return
        os.makedirs(scratch_folder(self.root), exist_ok=True)
        local = tempfile.mkdtemp(dir=scratch_folder(self.root))
        try:
            yield lambda path: os.path.join(local, self.rel(path))
            self._upload(local)
        finally:
            shutil.rmtree(local, ignore_errors=True)

    def _upload(self, local: str) -> None:
        from dataconv.io import remote

        fs = self._fs()
        for here, _, files in os.walk(local):
            for name in sorted(files):
                path = os.path.join(here, name)
                key = f"{self.url}/{os.path.relpath(path, local).replace(os.sep, '/')}"
                with remote.errors(key), self.hold():
                    fs.put_file(path, key)

    @contextlib.contextmanager
    def reader(self, path: str) -> Iterator[Read]:
        """Ranged reads of the file ``path`` (a spool), wherever it was staged."""
        if self.url is None:
            with local_reader(path) as read:
                yield read
            return
        from dataconv.io import remote

        fs, key = self._fs(), self.key(path)
        with remote.errors(key):
            yield lambda size, offset: bytes(fs.cat_file(key, start=offset, end=offset + size))

    def rename(self, src: str, dst: str) -> None:
        """Rename a staged folder (a shard given its final name): each of its objects
        copied server-side, then removed."""
        if self.url is None:
            os.rename(src, dst)
            return
        from dataconv.io import remote

        fs, old, new = self._fs(), self.key(src), self.key(dst)
        listed_as = old.split("://", 1)[-1]  # fsspec lists keys without the scheme
        with remote.errors(old, keep=()):
            keys = remote.objects(fs, old, old)
            for key in keys:
                with self.hold():
                    fs.copy(key, new + key[len(listed_as):])
            with self.hold():
                fs.rm(keys)

    def fetch(self, path: str) -> None:
        """Bring the staged file ``path`` (a part file) to ``path`` on this machine."""
        if self.url is None:
            return
        from dataconv.io import remote

        os.makedirs(os.path.dirname(path), exist_ok=True)
        with remote.errors(self.key(path), keep=()):
            self._fs().get_file(self.key(path), path)

    def remove(self, path: str) -> None:
        """Remove a staged folder (the spools, the part files) and its local copy."""
        shutil.rmtree(path, ignore_errors=True)
        if self.url is None:
            return
        from dataconv.io import remote

        fs, key = self._fs(), self.key(path)
        keys = remote.objects(fs, key, key)
        if keys:
            with remote.errors(key):
                fs.rm(keys)


def scratch_folder(root: str) -> str:
    """The folder of a run's scratch folders on a machine: named by the run's build folder,
    so that the driver removes what the workers on its own machine left when they were
    ended in the middle of an item (``remove_scratch``)."""
    return os.path.join(tempfile.gettempdir(), f"dataconv-scratch-{os.path.basename(root.rstrip(os.sep))}")


def remove_scratch(root: str) -> None:
    shutil.rmtree(scratch_folder(root), ignore_errors=True)


def staging_url(out: str) -> str:
    return f"{out.rstrip('/')}/{STAGING}"


def for_output(out: str, root: str, hold: Hold = contextlib.nullcontext) -> Stage:
    """The stage of a run writing ``out`` from the build folder ``root``: staged in object
    storage when ``out`` is a URL (whether or not the workers could see ``root``: one path,
    the same for ``--workers`` and any Dask cluster)."""
    from dataconv.io import remote

    if not remote.is_url(out):
        return Stage(root)
    return Stage(root, staging_url(out), remote.options_text(), hold)
