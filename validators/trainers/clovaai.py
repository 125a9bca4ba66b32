"""clovaai/deep-text-recognition-benchmark at load time.

Sources read (facts only, nothing copied): ``dataset.py`` LmdbDataset (filter in
__init__, dummy label for an image Pillow refuses in __getitem__) and ``utils.py`` label
converters.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

from dataconv.charsets import Charset
from dataconv.errors import DataconvError
from dataconv.io.userregex import UserPattern, compile_user
from dataconv.validators.trainers.base import Dropped, ImageFn, Settings, Switch, Trace, Trainer, register
from dataconv.validators.trainers.common import LOWER36, PRINTABLE94, dollar_cat, pillow_failure


@dataclass(frozen=True)
class ClovaaiOptions:
    sensitive: bool = False  # --sensitive: 94 printable ASCII, no lower-casing
    data_filtering_off: bool = False  # --data_filtering_off: no length or charset filter


@register
class Clovaai(Trainer):
    """deep-text-recognition-benchmark: ``--character``, ``--batch_max_length``, ``--sensitive``."""

    name = "clovaai"
    Options = ClovaaiOptions
    switches = (
        Switch("--sensitive", "sensitive", "--sensitive (94 printable ASCII, no lower-casing)."),
        Switch("--data-filtering-off", "data_filtering_off", "--data_filtering_off."),
    )
    length_key = "--batch_max_length"
    charset_hint = ("dataconv charset DATA -o chars.txt --style clovaai, then "
                    "--character \"$(cat chars.txt)\"")

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.character = PRINTABLE94 if self.o.sensitive else (
            "".join(self.entries) if self.entries is not None else LOWER36)
        self.dict = set(self.character)
        self.pattern = f"[^{self.character}]"
        python, self.regex_error, self.regex_warnings = compile_quietly(self.pattern)
        self.regex, self.unsupported = linear_time(self.pattern) if python else (None, None)
        # Python's re.sub where the filter can match the empty string (see removed)
        self.remover = python if self.regex is not None and self.regex.search("") else self.regex

    def read_charset(self, raw: bytes, cs: Charset) -> tuple[str, ...]:
        return dollar_cat(raw)

    def fatal(self) -> str | None:
        if self.regex_error:
            return (f"re.error on the out-of-charset filter {self.pattern[:40]!r}...: {self.regex_error}"
                    " (the --character string is put into a regex class unescaped)")
        return self.unsupported

    def warnings(self) -> list[str]:
        out = [] if self.o.sensitive else self.charset_warnings()
        if self.o.sensitive and self.s.charset is not None:
            out.append("--sensitive replaces --character with the 94 printable ASCII characters;"
                       " the given charset is ignored by clovaai")
        specials = [ch for ch in "]^\\-" if ch in self.character]
        if specials and not self.o.sensitive and clovaai_safe(self.character) != self.character:
            out.append(f"--character contains {' '.join(specials)}: clovaai builds the regex "
                       f"'[^<character>]' without escaping, so these change what is filtered "
                       f"(simulated exactly below); use the --character suggested under fixes")
        out += [f"re warning on the filter regex: {w}" for w in self.regex_warnings]
        return out

    def steps(self, t: Trace, image: ImageFn) -> None:
        if not self.o.data_filtering_off:
            t.limit(self.max_length)
            lowered = t.label.lower()  # the filter tests the lower-cased label, even with --sensitive
            if self.regex.search(lowered):
                t.verdict.uncovered += "".join(ch for ch in lowered if ch not in self.dict)
                raise Dropped("out_of_charset")
        failure = pillow_failure(image())
        if failure == "OSError":  # __getitem__ catches IOError: a dummy label instead
            t.apply("[dummy_label]", "undecodable_image_dummy_label")
        elif failure:
            raise Dropped(f"crash:{failure}_decoding_image")
        if not self.o.sensitive:
            t.apply(t.label.lower(), "lowercased")
        t.uncovered(self.dict.__contains__)
        t.apply(self.removed(t.label), "unsupported_removed")
        t.measure(len(t.label))
        if any(ch not in self.dict for ch in t.label):
            raise Dropped("crash:KeyError_char_not_in_character")
        if len(t.label) > self.max_length:
            raise Dropped("crash:label_longer_than_batch_max_length")

    def removed(self, label: str) -> str:
        """``re.sub(filter, '', label)`` as clovaai runs it. A filter that can match the
        empty string (only a crafted --character makes one) is left to Python's re: its
        sub also replaces an empty match next to a non-empty one, which RE2's does not, and
        clovaai reaches it only with --data_filtering_off (the filter's search drops every
        label first otherwise)."""
        return self.remover.sub("", label)

    def covered_chars(self) -> str:
        return self.character

    def fixes(self, needed: int, missing: str, alterations: set[str]) -> list[str]:
        out = []
        if needed > self.max_length:
            out.append(f"--batch_max_length {needed}")
        if missing or self.fatal() or self.warnings():
            base = LOWER36 if self.o.sensitive else self.meant_chars(LOWER36)
            out.append("--character " + shell_quote(clovaai_safe(base + missing)))
        if "lowercased" in alterations:
            out.append("labels are lower-cased: add --sensitive (94 ASCII characters) if case matters")
        return out


def compile_quietly(pattern: str) -> tuple[re.Pattern | None, str | None, list[str]]:
    """The filter regex as clovaai compiles it, with the error or warnings it would meet."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            regex = re.compile(pattern)
        except re.error as e:
            return None, str(e), []
    return regex, None, [str(w.message) for w in caught]


def linear_time(pattern: str) -> tuple[UserPattern | None, str | None]:
    """The filter as ``re`` reads it, matched by RE2 in linear time: a ``--character`` is
    the user's text, and one crafted as a regex (``a](x+)+y[b``) would make Python's
    backtracking filter stall on a label, where clovaai itself would stall too."""
    try:
        return compile_user(pattern, "the out-of-charset filter"), None
    except DataconvError as e:
        return None, f"{e}; clovaai puts the --character string into that regex unescaped"


def clovaai_safe(chars: str) -> str:
    """An order of ``chars`` that clovaai's unescaped ``[^...]`` regex reads as a plain set:
    ``]`` first, ``-`` last, ``\\`` doubled (list(character) then holds it twice; harmless)."""
    chars = "".join(dict.fromkeys(chars))
    body = "".join(ch for ch in chars if ch not in "]-\\")
    return ("]" if "]" in chars else "") + body + ("\\\\" if "\\" in chars else "") + (
        "-" if "-" in chars else "")


def shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"
