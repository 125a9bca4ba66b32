"""Best-effort images of rejected samples.

rejects.jsonl records where a sample came from (``source``, e.g. ``gt.txt:12``), not its
image, and the pipeline keeps no copy of rejected bytes. So the report re-runs the
format's parser over the source (the converter in hand during a conversion, or one rebuilt
from manifest.json's format and options plus ``--source``) and reads the image of each shown
reject whose ``source`` matches a parsed sample. Rejects the parser itself produced
(unknown ids, unannotated images, ...) and missing or unreadable files get no thumbnail.
The walk stops as soon as every shown reject is found.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

from dataconv.io import decode
from dataconv.converters import base as converters
from dataconv.errors import DataconvError, SampleRejected
from dataconv.optionspec import from_values, switches
from dataconv.sample import ReadContext, Sample


def converter_from_card(card: Mapping[str, Any], src: str) -> converters.Converter:
    """The converter that made a dataset, rebuilt from its manifest and source folder."""
    fmt = card.get("format")
    info = converters.load(fmt) if isinstance(fmt, str) else None
    if info is None:
        raise DataconvError(f"manifest.json: unknown format {fmt!r}; cannot re-read the source")
    recorded = card.get("options")
    recorded = recorded if isinstance(recorded, dict) else {}
    names = {s.name for s in switches(info.cls.Options)}
    given = {name: _resolve(value, src) for name, value in recorded.items() if name in names}
    return info.cls(src, from_values(info.cls.Options, given))  # the defaults: the class's own


def _resolve(value: Any, src: str) -> Any:
    """manifest.json stores paths relative to the source; make them usable again."""
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, str) and value and os.path.exists(os.path.join(src, value)):
        return os.path.join(src, value)
    return value


def max_pixels_of(recorded: Mapping[str, Any]) -> int:
    """The run's --max-pixels as manifest.json recorded it (the default when absent or not
    a positive integer: the manifest is input too)."""
    value = recorded.get("max_pixels")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return decode.DEFAULT_MAX_PIXELS


def find_images(converter: converters.Converter, wanted: set[str], follow_symlinks: bool = False,
                max_pixels: int = decode.DEFAULT_MAX_PIXELS) -> dict[str, bytes | None]:
    """source -> image bytes for the parsed samples in ``wanted``: None when unreadable or
    when the header claims more than ``max_pixels`` (the run's --max-pixels: a rejected
    bomb is never decoded for its thumbnail)."""
    ctx = ReadContext(follow_symlinks=follow_symlinks, max_pixels=max_pixels)
    found: dict[str, bytes | None] = {}
    if not wanted:
        return found
    for item in converter.samples():
        if isinstance(item, Sample) and item.source in wanted and item.source not in found:
            found[item.source] = _read(item, ctx)
            if len(found) == len(wanted):
                break
    return found


def _read(sample: Sample, ctx: ReadContext) -> bytes | None:
    try:
        data = sample.image.read(ctx)
        decode.check_pixels(data, ctx.max_pixels)
    except (SampleRejected, DataconvError, OSError):
        return None
    return data
