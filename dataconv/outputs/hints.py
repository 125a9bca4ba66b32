"""What to try when one reject reason ate a run: one table, keyed by reject reason.

A conversion that writes nothing is an error (exit 1), and one where a single reason
rejects most samples gets a warning: both say the reason, how many samples it took, the
first sample it took (with the exact path looked up, for a missing image) and what the
usual cause is (``-i`` one folder too deep, a missing ``--sep space``). The pipeline, the
layout converter and the summary all read ``ADVICE``; nothing else knows these causes.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from dataconv.errors import DataconvError
from dataconv.sample import Reject

WARN_SHARE = 0.5  # a reason that rejects at least half of the input ...
WARN_MIN = 10  # ... and at least this many samples is worth a warning
# Rejects by design (what --kind / --set leave out, regions the format marks as not text):
# however many, they are not a fault to warn about; they still explain a run of 0 samples.
SELECTIONS = frozenset({"excluded_kind", "excluded_set", "dont_care", "illegible"})
_NOT_FOUND = re.compile(r"^(?P<rel>.+) not found$")  # dataconv/io/paths.py read_inside


@dataclass(frozen=True)
class RunContext:
    """What a hint may mention: the ``-i`` folder, the format and its recorded options."""

    src: str
    fmt: str
    options: Mapping[str, Any] = field(default_factory=dict)


def _missing_image(example: Reject | None, ctx: RunContext) -> str:
    """The path looked up under ``-i``, and whether it exists one folder up or down."""
    if example is None:  # the summary: no sample at hand
        return "is -i one folder too deep or too shallow?"
    match = _NOT_FOUND.match(example.detail)
    if match is None:  # a name searched for anywhere under -i (index-based formats)
        return f"{example.detail} ({ctx.src}) - is -i the folder that holds the images?"
    rel = match["rel"]
    looked = os.path.join(ctx.src, rel)
    parent = os.path.dirname(os.path.abspath(ctx.src))
    if os.path.lexists(os.path.join(parent, rel)):
        return f"{looked} not found, but it exists under {parent}: -i is one folder too deep"
    for child in _subfolders(ctx.src):
        if os.path.lexists(os.path.join(child, rel)):
            return f"{looked} not found, but it exists under {child}: -i is one folder too shallow"
    return f"{looked} not found - is -i one folder too deep or too shallow?"


def _subfolders(src: str, limit: int = 64) -> list[str]:
    """A few immediate subfolders of ``src`` (enough to catch ``-i`` one level too shallow)."""
    try:
        with os.scandir(src) as entries:
            names = sorted(e.name for e in entries if e.is_dir(follow_symlinks=False))
    except OSError:
        return []
    return [os.path.join(src, n) for n in names[:limit]]


def _no_separator(example: Reject | None, ctx: RunContext) -> str:
    if ctx.options.get("sep") == "tab":
        return "no tab in these lines: try --sep space"
    if ctx.fmt in ("paddle-rec", "paddle-det"):
        return "PaddleOCR label files separate the image path from the label with a TAB"
    return "the label file does not use the separator this format expects"


def _static(text: str) -> Callable[[Reject | None, RunContext], str]:
    return lambda example, ctx: text


ADVICE: dict[str, Callable[[Reject | None, RunContext], str]] = {
    "missing_image": _missing_image,
    "no_separator": _no_separator,
    "nul_byte": _static("NUL bytes are corruption, or a UTF-16 file read as UTF-8: try --encoding utf-16"),
    "invalid_unicode": _static("the annotation text is not valid Unicode (a lone surrogate escape)"),
    "path_outside_source": _static("the paths leave -i: point -i at the folder they are relative to "
                                   "(or pass --follow-symlinks for symlinks)"),
    "bad_path": _static("image paths hold NUL bytes or invalid Unicode: is --encoding right?"),
    "undecodable_image": _static("the image files are not images: a truncated download or a failed unzip?"),
    "unknown_image_id": _static("annotation image_ids match no images[] id: "
                                "is this the label file of these images?"),
    "unannotated_image": _static("no annotation names these images: is this the right label file (--type)?"),
    "missing_label": _static("images without a label beside them: is -i the right folder?"),
    "malformed_line": _static("lines are not x1,y1,...,x4,y4,text: is this an ICDAR2015 detection gt?"),
    "empty_label": _static("the labels are empty: is the label column the right one?"),
    "out_of_charset": _static("labels use characters outside --charset: check the file, or "
                              "--charset-policy keep"),
    "label_too_long": _static("raise --max-label-length"),
    "too_small": _static("lower --min-height / --min-width"),
    "aspect_ratio": _static("raise --max-aspect"),
    "excluded_kind": _static("--kind excludes them"),
    "excluded_set": _static("--set excludes them"),
    "too_many_pixels": _static("raise --max-pixels if these are genuine scans"),
    "not_a_file": _static("the image paths name folders, FIFOs or devices"),
    "unreadable_image": _static("the OS refused to read the images: check permissions"),
}


def advice(reason: str, example: Reject | None, ctx: RunContext) -> str:
    """The hint for ``reason`` (empty when the table has none)."""
    make = ADVICE.get(reason)
    return make(example, ctx) if make is not None else ""


def dominant(reasons: Mapping[str, int]) -> tuple[str, int] | None:
    """The reason that rejected the most samples (ties: the first by name)."""
    if not reasons:
        return None
    return min(reasons.items(), key=lambda kv: (-kv[1], kv[0]))


def alarming(reasons: Mapping[str, int], total: int) -> tuple[str, int] | None:
    """The fault (not a selection) that rejected most samples, when it is worth a warning."""
    top = dominant({r: n for r, n in reasons.items() if r not in SELECTIONS})
    if top is not None and top[1] >= WARN_MIN and top[1] >= WARN_SHARE * total:
        return top
    return None


def explain(reason: str, count: int, total: int, example: Reject | None, ctx: RunContext) -> str:
    """``missing_image (12 of 12, first gt.txt:1): SRC/x.png not found - ...``."""
    first = f", first {example.source}" if example is not None else ""
    text = f"{reason} ({count} of {total}{first})"
    hint = advice(reason, example, ctx)
    if hint:
        return f"{text}: {hint}"
    return f"{text}: {example.detail}" if example is not None and example.detail else text


def check_outcome(written: int, total: int, rejects: Iterable[Reject], ctx: RunContext) -> str | None:
    """Raise DataconvError when nothing was written; return a warning when one reason
    rejected most samples (``is_alarming``); None otherwise."""
    counts: Counter[str] = Counter()
    first: dict[str, Reject] = {}
    for r in rejects:
        counts[r.reason] += 1
        first.setdefault(r.reason, r)
    if written == 0:
        top = dominant(counts)
        why = explain(top[0], top[1], total, first[top[0]], ctx) if top else "nothing to write"
        raise DataconvError(one_line(f"{ctx.src}: 0 of {total} samples written; {why}"))
    top = alarming(counts, total)
    return one_line(explain(top[0], top[1], total, first[top[0]], ctx)) if top else None


def one_line(text: str) -> str:
    """``text`` printable on one line: line breaks as spaces, invalid Unicode escaped."""
    text = text.replace("\r", " ").replace("\n", " ")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def summary_hint(card: Mapping[str, Any]) -> str | None:
    """The advice line of the end-of-run summary, from the manifest alone."""
    total = card.get("counts", {}).get("input", 0)
    top = alarming(card.get("rejects") or {}, total)
    if top is None:
        return None
    ctx = RunContext(src="-i", fmt=card.get("format", ""), options=card.get("options") or {})
    hint = advice(top[0], None, ctx)
    return f"{top[0]} rejected {top[1]} of {total}" + (f": {hint}" if hint else "")
