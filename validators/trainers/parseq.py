"""baudm/parseq at load time.

Sources read (facts only, nothing copied; commit 141e5ab): ``strhub/data/dataset.py``
LmdbDataset._preprocess_labels and __getitem__, ``strhub/data/utils.py`` CharsetAdapter.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from dataconv.charsets import Charset, from_yaml
from dataconv.errors import DataconvError
from dataconv.validators.trainers.base import (EVAL_SPLITS, CharsetUnreadable, Dropped, ImageFn, Settings,
                                               Switch, Trace, Trainer, register)
from dataconv.validators.trainers.common import LOWER36, PRINTABLE94, dollar_cat, pillow_failure, yaml_quote


@dataclass(frozen=True)
class ParseqOptions:
    normalize_unicode: bool = True  # data.normalize_unicode: NFKD, then ASCII only
    remove_whitespace: bool = True  # data.remove_whitespace
    min_image_dim: int = 0  # data.min_image_dim


class CharsetAdapter:
    """PARSeq's CharsetAdapter for one charset string (train or test)."""

    def __init__(self, charset: str) -> None:
        self.charset = charset
        self.allowed = set(charset)
        self.lowercase_only = charset == charset.lower()
        self.uppercase_only = charset == charset.upper()

    def __call__(self, t: Trace) -> None:
        if self.lowercase_only:
            t.apply(t.label.lower(), "lowercased")
        elif self.uppercase_only:
            t.apply(t.label.upper(), "uppercased")
        t.uncovered(self.allowed.__contains__)
        t.apply("".join(ch for ch in t.label if ch in self.allowed), "unsupported_removed")


@register
class Parseq(Trainer):
    """PARSeq: ``model.charset_train`` (val/ and test/: ``charset_test``), ``max_label_length``."""

    name = "parseq"
    Options = ParseqOptions
    switches = (
        Switch("--no-normalize-unicode", "normalize_unicode", "data.normalize_unicode=false.", value=False),
        Switch("--keep-whitespace", "remove_whitespace", "data.remove_whitespace=false.", value=False),
        Switch("--min-image-dim", "min_image_dim", "data.min_image_dim.", minimum=0, default=0),
    )
    length_key = "model.max_label_length"
    charset_hint = ("dataconv charset DATA -o NAME.yaml --style parseq, copy it to "
                    "configs/charset/, then ./train.py charset=NAME")

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        cs = settings.charset
        self.charset = "".join(self.entries) if self.entries is not None else PRINTABLE94
        test = cs.test_entries if cs is not None and cs.form == "yaml" and not self.charset_error else None
        self.charset_test = "".join(test) if test is not None else LOWER36  # 94_full.yaml's default
        self.adapters = {"train": CharsetAdapter(self.charset), "test": CharsetAdapter(self.charset_test)}

    def read_charset(self, raw: bytes, cs: Charset) -> tuple[str, ...]:
        if cs.form != "yaml":  # model.charset_train="$(cat FILE)"
            return dollar_cat(raw)
        try:  # charset=NAME: Hydra loads the YAML config (UTF-8)
            return from_yaml(raw.decode("utf-8"), cs.source).entries
        except (UnicodeDecodeError, DataconvError) as e:
            raise CharsetUnreadable(f"Hydra cannot load {cs.source}: {e}") from None

    def fatal(self) -> str | None:
        if self.charset_error:
            return self.charset_error
        if self.o.min_image_dim > 0:
            return ("LmdbDataset._preprocess_labels reads self.min_image_dim, which it never sets: "
                    "AttributeError on the first sample that passes the label filters; fix: in "
                    "strhub/data/dataset.py change `self.min_image_dim` to `min_image_dim` (one line)")
        return None

    def steps(self, t: Trace, image: ImageFn) -> None:
        if self.o.remove_whitespace:
            t.apply("".join(t.label.split()), "whitespace_removed")
        if self.o.normalize_unicode:
            t.apply(unicodedata.normalize("NFKD", t.label).encode("ascii", "ignore").decode(),
                    "normalize_unicode")
        t.limit(self.max_length)
        self.adapters["test" if t.split in EVAL_SPLITS else "train"](t)
        if not t.label:
            emptied = "normalize_unicode" in t.verdict.altered and not t.verdict.uncovered
            raise Dropped("emptied_by_normalize_unicode" if emptied else "no_supported_characters")
        if pillow_failure(image()):  # __getitem__: Image.open(buf).convert('RGB'), no try
            raise Dropped("crash:undecodable_image_pillow")

    def covered_chars(self) -> str:
        return self.charset

    def fixes(self, needed: int, missing: str, alterations: set[str]) -> list[str]:
        out = []
        if "normalize_unicode" in alterations:
            out.append("data.normalize_unicode: false  (NFKD + ASCII-only deletes non-ASCII characters)")
        if "whitespace_removed" in alterations:
            out.append("data.remove_whitespace: false  (and put ' ' in the charset) if spaces matter")
        if needed > self.max_length:
            out.append(f"model.max_label_length: {needed}")
        if missing or alterations & {"lowercased", "uppercased"} or self.charset_warnings():
            out.append("model.charset_train: " + yaml_quote(self.meant_chars(PRINTABLE94) + missing))
        return out

    def finish(self, split_effects: dict[str, set[str]]) -> list[str]:
        charset_effects = {"lowercased", "uppercased", "unsupported_removed", "no_supported_characters"}
        hit = any(split_effects.get(s, set()) & charset_effects for s in EVAL_SPLITS)
        if hit and self.charset_test != self.charset:
            return [f"model.charset_test: {yaml_quote(self.charset)}  (val/ and test/ are read with "
                    f"charset_test, {len(self.charset_test)} characters now)"]
        return []
