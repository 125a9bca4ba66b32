"""Reading the image an annotation names: nothing outside the source folder is opened
(``safeopen.open_inside`` does the opening).

Also the one place that knows how names written in annotations can differ from the
names on disk without being different files: Unicode normal forms. macOS writes Hangul
file names decomposed (NFD), so a zip made there holds ``ㅎㅏㄴ.png`` while the label
file says ``한.png`` (NFC). The exact name always wins; only when it is missing is the
other normal form tried (``name_forms``), and that is never ambiguous because the two
forms name the same text.
"""
from __future__ import annotations

import contextlib
import os
import unicodedata


from dataconv.errors import SampleRejected
from dataconv.io.decode import DEFAULT_MAX_PIXELS
from dataconv.io.safeopen import SourceRoot, has_lone_surrogate, open_inside

__all__ = ["has_lone_surrogate", "name_forms", "read_inside"]


def name_forms(name: str) -> list[str]:
    """``name`` first, then its NFC and NFD forms when they differ (no duplicates)."""
    forms = [name]
    for form in ("NFC", "NFD"):
        other = unicodedata.normalize(form, name)
        if other not in forms:
            forms.append(other)
    return forms


def _read_fd(fd: int) -> bytes:
    """The whole regular file behind ``fd``: one read when its size did not change under us."""
    info = os.fstat(fd)
    data = os.read(fd, info.st_size + 1)
    if len(data) == info.st_size:
        return data
    parts = [data]  # a short read, or a file that grew or shrank: read to the end
    while block := os.read(fd, 1 << 20):
        parts.append(block)
    return b"".join(parts)


def _read_form(root: str, rel: str, follow_symlinks: bool) -> bytes:
    fd = open_inside(root, rel, follow_symlinks)
    try:
        return _read_fd(fd)
    finally:
        os.close(fd)


def read_inside(root: str | SourceRoot, rel: str, follow_symlinks: bool = False,
                max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """The bytes of the image file ``rel`` names under ``root``, or reject the sample.

    ``root`` is a folder path, or a ``source.SourceRoot`` (which reads an archive's member
    with the same rules and rejects, ``dataconv.io.archive``, bounded by ``max_pixels``
    before it is held).

    The file is opened by ``safeopen.open_inside``: absolute paths and ``..`` that climb
    out of ``root`` are refused without touching the file system, and unless
    ``follow_symlinks`` a symlink leading out of ``root`` is refused when it is met. When
    ``rel`` is missing, its other Unicode normal form is tried (``name_forms``): the exact
    name wins.

    Reads go through ``os.read`` on the descriptor rather than ``open()``: ``open()`` also
    seeks and asks whether the file is a terminal."""
    if not isinstance(root, str):
        return root.read(rel, follow_symlinks, max_pixels)
    try:
        try:
            return _read_form(root, rel, follow_symlinks)
        except FileNotFoundError:
            for form in name_forms(rel)[1:]:
                with contextlib.suppress(FileNotFoundError):
                    return _read_form(root, form, follow_symlinks)
    except OSError as e:
        raise SampleRejected("unreadable_image", f"{rel}: {e.strerror or e}") from None
    raise SampleRejected("missing_image", f"{rel} not found")
