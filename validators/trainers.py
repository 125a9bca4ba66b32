"""What each trainer does to an LMDB sample at load time, transcribed step by step.

One interface: a ``Trainer`` is built from ``Settings`` and turns one stored label (and,
when it needs it, the image bytes) into a ``Verdict``: dropped (with a reason), kept as
is, or kept with a silently altered label. ``Trace`` is the one mechanism every trainer
uses to record what each step did. Reasons starting ``crash:`` mean the trainer would
raise on that sample instead of skipping it.

Sources read (facts only, nothing copied): clovaai/deep-text-recognition-benchmark
``dataset.py`` LmdbDataset and ``utils.py`` label converters; baudm/parseq
``strhub/data/dataset.py`` LmdbDataset and ``utils.py`` CharsetAdapter; PaddleOCR
``ppocr/data/imaug/label_ops.py`` BaseRecLabelEncode; MMOCR 1.x
``mmocr/models/common/dictionary/dictionary.py`` and ``module_losses/base.py``.
"""
from __future__ import annotations

import io
import re
import string
import unicodedata
import warnings
from dataclasses import dataclass, field
from typing import Callable, ClassVar

from dataconv.charsets import Charset

LOWER36 = "0123456789abcdefghijklmnopqrstuvwxyz"
PRINTABLE94 = string.printable[:-6]
UNKNOWN = "\ufffd"  # stands for MMOCR's <UKN> token in altered labels


@dataclass(frozen=True)
class Settings:
    charset: Charset | None = None
    max_length: int | None = None
    sensitive: bool = False  # clovaai
    data_filtering_off: bool = False  # clovaai
    normalize_unicode: bool = True  # parseq
    remove_whitespace: bool = True  # parseq
    min_image_dim: int = 0  # parseq
    use_space_char: bool = False  # paddleocr
    with_unknown: bool = False  # mmocr
    lower: bool = False  # mmocr


@dataclass
class Verdict:
    label: str  # what the model is trained on
    dropped: str | None = None
    altered: list[str] = field(default_factory=list)
    uncovered: str = ""  # characters the trainer's charset lacks
    length: int | None = None  # the length the trainer's length limit measured


