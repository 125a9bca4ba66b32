"""PaddlePaddle/PaddleOCR at load time.

Sources read (facts only, nothing copied; commit 0002349): ``ppocr/data/imaug/label_ops.py``
BaseRecLabelEncode, CTC/Attn/SAR/NRTR/MultiLabelEncode, ``ppocr/data/imaug/operators.py``
DecodeImage, ``ppocr/data/lmdb_dataset.py`` __getitem__, ``configs/rec/PP-OCRv4/ch_PP-OCRv4_rec.yml``
(145d205: MultiLabelEncode with gtc_encode NRTRLabelEncode, max_text_length 25).
"""
from __future__ import annotations

from dataclasses import dataclass

from dataconv.charsets import Charset
from dataconv.validators.trainers.base import (CharsetUnreadable, Dropped, ImageFn, Settings, Switch, Trace,
                                               Trainer, register)
from dataconv.validators.trainers.common import LOWER36, opencv_size

# encoder -> slots its label needs beyond the characters (the length check on the encoded label)
EXTRA_SLOTS = {"multi-nrtr": 2, "multi-sar": 2, "ctc": 0, "attn": 1}  # multi-nrtr: PP-OCRv4 rec config
PADDLE_ENCODERS = tuple(EXTRA_SLOTS)


@dataclass(frozen=True)
class PaddleOCROptions:
    use_space_char: bool = False  # Global.use_space_char
    paddle_encoder: str = "multi-nrtr"  # the label encoder of the config


@register
class PaddleOCR(Trainer):
    """PaddleOCR LMDBDataSet + DecodeImage + the label encoder of the config."""

    name = "paddleocr"
    Options = PaddleOCROptions
    switches = (
        Switch("--use-space-char", "use_space_char", "Global.use_space_char=true."),
        Switch("--paddle-encoder", "paddle_encoder", choices=PADDLE_ENCODERS, help=(
            "label encoder: multi-nrtr = MultiLabelEncode(gtc_encode=NRTRLabelEncode) of the "
            "PP-OCRv4 rec config ch_PP-OCRv4_rec.yml [default], multi-sar = MultiLabelEncode of "
            "PP-OCRv3, ctc = CTCLabelEncode, attn = AttnLabelEncode.")),
    )
    length_key = "Global.max_text_length"
    charset_hint = "dataconv charset DATA -o dict.txt --style paddle (UTF-8, no BOM, one character per line)"
    all_dropped = ("LMDBDataSet.__getitem__ retries a random index for every dropped sample and "
                   "recurses until RecursionError when the split keeps none")

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.lower = settings.charset is None  # no dict: 0-9a-z and lower-casing
        entries = list(LOWER36) if self.entries is None else list(self.entries)
        if self.o.use_space_char and settings.charset is not None:
            entries.append(" ")
        self.dict = set(entries)
        self.extra = EXTRA_SLOTS[self.o.paddle_encoder]

    def read_charset(self, raw: bytes, cs: Charset) -> tuple[str, ...]:
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
                raise Dropped(f"too_long_for_{self.o.paddle_encoder.split('-')[-1]}")

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

    def describe(self) -> str:
        return f"{super().describe()}, encoder {self.o.paddle_encoder}"
