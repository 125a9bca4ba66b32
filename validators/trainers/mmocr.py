"""open-mmlab/mmocr 1.x at load time.

Sources read (facts only, nothing copied; commit a83f716): ``dictionary.py``,
``mmocr/utils/fileio.py`` list_from_file (08eac37), ``module_losses/base.py`` get_targets
(1834ff4), ``ctc_module_loss.py``, ``datasets/transforms/loading.py`` LoadImageFromFile
(02b61f0; the textrecog configs use ignore_empty=True, min_size=2), ``recog_lmdb_dataset.py``
and LoadImageFromNDArray (the LMDB configs: the image comes decoded from the LMDB and no
min_size is checked).
"""
from __future__ import annotations

from dataclasses import dataclass

from dataconv.charsets import Charset
from dataconv.validators.trainers.base import (CharsetUnreadable, Dropped, ImageFn, Settings, Switch, Trace,
                                               Trainer, register)
from dataconv.validators.trainers.common import opencv_size

UNKNOWN = "\ufffd"  # stands for MMOCR's <UKN> token in altered labels
MMOCR_LOSSES = ("ce", "ctc")
MMOCR_LOADERS = ("lmdb", "file")


@dataclass(frozen=True)
class MMOCROptions:
    with_unknown: bool = False  # Dictionary(with_unknown=True)
    lower: bool = False  # module loss letter_case='lower'
    mmocr_loss: str = "ce"  # the module loss: ce (attention heads) or ctc
    mmocr_loader: str = "lmdb"  # how images load: from the LMDB, or as files (a dump)


@register
class MMOCR(Trainer):
    """MMOCR 1.x ``Dictionary`` (dict_file, with_unknown), LoadImageFromFile, the module loss."""

    name = "mmocr"
    Options = MMOCROptions
    switches = (
        Switch("--with-unknown", "with_unknown", "Dictionary(with_unknown=True)."),
        Switch("--lower", "lower", "module loss letter_case='lower'."),
        Switch("--mmocr-loss", "mmocr_loss", choices=MMOCR_LOSSES, help=(
            "module loss: ce (attention heads; the label keeps max_seq_len - 1 characters) "
            "[default] or ctc (not cut at max_seq_len).")),
        Switch("--mmocr-loader", "mmocr_loader", choices=MMOCR_LOADERS, help=(
            "how images load: lmdb (RecogLMDBDataset + LoadImageFromNDArray, MMOCR's LMDB "
            "configs: no size check) [default] or file (LoadImageFromFile(min_size=2): the "
            "images of dataconv dump --style mmocr).")),
    )
    default_max_length = 40
    length_key = "max_seq_len"
    charset_hint = "dataconv charset DATA -o dict.txt --style paddle (UTF-8, no BOM, one character per line)"
    all_dropped = ("BaseDataset refetches a random index for every dropped image and raises "
                   "'Cannot find valid image after 1000!' when the split keeps none")
    MIN_SIZE = 2  # LoadImageFromFile(ignore_empty=True, min_size=2) in the textrecog configs; not in the LMDB ones

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.dict = set(self.entries or ())

    def read_charset(self, raw: bytes, cs: Charset) -> tuple[str, ...]:
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
        if self.o.mmocr_loader == "file" and min(size) < self.MIN_SIZE:
            raise Dropped("image_smaller_than_min_size")
        if self.o.lower:
            t.apply(t.label.lower(), "lowercased")
        if t.uncovered(self.dict.__contains__):
            if not self.o.with_unknown:
                raise Dropped("crash:char_not_in_dict")
            t.apply("".join(ch if ch in self.dict else UNKNOWN for ch in t.label), "replaced_by_unknown")
        if self.o.mmocr_loss == "ce":  # BOS + text + EOS cut to max_seq_len; the target drops BOS
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

    def describe(self) -> str:
        return f"{super().describe()}, {self.o.mmocr_loss} loss"