class Dropped(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Trace:
    """The label as it moves through a trainer's steps, and what happened to it."""

    def __init__(self, label: str) -> None:
        self.verdict = Verdict(label)

    @property
    def label(self) -> str:
        return self.verdict.label

    def apply(self, new: str, why: str) -> None:
        if new != self.verdict.label:
            self.verdict.altered.append(why)
            self.verdict.label = new

    def limit(self, limit: int, reason: str = "too_long") -> None:
        self.verdict.length = len(self.label)
        if len(self.label) > limit:
            raise Dropped(reason)

    def uncovered(self, allowed: Callable[[str], bool]) -> str:
        missing = "".join(ch for ch in self.label if not allowed(ch))
        self.verdict.uncovered += missing
        return missing


ImageFn = Callable[[], "bytes | None"]


class Trainer:
    name: ClassVar[str] = ""
    switches: ClassVar[tuple[str, ...]] = ()  # Settings fields this trainer reads
    default_max_length: ClassVar[int] = 25
    length_key: ClassVar[str] = "max length"

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.max_length = settings.max_length or self.default_max_length

    def fatal(self) -> str | None:
        """Why the trainer would fail before reading any sample, if it would."""
        return None

    def warnings(self) -> list[str]:
        return []

    def needs_images(self) -> bool:
        return False

    def steps(self, t: Trace, image: ImageFn) -> None:
        raise NotImplementedError

    def simulate(self, label: str, image: ImageFn) -> Verdict:
        t = Trace(label)
        try:
            self.steps(t, image)
        except Dropped as e:
            t.verdict.dropped = e.reason
        return t.verdict

    def covered_chars(self) -> str:
        raise NotImplementedError

    def fixes(self, longest: int, missing: str, alterations: set[str]) -> list[str]:
        raise NotImplementedError


def entries_string(charset: Charset | None, default: str) -> str:
    return "".join(charset.entries) if charset is not None else default


class Clovaai(Trainer):
    """deep-text-recognition-benchmark: ``--character``, ``--batch_max_length``, ``--sensitive``."""

    name = "clovaai"
    switches = ("sensitive", "data_filtering_off")
    length_key = "--batch_max_length"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.character = PRINTABLE94 if settings.sensitive else entries_string(settings.charset, LOWER36)
        self.dict = set(self.character)
        self.pattern = f"[^{self.character}]"
        self.regex, self.regex_error, self.regex_warnings = compile_quietly(self.pattern)

    def fatal(self) -> str | None:
        if self.regex_error:
            return (f"re.error on the out-of-charset filter {self.pattern[:40]!r}...: {self.regex_error}"
                    " (the --character string is put into a regex class unescaped)")
        return None

    def warnings(self) -> list[str]:
        out = []
        if self.s.sensitive and self.s.charset is not None:
            out.append("--sensitive replaces --character with the 94 printable ASCII characters;"
                       " the given charset is ignored by clovaai")
        specials = [ch for ch in "]^\\-" if ch in self.character]
        if specials and not self.s.sensitive:
            out.append(f"--character contains {' '.join(specials)}: clovaai builds the regex "
                       f"'[^<character>]' without escaping, so these change what is filtered "
                       f"(simulated exactly below); use the --character suggested under fixes")
        out += [f"re warning on the filter regex: {w}" for w in self.regex_warnings]
        return out

    def steps(self, t: Trace, image: ImageFn) -> None:
        if not self.s.data_filtering_off:
            t.limit(self.max_length)
            if self.regex.search(t.label.lower()):
                t.uncovered(lambda ch: ch.lower() in self.dict)
                raise Dropped("out_of_charset")
        if not self.s.sensitive:
            t.apply(t.label.lower(), "lowercased")
        t.uncovered(self.dict.__contains__)
        t.apply(self.regex.sub("", t.label), "unsupported_removed")
        if any(ch not in self.dict for ch in t.label):
            raise Dropped("crash:KeyError_char_not_in_character")
        if len(t.label) > self.max_length:
            raise Dropped("crash:label_longer_than_batch_max_length")

    def covered_chars(self) -> str:
        return self.character

    def fixes(self, longest: int, missing: str, alterations: set[str]) -> list[str]:
        out = []
        if longest > self.max_length:
            out.append(f"--batch_max_length {longest}")
        if missing or self.fatal() or self.warnings():
            base = LOWER36 if self.s.sensitive else self.character
            out.append("--character " + shell_quote(clovaai_safe(base + missing)))
        if "lowercased" in alterations:
            out.append("labels are lower-cased: add --sensitive (94 ASCII characters) if case matters")
        return out


class Parseq(Trainer):
    """PARSeq: ``model.charset_train``, ``model.max_label_length``, ``data.*`` switches."""

    name = "parseq"
    switches = ("normalize_unicode", "remove_whitespace", "min_image_dim")
    length_key = "model.max_label_length"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.charset = entries_string(settings.charset, PRINTABLE94)
        self.allowed = set(self.charset)
        self.lowercase_only = self.charset == self.charset.lower()
        self.uppercase_only = self.charset == self.charset.upper()

    def warnings(self) -> list[str]:
        out = ["val/ is read with model.charset_test (default 0-9a-z), not charset_train:"
               " set model.charset_test to the same string to validate on what you train"]
        if self.lowercase_only:
            out.append("the charset has no upper-case letters, so PARSeq lower-cases every label")
        elif self.uppercase_only:
            out.append("the charset has no lower-case letters, so PARSeq upper-cases every label")
        if self.s.min_image_dim > 0:
            out.append("upstream LmdbDataset reads self.min_image_dim, which it never sets: with"
                       " min_image_dim > 0 it raises AttributeError unless patched; simulated as intended")
        return out

    def needs_images(self) -> bool:
        return self.s.min_image_dim > 0

    def steps(self, t: Trace, image: ImageFn) -> None:
        if self.s.remove_whitespace:
            t.apply("".join(t.label.split()), "whitespace_removed")
        if self.s.normalize_unicode:
            t.apply(unicodedata.normalize("NFKD", t.label).encode("ascii", "ignore").decode(),
                    "normalize_unicode")
        t.limit(self.max_length)
        if self.lowercase_only:
            t.apply(t.label.lower(), "lowercased")
        elif self.uppercase_only:
            t.apply(t.label.upper(), "uppercased")
        t.uncovered(self.allowed.__contains__)
        t.apply("".join(ch for ch in t.label if ch in self.allowed), "unsupported_removed")
        if not t.label:
            emptied = "normalize_unicode" in t.verdict.altered and not t.verdict.uncovered
            raise Dropped("emptied_by_normalize_unicode" if emptied else "no_supported_characters")
        if self.s.min_image_dim > 0:
            size = image_size(image())
            if size is None:
                raise Dropped("crash:undecodable_image")
            if min(size) < self.s.min_image_dim:
                raise Dropped("image_too_small")

    def covered_chars(self) -> str:
        return self.charset

    def fixes(self, longest: int, missing: str, alterations: set[str]) -> list[str]:
        out = []
        if "normalize_unicode" in alterations:
            out.append("data.normalize_unicode: false  (NFKD + ASCII-only deletes non-ASCII characters)")
        if "whitespace_removed" in alterations:
            out.append("data.remove_whitespace: false  (and put ' ' in the charset) if spaces matter")
        if longest > self.max_length:
            out.append(f"model.max_label_length: {longest}")
        if missing or alterations & {"lowercased", "uppercased"}:
            out.append("model.charset_train: " + yaml_quote(self.charset + missing))
        return out


class PaddleOCR(Trainer):
    """PaddleOCR CTC label encoding: ``Global.character_dict_path``, ``max_text_length``."""

    name = "paddleocr"
    switches = ("use_space_char",)
    length_key = "Global.max_text_length"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        cs = settings.charset
        self.lower = cs is None  # no dict: 0-9a-z and lower-casing
        entries = list(LOWER36) if cs is None else paddle_entries(cs)
        if settings.use_space_char and cs is not None:
            entries.append(" ")
        self.dict = set(entries)

    def warnings(self) -> list[str]:
        cs = self.s.charset
        if cs is not None and cs.form == "string":
            return [f"{cs.source} is one line: PaddleOCR reads one character per line, so this "
                    f"file is a single entry; write a dict with `dataconv charset --style paddle`"]
        if cs is None:
            return ["no character_dict_path: PaddleOCR uses 0-9a-z and lower-cases labels"]
        return []

    def steps(self, t: Trace, image: ImageFn) -> None:
        if not t.label:
            raise Dropped("empty_label")
        t.limit(self.max_length)
        if self.lower:
            t.apply(t.label.lower(), "lowercased")
        t.uncovered(self.dict.__contains__)
        t.apply("".join(ch for ch in t.label if ch in self.dict), "unsupported_removed")
        if not t.label:
            raise Dropped("no_supported_characters")

    def covered_chars(self) -> str:
        return "".join(sorted(e for e in self.dict if len(e) == 1))

    def fixes(self, longest: int, missing: str, alterations: set[str]) -> list[str]:
        out = []
        if longest > self.max_length:
            out.append(f"Global.max_text_length: {longest}")
        if " " in missing:
            out.append("Global.use_space_char: true")
            missing = missing.replace(" ", "")
        if missing:
            out.append(f"append to character_dict_path, one per line: {missing}")
        return out


class MMOCR(Trainer):
    """MMOCR 1.x ``Dictionary`` (dict_file, with_unknown) and the module loss (letter_case)."""

    name = "mmocr"
    switches = ("with_unknown", "lower")
    default_max_length = 40
    length_key = "max_seq_len"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.dict = set(settings.charset.entries) if settings.charset else set()

    def fatal(self) -> str | None:
        cs = self.s.charset
        if cs is None:
            return "MMOCR needs a dict_file: pass --charset"
        if cs.form in ("lines", "string") and cs.multi_char():
            return "Dictionary raises ValueError: a dict line holds more than one character"
        if cs.duplicates():
            dups = "".join(cs.duplicates())
            return f"Dictionary asserts 'Invalid dictionary: Has duplicated characters' ({dups!r})"
        return None

    def steps(self, t: Trace, image: ImageFn) -> None:
        if self.s.lower:
            t.apply(t.label.lower(), "lowercased")
        if t.uncovered(self.dict.__contains__):
            if not self.s.with_unknown:
                raise Dropped("crash:char_not_in_dict")
            t.apply("".join(ch if ch in self.dict else UNKNOWN for ch in t.label), "replaced_by_unknown")
        t.verdict.length = len(t.label)
        t.apply(t.label[:self.max_length], "truncated_to_max_seq_len")

    def covered_chars(self) -> str:
        return "".join(self.s.charset.entries) if self.s.charset else ""

    def fixes(self, longest: int, missing: str, alterations: set[str]) -> list[str]:
        out = []
        if missing:
            out.append(f"add to dict_file, one per line: {missing}  (or with_unknown=True to map them to <UKN>)")
        if longest > self.max_length:
            out.append(f"max_seq_len={longest + 2}  (module loss; +2 for BOS/EOS)")
        return out


TRAINERS: dict[str, type[Trainer]] = {cls.name: cls for cls in (Clovaai, Parseq, PaddleOCR, MMOCR)}


def compile_quietly(pattern: str) -> tuple[re.Pattern | None, str | None, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            regex = re.compile(pattern)
        except re.error as e:
            return None, str(e), []
    return regex, None, [str(w.message) for w in caught]


def paddle_entries(cs: Charset) -> list[str]:
    """PaddleOCR reads a dict file line by line; a one-line file is one (useless) entry."""
    if cs.form == "string":
        return ["".join(cs.entries)]
    return list(cs.entries)


def image_size(data: bytes | None) -> tuple[int, int] | None:
    from PIL import Image

    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception:
        return None


def clovaai_safe(chars: str) -> str:
    """An order of ``chars`` that clovaai's unescaped ``[^...]`` regex reads as a plain set:
    ``]`` first, ``-`` last, ``\\`` doubled (list(character) then holds it twice; harmless)."""
    chars = "".join(dict.fromkeys(chars))
    body = "".join(ch for ch in chars if ch not in "]-\\")
    return ("]" if "]" in chars else "") + body + ("\\\\" if "\\" in chars else "") + (
        "-" if "-" in chars else "")


def shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def yaml_quote(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)
