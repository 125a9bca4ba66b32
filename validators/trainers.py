"""What each trainer does to an LMDB sample at load time, transcribed step by step.

One interface: a ``Trainer`` is built from ``Settings`` and turns one stored label (and the
image bytes, decoded the way that trainer decodes them) into a ``Verdict``: dropped (with a
reason), kept as is, or kept with a silently altered label. ``Trace`` is the one mechanism
every trainer uses to record what each step did. Reasons starting ``crash:`` mean the
trainer would raise on that sample instead of skipping it.

Each trainer also reads the charset FILE the way it really does
(``read_charset_as_trainer``: its encoding, BOM handling, line splitting, YAML or not); the
user's meaning comes from ``dataconv.charsets.load_user_charset``. Where the two differ the
simulation follows the trainer and a warning names the fix.

Sources read (facts only, nothing copied; commits are those read):
- clovaai/deep-text-recognition-benchmark ``dataset.py`` LmdbDataset (filter in __init__,
  dummy label for an image Pillow refuses in __getitem__) and ``utils.py`` label converters;
- baudm/parseq 141e5ab ``strhub/data/dataset.py`` LmdbDataset._preprocess_labels and
  __getitem__, ``strhub/data/utils.py`` CharsetAdapter;
- PaddlePaddle/PaddleOCR 0002349 ``ppocr/data/imaug/label_ops.py`` BaseRecLabelEncode,
  CTC/Attn/SAR/NRTR/MultiLabelEncode, ``ppocr/data/imaug/operators.py`` DecodeImage,
  ``ppocr/data/lmdb_dataset.py`` __getitem__, ``configs/rec/PP-OCRv4/ch_PP-OCRv4_rec.yml``
  (145d205: MultiLabelEncode with gtc_encode NRTRLabelEncode, max_text_length 25);
- open-mmlab/mmocr 1.x a83f716 ``dictionary.py``, ``mmocr/utils/fileio.py`` list_from_file
  (08eac37), ``module_losses/base.py`` get_targets (1834ff4), ``ctc_module_loss.py``,
  ``datasets/transforms/loading.py`` LoadImageFromFile (02b61f0; the textrecog configs use
  ignore_empty=True, min_size=2).
"""
from __future__ import annotations

import io
import re
import string
import unicodedata
import warnings
from dataclasses import dataclass, field
from typing import Callable, ClassVar

from dataconv.charsets import Charset, from_yaml
from dataconv.errors import DataconvError, SampleRejected

LOWER36 = "0123456789abcdefghijklmnopqrstuvwxyz"
PRINTABLE94 = string.printable[:-6]
UNKNOWN = "\ufffd"  # stands for MMOCR's <UKN> token in altered labels
PADDLE_ENCODERS = ("multi-nrtr", "multi-sar", "ctc", "attn")  # multi-nrtr: PP-OCRv4 rec config
MMOCR_LOSSES = ("ce", "ctc")
EVAL_SPLITS = ("val", "test")


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
    paddle_encoder: str = "multi-nrtr"  # paddleocr
    with_unknown: bool = False  # mmocr
    lower: bool = False  # mmocr
    mmocr_loss: str = "ce"  # mmocr


@dataclass
class Verdict:
    label: str  # what the model is trained on
    dropped: str | None = None
    altered: list[str] = field(default_factory=list)
    uncovered: str = ""  # characters the trainer's charset lacks
    length: int | None = None  # the length the trainer's length limit measured
    needed: int | None = None  # the smallest length setting that keeps this label whole


