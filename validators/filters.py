"""Conversion-time filters shared by every converter: image size and shape, label length
and charset coverage. (Duplicate images need one decision over the whole input: that is
the pipeline's ``--dedupe``, not a check.)"""
from __future__ import annotations

from dataclasses import dataclass

from dataconv import charsets
from dataconv.errors import SampleRejected
from dataconv.optionspec import Choice, Path, Range, option
from dataconv.validators.base import CheckOptions, Candidate, check


class SizeCheck:
    """Runs after decoding (order 10), which records the width and height."""

    def __init__(self, min_height: int, min_width: int, max_aspect: float | None) -> None:
        self.min_height, self.min_width, self.max_aspect = min_height, min_width, max_aspect

    def __call__(self, item: Candidate) -> None:
        w, h = item.width or 0, item.height or 0
        if h < self.min_height or w < self.min_width:
            raise SampleRejected("too_small", f"{w}x{h} is below --min-width {self.min_width} "
                                              f"--min-height {self.min_height}")
        if self.max_aspect is not None and w > self.max_aspect * h:
            raise SampleRejected("aspect_ratio", f"{w}x{h}: width/height {w / max(h, 1):.1f} "
                                                 f"exceeds --max-aspect {self.max_aspect:g}")


@dataclass(frozen=True)
class SizeOptions:
    min_height: int = option(0, "Reject images lower than this.", type=Range(int, 0))
    min_width: int = option(0, "Reject images narrower than this.", type=Range(int, 0))
    max_aspect: float | None = option(None, "Reject images whose width/height exceeds this.",
                                      type=Range(float, 0, low_open=True))


@check("size", order=20, options=SizeOptions)
def build_size(checks: CheckOptions) -> SizeCheck | None:
    o = checks.of(SizeOptions)
    return SizeCheck(o.min_height, o.min_width, o.max_aspect) if (o.min_height or o.min_width or o.max_aspect) else None


class LengthCheck:
    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, item: Candidate) -> None:
        if len(item.label) > self.limit:
            raise SampleRejected("label_too_long", f"{len(item.label)} characters > --max-label-length {self.limit}")


@dataclass(frozen=True)
class LengthOptions:
    max_label_length: int | None = option(None, "Reject labels longer than this (after normalisation).",
                                          type=Range(int, 1))


@check("label_length", order=50, options=LengthOptions)
def build_length(checks: CheckOptions) -> LengthCheck | None:
    limit = checks.of(LengthOptions).max_label_length
    return LengthCheck(limit) if limit else None


class CharsetCheck:
    """Rejects labels with characters outside the charset (policy ``reject``), or keeps
    them unchanged (``keep``: ``dataconv validate`` then reports them)."""

    def __init__(self, allowed: frozenset[str], source: str) -> None:
        self.allowed, self.source = allowed, source

    def __call__(self, item: Candidate) -> None:
        missing = "".join(dict.fromkeys(ch for ch in item.label if ch not in self.allowed))
        if missing:
            raise SampleRejected("out_of_charset", f"{missing!r} not in {self.source}")


@dataclass(frozen=True)
class CharsetOptions:
    charset_file: str | None = option(None, "Charset file (one per line, one line, or PARSeq YAML) labels must fit.",
                                      flags=("--charset",), type=Path(text_ok=True))
    charset_encoding: str = option("utf-8", "Encoding of --charset.", show_default=True)
    charset_policy: str = option("reject", "What to do with labels that use other characters.",
                                 type=Choice(("reject", "keep")), show_default=True)


@check("charset", order=60, options=CharsetOptions)
def build_charset(checks: CheckOptions) -> CharsetCheck | None:
    o = checks.of(CharsetOptions)
    if not o.charset_file or o.charset_policy == "keep":
        return None
    cs = charsets.load(o.charset_file, o.charset_encoding)
    return CharsetCheck(cs.unique, cs.source)
