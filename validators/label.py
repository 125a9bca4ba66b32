"""Label checks: text that can be written at all, Hangul left half-typed, Unicode
normalisation (NFC by default) and empty labels."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from dataconv.errors import SampleRejected
from dataconv.io.paths import has_lone_surrogate
from dataconv.optionspec import Choice, option
from dataconv.validators.base import Check, CheckOptions, Candidate, check

NORMAL_FORMS = {"nfc": "NFC", "nfkc": "NFKC", "none": None}


class Normalize:
    """Rewrites the label to a Unicode normal form. NFC composes decomposed Hangul
    (macOS file systems, some exports) and never drops or folds a character."""

    def __init__(self, form: str) -> None:
        self.form = form

    def __call__(self, item: Candidate) -> None:
        item.label = unicodedata.normalize(self.form, item.label)


def reject_unwritable_text(item: Candidate) -> None:
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


def reject_empty(item: Candidate) -> None:
    if not item.label.strip():
        raise SampleRejected("empty_label", repr(item.label))


@check("label_text", order=25)
def build_text(checks: CheckOptions) -> Check:
    return reject_unwritable_text


# Hangul compatibility jamo (U+3131-U+318E): the loose letters an IME shows before a
# syllable is complete. Written text composes them into syllables (U+AC00-U+D7A3), so a
# label holding one (국ㅇㄴ, ㅇㄴ) is a transcription slip, not what the image shows.
COMPATIBILITY_JAMO = re.compile("[\u3131-\u318e]")


def reject_loose_jamo(item: Candidate) -> None:
    """Refuse a label holding a Hangul compatibility jamo as ``broken_label``; checked
    before normalisation, since NFKC would turn them into conjoining jamo."""
    found = COMPATIBILITY_JAMO.search(item.label)
    if found:
        raise SampleRejected("broken_label", f"loose Hangul letter {found.group()!r} "
                                             f"(U+{ord(found.group()):04X}) in {item.label[:80]!r}")


@dataclass(frozen=True)
class JamoOptions:
    jamo_labels: str = option("reject", "Labels holding Hangul compatibility jamo (ㅇ, ㄴ, ...), a "
                                        "half-typed syllable: reject them as broken_label, or keep them.",
                              type=Choice(("keep", "reject")), show_default=True)


@check("jamo", order=27, options=JamoOptions)
def build_jamo(checks: CheckOptions) -> Check | None:
    return reject_loose_jamo if checks.of(JamoOptions).jamo_labels == "reject" else None


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
