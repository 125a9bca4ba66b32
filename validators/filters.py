"""Conversion-time filters shared by every converter: image size and shape, label length,
charset coverage, and duplicate images.

``--dedupe`` needs one decision over the whole input (the first occurrence in input order
wins), so its check factory only declares the option; the pipeline's hashing pass
(``dataconv.build.splits.find_duplicates``) turns later copies into rejects.
"""
from __future__ import annotations

from typing import Any, Mapping

import click

from dataconv import charsets
from dataconv.errors import SampleRejected
from dataconv.validators.base import Item, check


class SizeCheck:
    """Runs after decoding (order 10), which records the width and height."""

    def __init__(self, min_height: int, min_width: int, max_aspect: float | None) -> None:
        self.min_height, self.min_width, self.max_aspect = min_height, min_width, max_aspect

    def __call__(self, item: Item) -> None:
        w, h = item.width or 0, item.height or 0
        if h < self.min_height or w < self.min_width:
            raise SampleRejected("too_small", f"{w}x{h} is below --min-width {self.min_width} "
                                              f"--min-height {self.min_height}")
        if self.max_aspect is not None and w > self.max_aspect * h:
            raise SampleRejected("aspect_ratio", f"{w}x{h}: width/height {w / max(h, 1):.1f} "
                                                 f"exceeds --max-aspect {self.max_aspect:g}")


@check("size", order=20, options=(
    click.option("--min-height", type=click.IntRange(min=0), default=0, help="Reject images lower than this."),
    click.option("--min-width", type=click.IntRange(min=0), default=0, help="Reject images narrower than this."),
    click.option("--max-aspect", type=click.FloatRange(min=0, min_open=True), default=None,
                 help="Reject images whose width/height exceeds this."),
))
def build_size(opts: Mapping[str, Any]) -> SizeCheck | None:
    min_h, min_w, aspect = opts.get("min_height") or 0, opts.get("min_width") or 0, opts.get("max_aspect")
    return SizeCheck(min_h, min_w, aspect) if (min_h or min_w or aspect) else None


class LengthCheck:
    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, item: Item) -> None:
        if len(item.label) > self.limit:
            raise SampleRejected("label_too_long", f"{len(item.label)} characters > --max-label-length {self.limit}")


@check("label_length", order=50, options=(
    click.option("--max-label-length", type=click.IntRange(min=1), default=None,
                 help="Reject labels longer than this (after normalisation)."),
))
def build_length(opts: Mapping[str, Any]) -> LengthCheck | None:
    limit = opts.get("max_label_length")
    return LengthCheck(limit) if limit else None


class CharsetCheck:
    """Rejects labels with characters outside the charset (policy ``reject``), or keeps
    them unchanged (``keep``: ``dataconv validate`` then reports them)."""

    def __init__(self, allowed: frozenset[str], source: str) -> None:
        self.allowed, self.source = allowed, source

    def __call__(self, item: Item) -> None:
        missing = "".join(dict.fromkeys(ch for ch in item.label if ch not in self.allowed))
        if missing:
            raise SampleRejected("out_of_charset", f"{missing!r} not in {self.source}")


@check("charset", order=60, options=(
    click.option("--charset", "charset_file", default=None,
                 help="Charset file (one per line, one line, or PARSeq YAML) labels must fit."),
    click.option("--charset-encoding", default="utf-8", show_default=True, help="Encoding of --charset."),
    click.option("--charset-policy", type=click.Choice(["reject", "keep"]), default="reject",
                 show_default=True, help="What to do with labels that use other characters."),
))
def build_charset(opts: Mapping[str, Any]) -> CharsetCheck | None:
    spec = opts.get("charset_file")
    if not spec or opts.get("charset_policy") == "keep":
        return None
    cs = charsets.load(spec, opts.get("charset_encoding") or "utf-8")
    return CharsetCheck(cs.unique, cs.source)


@check("dedupe", order=0, options=(
    click.option("--dedupe", is_flag=True,
                 help="Write byte-identical images once: the first in input order wins, later "
                      "copies are rejected as duplicate_image."),
))
def build_dedupe(opts: Mapping[str, Any]) -> None:
    return None  # decided globally by the pipeline's hashing pass
