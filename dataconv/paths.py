"""Resolving annotation paths safely: nothing outside the source folder is ever opened.

Also the one place that knows how names written in annotations can differ from the
names on disk without being different files: Unicode normal forms. macOS writes Hangul
file names decomposed (NFD), so a zip made there holds ``ㅎㅏㄴ.png`` while the label
file says ``한.png`` (NFC). The exact name always wins; only when it is missing is the
other normal form tried (``name_forms``), and that is never ambiguous because the two
forms name the same text.
"""
from __future__ import annotations

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


def _resolve(root: str, rel: str, follow_symlinks: bool) -> tuple[str, bool | None]:
    """``resolve_inside``, plus whether the path exists (None when it was not looked at)."""
    _check_text(rel)
    root_abs = os.path.abspath(root)
    candidate = os.path.normpath(os.path.join(root_abs, rel))
    if not _inside(candidate, root_abs):
        raise SampleRejected("path_outside_source", f"{rel!r} leaves the source folder")
    if follow_symlinks:
        return candidate, None
    # os.path.realpath(candidate), with the folder's part cached: only the file itself
    # is looked at (one lstat); a symlink is resolved completely, as before.
    head, tail = os.path.split(candidate)
    try:
        mode = os.lstat(candidate).st_mode
    except OSError:
        mode, exists = 0, False
    else:
        exists = True
    if not tail or stat.S_ISLNK(mode):
        real = os.path.realpath(candidate)
    else:
        real = os.path.join(_real_dir(head), tail)
    if not _inside(real, _real_dir(root_abs)):
        raise SampleRejected(
            "path_outside_source", f"{rel!r} is a symlink out of the source folder"
        )
    return candidate, exists


def resolve_inside(root: str, rel: str, follow_symlinks: bool = False) -> str:
    """Return the absolute path of ``rel`` under ``root`` or reject the sample.

    Absolute paths and ``..`` that climb out of ``root`` are refused without touching
    the file system. Unless ``follow_symlinks``, a path whose real location (after
    resolving symlinks) is outside ``root`` is refused as well.
    """
    return _resolve(root, rel, follow_symlinks)[0]


def resolve_existing(root: str, rel: str, follow_symlinks: bool = False) -> str:
    """``resolve_inside`` for ``rel``, or for its other normal form when only that one
    exists on disk (the exact path otherwise, so that the caller reports it missing)."""
    exact, exists = _resolve(root, rel, follow_symlinks)
    if exists or (exists is None and os.path.lexists(exact)):
        return exact
    for form in name_forms(rel)[1:]:
        path = resolve_inside(root, form, follow_symlinks)
        if os.path.lexists(path):
            return path
    return exact
