"""Label checks: Unicode normalisation (NFC by default) and empty labels."""
from __future__ import annotations

import unicodedata
from typing import Any, Mapping

import click

from dataconv.errors import SampleRejected
from dataconv.validators.base import Item, check

NORMAL_FORMS = {"nfc": "NFC", "nfkc": "NFKC", "none": None}


class Normalize:
    """Rewrites the label to a Unicode normal form. NFC composes decomposed Hangul
    (macOS file systems, some exports) and never drops or folds a character."""

    def __init__(self, form: str) -> None:
        self.form = form

    def __call__(self, item: Item) -> None:
        item.label = unicodedata.normalize(self.form, item.label)


def reject_empty(item: Item) -> None:
    if not item.label.strip():
        raise SampleRejected("empty_label", repr(item.label))


@check("normalize", order=30, options=(
    click.option("--normalize", type=click.Choice(sorted(NORMAL_FORMS)), default="nfc",
                 show_default=True, help="Unicode normal form of the written labels."),
))
def build_normalize(opts: Mapping[str, Any]) -> Normalize | None:
    form = NORMAL_FORMS[opts.get("normalize") or "nfc"]
    return Normalize(form) if form else None


@check("empty_label", order=40)
def build_empty(opts: Mapping[str, Any]):
    return reject_empty
