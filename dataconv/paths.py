"""Resolving annotation paths safely: nothing outside the source folder is ever opened."""
from __future__ import annotations

import os

from dataconv.errors import SampleRejected


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def resolve_inside(root: str, rel: str, follow_symlinks: bool = False) -> str:
    """Return the absolute path of ``rel`` under ``root`` or reject the sample.

    Absolute paths and ``..`` that climb out of ``root`` are refused without touching
    the file system. Unless ``follow_symlinks``, a path whose real location (after
    resolving symlinks) is outside ``root`` is refused as well.
    """
    if not rel:
        raise SampleRejected("missing_image", "empty image path")
    if os.path.isabs(rel) or rel.startswith(("\\", "/")) or (len(rel) > 1 and rel[1] == ":"):
        raise SampleRejected("path_outside_source", f"absolute path {rel!r}")
    root_abs = os.path.abspath(root)
    candidate = os.path.normpath(os.path.join(root_abs, rel))
    if not _inside(candidate, root_abs):
        raise SampleRejected("path_outside_source", f"{rel!r} leaves the source folder")
    if not follow_symlinks:
        real = os.path.realpath(candidate)
        if not _inside(real, os.path.realpath(root_abs)):
            raise SampleRejected(
                "path_outside_source", f"{rel!r} is a symlink out of the source folder"
            )
    return candidate
