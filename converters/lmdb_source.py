"""Existing LMDB datasets (clovaai / PARSeq / MMOCR / PaddleOCR layout) as a source.

Every folder holding a ``data.mdb`` under ``-i`` (and under each ``--also TREE``) is
read with ``dataconv.io.lmdb_tree``: ``num-samples``, ``label-%09d``, ``image-%09d``. Only
labels are read while parsing; images stay in the LMDB as lazy ``LmdbImage``
references until the shard is built, so a tree of any size merges in bounded memory.
Every sample runs through the checks again (a truncated image is rejected, not a
crash), ``--label-regex`` filters, and the usual options re-split and re-shard.
Sample ids are the LMDB folder relative to the trees' common parent plus ``#index``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterator

from dataconv.io import lmdb_keys
from dataconv.converters.base import Converter, register
from dataconv.io.userregex import compile_user
from dataconv.errors import DataconvError
from dataconv.io.dataset_reader import close_handles, handle
from dataconv.io.lmdb_image import LmdbImage
from dataconv.io.lmdb_tree import find_lmdbs, num_samples, read_errors
from dataconv.optionspec import Path, option
from dataconv.sample import Parsed, Reject, Sample


def iter_labels(path: str, root: str | None) -> Iterator[tuple[int, bytes | None]]:
    """(index, raw label or None) of every sample of one LMDB, without reading images.
    The handle is the one ``LmdbImage`` reads through later in this process."""
    env = handle(path, root)
    total = num_samples(env, path)
    with read_errors(path), env.begin() as txn:
        for i in range(1, total + 1):
            yield i, txn.get(lmdb_keys.label_key(i))


def trees_base(trees: list[str]) -> str:
    """The folder sample ids are relative to: the common parent of the trees."""
    return os.path.commonpath([os.path.dirname(os.path.abspath(t)) for t in trees])


@dataclass(frozen=True)
class LmdbSourceOptions:
    also: tuple[str, ...] = option((), "Another LMDB tree to merge in (repeatable).", multiple=True,
                                   type=Path(exists=True, file_okay=False))
    label_regex: str | None = option(None, "Keep only labels matching this regular expression (full match).")


@register("lmdb", help="existing LMDB datasets (one or more trees): re-validate, filter, re-split, merge",
          example="dataconv lmdb -i old_dataset --also more_data --label-regex '^[0-9a-z]+$' -o merged")
class LmdbSource(Converter):
    Options = LmdbSourceOptions

    def close(self) -> None:
        close_handles()  # the handles the labels and the images were read through

    def samples(self) -> Iterator[Parsed]:
        trees = [self.src.path, *self.options.also]
        pattern = self._pattern()
        base = trees_base(trees)
        for tree in trees:
            # Each tree is a source folder: no LMDB in it is read through a symlink out of
            # it unless --follow-symlinks.
            root = None if self.follow_symlinks else os.path.abspath(tree)
            for path in find_lmdbs(tree, confined=root is not None):
                path = os.path.abspath(path)
                name = os.path.relpath(path, base).replace(os.sep, "/")
                for index, raw in iter_labels(path, root):
                    yield self._item(LmdbImage(path, index, root), name, raw, pattern)

    def _pattern(self) -> Any:
        regex = self.options.label_regex
        return compile_user(regex, "--label-regex") if regex else None

    @staticmethod
    def _item(image: LmdbImage, name: str, raw: bytes | None,
              pattern: Any) -> Parsed:
        index = image.index
        sid = f"{name}#{index:09d}"
        if raw is None:
            return Reject(sid, "missing_label", f"no label-{index:09d} key", sid)
        try:
            label = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            return Reject(sid, "undecodable_label", f"not UTF-8 at byte {e.start}", sid)
        if pattern is not None and not pattern.fullmatch(label):
            return Reject(sid, "filtered_label", f"{label[:80]!r} does not match --label-regex", sid)
        return Sample(id=sid, label=label, image=image, source=sid)
