"""A JSON object that names a key twice is refused, by both parsers of annotation files.

``json.loads`` keeps the last value and ijson's streaming builder merges what it meets
(two top-level ``"images"`` arrays become one), so the same file would give different
samples depending on which parser read it, and either way data is dropped without a
word. Both parsers therefore build objects with a hook that notices a repeated key, and
the first one found is a one-line error naming the file and the JSON path.
"""
from __future__ import annotations

from typing import Any, Iterable

from dataconv.errors import DataconvError


class KeyedObject(dict):
    """A JSON object built by ijson (``map_type``); remembers a key given twice."""

    repeated: Any = None  # the first repeated key of this object
    seen = 0  # how many objects with a repeated key were built (any instance)

    def __setitem__(self, key: Any, value: Any) -> None:
        if self.repeated is None and key in self:
            self.repeated = key
            KeyedObject.seen += 1
        dict.__setitem__(self, key, value)


class PairsHook:
    """``object_pairs_hook`` for ``json.loads``: plain dicts, a ``KeyedObject`` marked with
    its repeated key only for an object that has one."""

    def __init__(self) -> None:
        self.found = False

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        marked = KeyedObject(obj)
        seen: set[str] = set()
        marked.repeated = next(k for k, _ in pairs if k in seen or seen.add(k))
        self.found = True
        return marked


def first_repeated(document: Any) -> tuple[tuple[Any, ...], Any] | None:
    """(JSON path of the object, repeated key) of the first marked object, depth first."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, KeyedObject) and value.repeated is not None:
            return path, value.repeated
        if isinstance(value, dict):
            stack.extend(reversed([((*path, k), v) for k, v in value.items()]))
        elif isinstance(value, list):
            stack.extend(reversed([((*path, i), v) for i, v in enumerate(value)]))
    return None


def json_path(parts: Iterable[Any]) -> str:
    """``deque(['annotations', 41, 'text'])`` to ``annotations[41].text``."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def refuse_repeated(document: Any, filename: str, prefix: tuple[Any, ...] = ()) -> None:
    """Raise the one-line error for the first repeated key in ``document`` (found under
    ``prefix`` in its file), if there is one."""
    found = first_repeated(document)
    if found is not None:
        path, key = found
        where = json_path((*prefix, *path, key))
        raise DataconvError(f"{filename}: {where}: the key {key!r} appears twice in one object; "
                            "refused, since one of its values would be dropped silently")
