"""What ``-i`` names: a folder, or an archive (``.zip``, ``.tar``, ``.tar.gz``/``.tgz``) read
in place, on disk or in object storage (an ``s3://`` prefix read as a folder, an archive
object read by ranged GETs: ``dataconv.io.remote``). The one seam between converters and where their files live.

A converter holds a ``SourceRoot`` (``Converter.src``) and never asks which kind it is: the
io functions that take a root accept one and route through it:

* ``imagefind.walk_files(root)`` / ``ImageIndex(root)``: every file under it;
* ``InputFile.inside(root, rel)`` then ``textfile``/``jsonstream``: an annotation file,
  streamed and capped (``safeopen.open_input``);
* ``FileImage(root, rel)`` / ``CropImage`` / ``paths.read_inside``: an image's bytes;
* ``root.is_dir()`` (a folder or an archive: something that holds files) and
  ``InputFile.exists()`` instead of ``os.path.isdir``/``os.path.lexists``;
* ``Converter.named_file(path)`` for a file option (``--labels``): a path on disk, else
  the archive's member of that name.

A folder goes through the confined opens of ``safeopen``; an archive through
``archive.Archive`` (the same rules on member names, reads bounded). A plain string
root is a folder, as before; ``SourceRoot.of`` (``Converter.__init__``) is where ``-i``
becomes an archive root: by its suffix, when it is a regular file. ``SourceRoot`` is
``os.PathLike`` (its path), so messages and ``os.path.join`` name the archive; it
pickles as (path, name encoding) and every process opens the archive itself.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator, Union

from dataconv.errors import DataconvError, SampleRejected
from dataconv.io import safeopen
from dataconv.io.archive import Archive, is_archive
from dataconv.io.decode import DEFAULT_MAX_PIXELS
from dataconv.io.paths import name_forms, read_inside
from dataconv.io.remote import RemoteFolder, is_url, options_text

MAX_MEMBER_BYTES = safeopen.DEFAULT_LIMITS.whole_bytes  # an image decompressed from an archive

_ARCHIVES: dict[tuple[str, str | None], Archive] = {}  # this process's handles
_REMOTES: dict[tuple[str, str], RemoteFolder] = {}
Reader = Union[Archive, RemoteFolder]  # what a root that is not a local folder reads through


@dataclass(frozen=True)
class SourceRoot:
    """A source folder, or an archive read as one (``archive`` is then not None); with
    ``more``, several of them that together form the source (an AI Hub label zip and its
    image zips): each file is read from the one part that holds it."""

    path: str
    name_encoding: str | None = None  # --name-encoding: how unflagged archive member names decode
    more: tuple[str, ...] = ()  # --also-input: the other parts
    # A URL's storage options (JSON, ``dataconv.io.remote``): they travel with the root to
    # every worker, which opens its own filesystem; never shown.
    storage: str = field(default="", repr=False, compare=False)

    @classmethod
    def of(cls, src: Root, name_encoding: str | None = None, more: tuple[str, ...] = ()) -> SourceRoot:
        """``src`` as a root: a SourceRoot stays as it is, a string is wrapped."""
        if isinstance(src, SourceRoot):
            return src
        paths = (os.fspath(src), *(os.fspath(p) for p in more))
        storage = options_text() if any(is_url(p) for p in paths) else ""
        return cls(paths[0], name_encoding, paths[1:], storage)

    def __str__(self) -> str:
        return self.path

    def __fspath__(self) -> str:
        return self.path

    @property
    def archive(self) -> Archive | None:
        """This process's reader of the archive; None for a folder."""
        if not is_archive(self.path):
            return None
        key = (self.path, self.name_encoding)
        if key not in _ARCHIVES:
            _ARCHIVES[key] = Archive(self.path, self.name_encoding, self.storage)
        return _ARCHIVES[key]

    @property
    def remote(self) -> RemoteFolder | None:
        """This process's reader of a URL prefix read as a folder; None otherwise."""
        if not is_url(self.path) or is_archive(self.path):
            return None
        key = (self.path, self.storage)
        if key not in _REMOTES:
            _REMOTES[key] = RemoteFolder(self.path, self.storage)
        return _REMOTES[key]

    @property
    def reader(self) -> Reader | None:
        """What files are read through: an archive, a URL prefix; None for a local folder."""
        return self.archive or self.remote

    @property
    def is_folder(self) -> bool:
        """One plain local folder: what ``safeopen`` opens by descriptor, as before archives."""
        return not self.more and self.reader is None

    @property
    def parts(self) -> tuple[SourceRoot, ...]:
        """The single folders or archives the source is made of."""
        if not self.more:
            return (self,)
        return tuple(SourceRoot(p, self.name_encoding, (), self.storage) for p in (self.path, *self.more))

    def part_for(self, rel: str) -> SourceRoot:
        """The part holding ``rel`` (the first when none does: its read says missing); a
        file found in two parts is ``ambiguous_image``, not a guess."""
        if not self.more:
            return self
        safeopen.rel_parts(rel)  # an empty, absolute or climbing path: the folder's reject
        holders = [part for part in self.parts if any(part.exists(form) for form in name_forms(rel))]
        if len(holders) > 1:
            raise SampleRejected("ambiguous_image", f"{rel} is in both {holders[0]} and {holders[1]}")
        return holders[0] if holders else self.parts[0]

    def is_dir(self) -> bool:
        """Whether files can be found under it: folders or archives."""
        return all(p.archive is not None or (p.remote.is_dir() if p.remote else os.path.isdir(p.path))
                   for p in self.parts)

    def exists(self, rel: str) -> bool:
        """Whether ``rel`` names something under the root (a member for an archive, even
        one that is refused when read: the read says why)."""
        try:
            name = "/".join(safeopen.rel_parts(rel))
        except SampleRejected:
            return True  # named, and refused when opened: nothing outside is looked at
        if self.more:
            return any(part.exists(name) for part in self.parts)
        reader = self.reader
        if reader is None:
            return os.path.lexists(os.path.join(self.path, name))
        return reader.exists(name)

    def files(self) -> Iterator[str]:
        """Every regular file under the root, relative, in sorted order."""
        if self.more:
            return iter(sorted({rel for part in self.parts for rel in part.files()}))
        reader = self.reader
        if reader is None:
            return safeopen.walk_files(self.path)
        return iter(reader.files())

    def read(self, rel: str, follow_symlinks: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
        """The bytes of the image file ``rel``, or the sample's reject (``paths.read_inside``);
        an archive member is bounded by ``max_pixels`` before it is held (``archive``)."""
        if self.more:
            return self.part_for(rel).read(rel, follow_symlinks, max_pixels)
        reader = self.reader
        if reader is None:
            return read_inside(self.path, rel, follow_symlinks)
        return reader.read(rel, MAX_MEMBER_BYTES, max_pixels)

    def open(self, rel: str, follow_symlinks: bool = False,
             max_bytes: int = safeopen.DEFAULT_LIMITS.streamed_bytes) -> BinaryIO:
        """The file ``rel`` as a stream (a per-sample text file): SampleRejected or OSError
        as ``safeopen.open_inside`` raises them, so the caller rejects the one sample."""
        if self.more:
            return self.part_for(rel).open(rel, follow_symlinks, max_bytes)
        reader = self.reader
        if reader is None:
            return os.fdopen(safeopen.open_inside(self.path, rel, follow_symlinks), "rb")
        return reader.open_stream(rel, max_bytes)

    def open_member(self, rel: str, max_bytes: int, follow_symlinks: bool = False) -> BinaryIO:
        """The file ``rel`` opened as a stream, for ``safeopen.open_input`` (a whole-run
        input): a one-line error naming it when missing, hostile or over ``max_bytes``."""
        try:
            part = self.part_for(rel)
            if part.reader is None:  # a local folder part: the confined open, its size checked
                return safeopen.open_input(safeopen.InputFile.inside(part.path, rel, follow_symlinks), max_bytes)
            return part.open(rel, max_bytes=max_bytes)
        except SampleRejected as e:
            raise DataconvError(f"{os.path.join(self.path, rel)}: {e.reason}: {e.detail}") from None


Root = Union[str, SourceRoot]  # a plain string is a folder path


def walk_files(root: Root) -> Iterator[str]:
    """Every regular file under ``root`` (a folder or an archive), relative, sorted."""
    return root.files() if isinstance(root, SourceRoot) else safeopen.walk_files(root)
