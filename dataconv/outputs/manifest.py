"""manifest.json: the dataset card. Sorted keys, no timestamps, no absolute paths, so the
same input and options give the same bytes."""
from __future__ import annotations

import json
import os
from typing import Any

from dataconv import __version__

MANIFEST = "manifest.json"
REJECTS = "rejects.jsonl"
SAMPLES = "samples.parquet"
CHARSET = "charset.txt"


def card(*, fmt: str, options: dict[str, Any], counts_input: int, split_counts: dict[str, int],
          reject_counts: dict[str, int], shards: list[dict[str, Any]], charset: str) -> dict[str, Any]:
    written = sum(split_counts.values())
    rejected = sum(reject_counts.values())
    return {
        "format": fmt,
        "options": options,
        "dataconv_version": __version__,
        "counts": {"input": counts_input, "written": written, "rejected": rejected,
                   "splits": dict(split_counts)},
        "rejects": dict(sorted(reject_counts.items())),
        "shards": shards,
        "charset": charset,
    }


LIMIT = 64 * 1024**2  # a manifest.json bigger than this is not one dataconv wrote


def is_dataconv_card(card: Any) -> bool:
    """Whether a parsed manifest.json carries dataconv's fields (on disk or in a bucket)."""
    if not isinstance(card, dict):
        return False
    counts = card.get("counts")
    return (isinstance(card.get("dataconv_version"), str) and isinstance(counts, dict)
            and all(type(counts.get(k)) is int for k in ("input", "written", "rejected")))


def write(folder: str, manifest: dict[str, Any]) -> None:
    """manifest.json, strict JSON: a NaN or infinity (never valid JSON) stops the run before
    the dataset appears, naming where it is, instead of landing in the file."""
    from dataconv.errors import DataconvError
    from dataconv.io.schema import non_finite

    bad = non_finite(manifest)
    if bad is not None:
        where = ".".join(map(str, bad[0]))
        raise DataconvError(f"{MANIFEST}: {where} would be {bad[1]!r}, not a finite number; nothing was written")
    with open(os.path.join(folder, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, sort_keys=True, indent=2, allow_nan=False)
        f.write("\n")


def read(folder: str) -> dict[str, Any]:
    """The manifest of a dataset the user named; a FIFO or device in its place is a
    one-line error, never waited on."""
    from dataconv.io.safeopen import open_user_path

    with os.fdopen(open_user_path(os.path.join(folder, MANIFEST)), encoding="utf-8") as f:
        return json.load(f)


def portable_options(options: dict[str, Any], src: str) -> dict[str, Any]:
    """Option values for the manifest: paths made relative to the source (or bare file
    names), so no absolute path is recorded."""
    src_abs = os.path.abspath(src)
    out = {}
    for key, value in sorted(options.items()):
        if isinstance(value, (tuple, list)):
            out[key] = [_portable(v, src_abs) for v in value]  # repeatable options
        else:
            out[key] = _portable(value, src_abs)
    return out


def _portable(value: Any, src_abs: str) -> Any:
    if isinstance(value, str) and os.path.isabs(value) or (
            isinstance(value, str) and os.sep in value and os.path.exists(value)):
        absv = os.path.abspath(value)
        return os.path.relpath(absv, src_abs) if absv.startswith(src_abs + os.sep) else os.path.basename(absv)
    return value