class Dropped(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CharsetUnreadable(Exception):
    """The trainer itself fails reading the charset file (before any sample)."""


class Trace:
    """The label as it moves through a trainer's steps, and what happened to it."""

    def __init__(self, label: str, split: str = "train") -> None:
        self.verdict = Verdict(label)
        self.split = split

    @property
    def label(self) -> str:
        return self.verdict.label

    def apply(self, new: str, why: str) -> None:
        if new != self.verdict.label:
            self.verdict.altered.append(why)
            self.verdict.label = new

    def limit(self, limit: int, reason: str = "too_long") -> None:
        self.measure(len(self.label))
        if len(self.label) > limit:
            raise Dropped(reason)

    def measure(self, length: int, needed: int | None = None) -> None:
        """Record the length a limit saw and the setting that would keep the label."""
        self.verdict.length = max(self.verdict.length or 0, length)
        self.verdict.needed = max(self.verdict.needed or 0, length if needed is None else needed)

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
    charset_hint: ClassVar[str] = ""  # how to write a charset file this trainer reads as meant
    all_dropped: ClassVar[str | None] = None  # what happens when a split keeps nothing

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.max_length = settings.max_length or self.default_max_length
        self.charset_error: str | None = None
        self.entries: tuple[str, ...] | None = None  # the charset as this trainer reads it
        cs = settings.charset
        if cs is not None:
            try:
                self.entries = cs.entries if cs.raw is None else self.read_charset_as_trainer(cs.raw, cs)
            except CharsetUnreadable as e:
                self.charset_error, self.entries = str(e), ()

    def read_charset_as_trainer(self, raw: bytes, cs: Charset) -> tuple[str, ...]:
        """The entries this trainer gets from the file's bytes (``cs`` says how it was handed over)."""
        raise NotImplementedError

    def fatal(self) -> str | None:
        """Why the trainer would fail before reading any sample, if it would."""
        return self.charset_error

    def warnings(self) -> list[str]:
        return self.charset_warnings()

    def charset_warnings(self) -> list[str]:
        """Where the trainer's reading of the file differs from what the user meant."""
        cs = self.s.charset
        if cs is None or self.entries is None or self.charset_error:
            return []
        out = []
        multi = cs.multi_char() if cs.form == "lines" else []
        if multi:
            out.append(f"{len(multi)} line(s) of {cs.source} hold several characters (e.g. {multi[0]!r}):"
                       " a charset file has one character per line (is this a label file?)")
        if cs.raw is None:
            return out
        got = {e for e in self.entries if len(e) == 1}
        lost = [c for c in cs.chars if c not in got]
        odd = [e for e in dict.fromkeys(self.entries) if len(e) > 1]
        extra = [c for c in dict.fromkeys(e for e in self.entries if len(e) == 1) if c not in cs.chars]
        if lost or odd or extra:
            parts = []
            if lost:
                parts.append(f"{len(lost)} of its {len(cs.chars)} characters never match "
                             f"(e.g. {''.join(lost[:8])!r})")
            if odd:
                parts.append(f"{len(odd)} entries are not single characters (e.g. {odd[0][:20]!r})")
            if extra:
                parts.append(f"it gains {''.join(extra[:8])!r}")
            out.append(f"{self.name} reads {cs.source} differently from what it holds: "
                       f"{'; '.join(parts)}; fix: {self.charset_hint}")
        return out

    def steps(self, t: Trace, image: ImageFn) -> None:
        raise NotImplementedError

    def simulate(self, label: str, image: ImageFn, split: str = "train") -> Verdict:
        t = Trace(label, split)
        try:
            self.steps(t, image)
        except Dropped as e:
            t.verdict.dropped = e.reason
        return t.verdict

    def covered_chars(self) -> str:
        raise NotImplementedError

    def meant_chars(self, default: str) -> str:
        """The characters the user meant, for fix lines."""
        return self.s.charset.chars if self.s.charset is not None else default

    def fixes(self, needed: int, missing: str, alterations: set[str]) -> list[str]:
        raise NotImplementedError

    def finish(self, split_effects: dict[str, set[str]]) -> list[str]:
        """Extra fix lines once every sample was seen (effects per split)."""
        return []


def dollar_cat(raw: bytes) -> tuple[str, ...]:
    """What ``--option "$(cat FILE)"`` hands a Python program: the bytes as argv decodes
    them (UTF-8, undecodable bytes as lone surrogates), trailing newlines removed by the
    shell, a BOM and inner newlines kept."""
    return tuple(raw.decode("utf-8", "surrogateescape").rstrip("\n"))


class Clovaai(Trainer):
    """deep-text-recognition-benchmark: ``--character``, ``--batch_max_length``, ``--sensitive``."""

    name = "clovaai"
    switches = ("sensitive", "data_filtering_off")
    length_key = "--batch_max_length"
    charset_hint = ("dataconv charset DATA -o chars.txt --style clovaai, then "
                    "--character \"$(cat chars.txt)\"")

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.character = PRINTABLE94 if settings.sensitive else (
            "".join(self.entries) if self.entries is not None else LOWER36)
        self.dict = set(self.character)
        self.pattern = f"[^{self.character}]"
        self.regex, self.regex_error, self.regex_warnings = compile_quietly(self.pattern)

    def read_charset_as_trainer(self, raw: bytes, cs: Charset) -> tuple[str, ...]:
        return dollar_cat(raw)

    def fatal(self) -> str | None:
        if self.regex_error:
            return (f"re.error on the out-of-charset filter {self.pattern[:40]!r}...: {self.regex_error}"
                    " (the --character string is put into a regex class unescaped)")
        return None

    def warnings(self) -> list[str]:
        out = [] if self.s.sensitive else self.charset_warnings()
        if self.s.sensitive and self.s.charset is not None:
            out.append("--sensitive replaces --character with the 94 printable ASCII characters;"
                       " the given charset is ignored by clovaai")
        specials = [ch for ch in "]^\\-" if ch in self.character]
        if specials and not self.s.sensitive and clovaai_safe(self.character) != self.character:
            out.append(f"--character contains {' '.join(specials)}: clovaai builds the regex "
                       f"'[^<character>]' without escaping, so these change what is filtered "
                       f"(simulated exactly below); use the --character suggested under fixes")
        out += [f"re warning on the filter regex: {w}" for w in self.regex_warnings]
        return out

    def steps(self, t: Trace, image: ImageFn) -> None:
        if not self.s.data_filtering_off:
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
        if not self.s.sensitive:
            t.apply(t.label.lower(), "lowercased")
        t.uncovered(self.dict.__contains__)
        t.apply(self.regex.sub("", t.label), "unsupported_removed")
        t.measure(len(t.label))
        if any(ch not in self.dict for ch in t.label):
            raise Dropped("crash:KeyError_char_not_in_character")
        if len(t.label) > self.max_length:
            raise Dropped("crash:label_longer_than_batch_max_length")

    def covered_chars(self) -> str:
        return self.character

    def fixes(self, needed: int, missing: str, alterations: set[str]) -> list[str]:
        out = []
        if needed > self.max_length:
            out.append(f"--batch_max_length {needed}")
        if missing or self.fatal() or self.warnings():
            base = LOWER36 if self.s.sensitive else self.meant_chars(LOWER36)
            out.append("--character " + shell_quote(clovaai_safe(base + missing)))
        if "lowercased" in alterations:
            out.append("labels are lower-cased: add --sensitive (94 ASCII characters) if case matters")
        return out


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


class Parseq(Trainer):
    """PARSeq: ``model.charset_train`` (val/ and test/: ``charset_test``), ``max_label_length``."""

    name = "parseq"
    switches = ("normalize_unicode", "remove_whitespace", "min_image_dim")
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

    def read_charset_as_trainer(self, raw: bytes, cs: Charset) -> tuple[str, ...]:
        if cs.form != "yaml":  # model.charset_train="$(cat FILE)"
            return dollar_cat(raw)
        try:  # charset=NAME: Hydra loads the YAML config (UTF-8)
            return from_yaml(raw.decode("utf-8"), cs.source).entries
        except (UnicodeDecodeError, DataconvError) as e:
            raise CharsetUnreadable(f"Hydra cannot load {cs.source}: {e}") from None

    def fatal(self) -> str | None:
        if self.charset_error:
            return self.charset_error
        if self.s.min_image_dim > 0:
            return ("LmdbDataset._preprocess_labels reads self.min_image_dim, which it never sets: "
                    "AttributeError on the first sample that passes the label filters; fix: in "
                    "strhub/data/dataset.py change `self.min_image_dim` to `min_image_dim` (one line)")
        return None

    def steps(self, t: Trace, image: ImageFn) -> None:
        if self.s.remove_whitespace:
            t.apply("".join(t.label.split()), "whitespace_removed")
        if self.s.normalize_unicode:
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


class PaddleOCR(Trainer):
    """PaddleOCR LMDBDataSet + DecodeImage + the label encoder of the config."""

    name = "paddleocr"
    switches = ("use_space_char", "paddle_encoder")
    length_key = "Global.max_text_length"
    charset_hint = "dataconv charset DATA -o dict.txt --style paddle (UTF-8, no BOM, one character per line)"
    all_dropped = ("LMDBDataSet.__getitem__ retries a random index for every dropped sample and "
                   "recurses until RecursionError when the split keeps none")
    # encoder -> slots its label needs beyond the characters (the length check on the encoded label)
    EXTRA_SLOTS = {"ctc": 0, "attn": 1, "multi-sar": 2, "multi-nrtr": 2}

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.lower = settings.charset is None  # no dict: 0-9a-z and lower-casing
        entries = list(LOWER36) if self.entries is None else list(self.entries)
        if settings.use_space_char and settings.charset is not None:
            entries.append(" ")
        self.dict = set(entries)
        self.extra = self.EXTRA_SLOTS[settings.paddle_encoder]

    def read_charset_as_trainer(self, raw: bytes, cs: Charset) -> tuple[str, ...]:
        """readlines() on the bytes, each line decoded as UTF-8 (a BOM stays in line 1), then
        strip("\\n").strip("\\r\\n"); an empty line is an (unused) entry, a longer line one
        entry that no single character matches."""
        lines = raw.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        entries = []
        for number, line in enumerate(lines, 1):
            try:
                entries.append(line.decode("utf-8").strip("\n").strip("\r\n"))
            except UnicodeDecodeError:
                raise CharsetUnreadable(f"UnicodeDecodeError reading character_dict_path {cs.source} "
                                        f"line {number}: PaddleOCR reads UTF-8; fix: {self.charset_hint}") from None
        return tuple(entries)

    def warnings(self) -> list[str]:
        out = self.charset_warnings()
        if self.s.charset is None:
            out.append("no character_dict_path: PaddleOCR uses 0-9a-z and lower-cases labels")
        return out

    def steps(self, t: Trace, image: ImageFn) -> None:
        data = image()
        if not data:
            raise Dropped("crash:AssertionError_empty_image")
        if opencv_size(data) is None:  # DecodeImage: cv2.imdecode gives None, the op returns None
            raise Dropped("undecodable_by_opencv")
        if not t.label:
            raise Dropped("empty_label")
        encoded = sum(ch in self.dict for ch in (t.label.lower() if self.lower else t.label))
        t.measure(len(t.label), max(len(t.label), encoded + self.extra if encoded else 0))
        t.limit(self.max_length)
        if self.lower:
            t.apply(t.label.lower(), "lowercased")
        t.uncovered(self.dict.__contains__)
        t.apply("".join(ch for ch in t.label if ch in self.dict), "unsupported_removed")
        if not t.label:
            raise Dropped("no_supported_characters")
        if self.extra:  # Attn: len >= max_text_length; SAR/NRTR: len >= max_text_length - 1
            if len(t.label) + self.extra > self.max_length:
                raise Dropped(f"too_long_for_{self.s.paddle_encoder.split('-')[-1]}")

    def covered_chars(self) -> str:
        return "".join(sorted(e for e in self.dict if len(e) == 1))

    def fixes(self, needed: int, missing: str, alterations: set[str]) -> list[str]:
        out = []
        if needed > self.max_length:
            slots = f"  (the longest label + {self.extra} for the start/end tokens)" if self.extra else ""
            out.append(f"Global.max_text_length: {needed}{slots}")
        if " " in missing:
            out.append("Global.use_space_char: true")
            missing = missing.replace(" ", "")
        if missing:
            out.append(f"append to character_dict_path, one per line: {missing}")
        return out


class MMOCR(Trainer):
    """MMOCR 1.x ``Dictionary`` (dict_file, with_unknown), LoadImageFromFile, the module loss."""

    name = "mmocr"
    switches = ("with_unknown", "lower", "mmocr_loss")
    default_max_length = 40
    length_key = "max_seq_len"
    charset_hint = "dataconv charset DATA -o dict.txt --style paddle (UTF-8, no BOM, one character per line)"
    all_dropped = ("BaseDataset refetches a random index for every dropped image and raises "
                   "'Cannot find valid image after 1000!' when the split keeps none")
    MIN_SIZE = 2  # LoadImageFromFile(ignore_empty=True, min_size=2) in the textrecog configs

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.dict = set(self.entries or ())

    def read_charset_as_trainer(self, raw: bytes, cs: Charset) -> tuple[str, ...]:
        """list_from_file: text mode UTF-8 (universal newlines, a BOM stays in line 1), each
        line right-stripped of \\r\\n; Dictionary skips empty lines and refuses longer ones."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = raw[:e.start].count(b"\n") + 1
            raise CharsetUnreadable(f"UnicodeDecodeError reading dict_file {cs.source} line {line}: "
                                    f"MMOCR reads UTF-8; fix: {self.charset_hint}") from None
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        if lines[-1] == "":
            lines.pop()
        for number, line in enumerate(lines, 1):
            if len(line) > 1:
                raise CharsetUnreadable(f"Dictionary raises ValueError: line {number} of {cs.source} holds "
                                        f"{len(line)} characters ({line[:20]!r}); fix: {self.charset_hint}")
        return tuple(line for line in lines if line)

    def fatal(self) -> str | None:
        cs = self.s.charset
        if cs is None:
            return "MMOCR needs a dict_file: pass --charset"
        if self.charset_error:
            return self.charset_error
        dups = [e for e in dict.fromkeys(self.entries or ()) if (self.entries or ()).count(e) > 1]
        if dups:
            return f"Dictionary asserts 'Invalid dictionary: Has duplicated characters' ({''.join(dups)!r})"
        return None

    def steps(self, t: Trace, image: ImageFn) -> None:
        size = opencv_size(image() or b"")
        if size is None:
            raise Dropped("undecodable_by_opencv")
        if min(size) < self.MIN_SIZE:
            raise Dropped("image_smaller_than_min_size")
        if self.s.lower:
            t.apply(t.label.lower(), "lowercased")
        if t.uncovered(self.dict.__contains__):
            if not self.s.with_unknown:
                raise Dropped("crash:char_not_in_dict")
            t.apply("".join(ch if ch in self.dict else UNKNOWN for ch in t.label), "replaced_by_unknown")
        if self.s.mmocr_loss == "ce":  # BOS + text + EOS cut to max_seq_len; the target drops BOS
            t.measure(len(t.label), len(t.label) + 2)
            t.apply(t.label[:self.max_length - 1], "truncated_to_max_seq_len")

    def covered_chars(self) -> str:
        return "".join(self.entries or ())

    def fixes(self, needed: int, missing: str, alterations: set[str]) -> list[str]:
        out = []
        if missing:
            out.append(f"add to dict_file, one per line: {missing}  (or with_unknown=True to map them to <UKN>)")
        if needed > self.max_length:
            out.append(f"max_seq_len={needed}  (module loss; the longest label + BOS/EOS)")
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


def huge(data: bytes) -> bool:
    """Over the DecompressionBombError threshold of a trainer's Pillow (twice its default
    MAX_IMAGE_PIXELS) by the header: never decoded here. The constant, not Pillow's
    global, which dataconv.io.decode switches off for its own explicit limit."""
    from dataconv.io import decode

    try:
        width, height = decode.header_size(data)
    except SampleRejected:
        return False
    return width * height > 2 * decode.DEFAULT_MAX_PIXELS


def pillow_failure(data: bytes | None) -> str | None:
    """None when ``Image.open(...).convert('RGB')`` succeeds, else the exception's kind:
    "OSError" (IOError, which clovaai catches) or the class name of anything else."""
    from PIL import Image

    if not data:
        return "OSError"
    if huge(data):
        return "DecompressionBombError"
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.convert("RGB")
    except OSError:
        return "OSError"
    except Exception as e:
        return type(e).__name__
    return None


def opencv_size(data: bytes) -> tuple[int, int] | None:
    """(height, width) of ``cv2.imdecode(buf, IMREAD_COLOR)``, or None where it gives None."""
    import cv2
    import numpy as np

    if not data or huge(data):
        return None
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        return None
    return None if img is None else img.shape[:2]


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

