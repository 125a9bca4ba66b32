"""Label checks: text that can be written at all, Unicode normalisation (NFC by default)
and empty labels."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from dataconv.errors import SampleRejected
from dataconv.io.paths import has_lone_surrogate
from dataconv.optionspec import Choice, option
from dataconv.validators.base import Check, CheckOptions, Item, check

NORMAL_FORMS = {"nfc": "NFC", "nfkc": "NFKC", "none": None}


class Normalize:
    """Rewrites the label to a Unicode normal form. NFC composes decomposed Hangul
    (macOS file systems, some exports) and never drops or folds a character."""

    def __init__(self, form: str) -> None:
        self.form = form

    def __call__(self, item: Item) -> None:
        item.label = unicodedata.normalize(self.form, item.label)


def reject_unwritable_text(item: Item) -> None:
    """The one place every format's text is checked before anything is written: a lone
    surrogate (a JSON ``"\\ud800"`` escape, an undecodable file name) cannot be encoded as
    UTF-8 for the LMDB or samples.parquet (``invalid_unicode``), and a NUL byte is
    corruption, never a label (``nul_byte``). The id, source and group are written to
    samples.parquet beside the label, so they are held to the first rule as well."""
    sample = item.sample
    for name, text in (("label", item.label), ("id", sample.id), ("source", sample.source),
                       ("group", sample.group)):
        if text is not None and has_lone_surrogate(text):
            raise SampleRejected("invalid_unicode", f"{name} {text[:80]!r} holds a lone surrogate")
    if "\x00" in item.label:
        raise SampleRejected("nul_byte", f"NUL byte in label {item.label[:80]!r}")


def reject_empty(item: Item) -> None:
    if not item.label.strip():
        raise SampleRejected("empty_label", repr(item.label))


@check("label_text", order=25)
def build_text(checks: CheckOptions) -> Check:
    return reject_unwritable_text


@dataclass(frozen=True)
class NormalizeOptions:
    normalize: str = option("nfc", "Unicode normal form of the written labels.",
                            type=Choice(tuple(sorted(NORMAL_FORMS))), show_default=True)


@check("normalize", order=30, options=NormalizeOptions)
def build_normalize(checks: CheckOptions) -> Normalize | None:
    form = NORMAL_FORMS[checks.of(NormalizeOptions).normalize]
    return Normalize(form) if form else None


@check("empty_label", order=40)
def build_empty(checks: CheckOptions) -> Check:
    return reject_empty
