"""MJSynth (Synth90k, ``mjsynth.tar.gz`` -> ``mnt/ramdisk/max/90kDICT32px``).

``annotation_train.txt`` (also ``_val``, ``_test``, ``annotation.txt``) lists one image
per line with its lexicon index: ``./3000/7/182_slinking_71711.jpg 71711``. The label
is the word in the file name, between the first and the last underscore (``slinking``).

Some images in the archive are empty or corrupt. The decode check rejects them anyway;
the file names below, circulated in several public MJSynth loaders (for instance the
Fuel project's converter), are rejected up front as ``known_corrupt`` without opening
them: 26 in train, 3 in val, 3 in test.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

from dataconv.converters.base import LineFileConverter, encoding_option, register
from dataconv.errors import DataconvError
from dataconv.io.safeopen import InputFile
from dataconv.sample import FileImage, Parsed, Reject, Sample
from dataconv.io.textfile import LineSpan, read_lines
from dataconv.optionspec import option

KNOWN_CORRUPT = frozenset(
    # train
    "2194/2/334_EFFLORESCENT_24742 2128/2/369_REDACTED_63458 2069/4/192_whittier_86389 "
    "2025/2/364_SNORTERS_72304 2013/2/370_refract_63890 1881/4/225_Marbling_46673 "
    "1863/4/223_Diligently_21672 1817/2/363_actuating_904 1730/2/361_HEREON_35880 "
    "1696/4/211_Queened_61779 1650/2/355_stony_74902 1332/4/224_TETHERED_78397 "
    "936/2/375_LOCALITIES_44992 913/4/231_randoms_62372 905/4/234_Postscripts_59142 "
    "869/4/234_TRIASSIC_80582 627/6/83_PATRIARCHATE_55931 596/2/372_Ump_81662 "
    "554/2/366_Teleconferences_77948 495/6/81_MIDYEAR_48332 429/4/208_Mainmasts_46140 "
    "384/4/220_bolts_8596 368/4/232_friar_30876 275/6/96_hackle_34465 "
    "264/2/362_FORETASTE_30276 173/2/358_BURROWING_10395 "
    # val
    "2557/2/351_DOWN_23492 2540/4/246_SQUAMOUS_73902 2489/4/221_snored_72290 "
    # test
    "2911/6/77_heretical_35885 2852/6/60_TOILSOME_79481 2749/6/101_Chided_13155".split())


def clean_path(path: str) -> str:
    """``./3000/7/x.jpg`` -> ``3000/7/x.jpg``."""
    return os.path.normpath(path).replace(os.sep, "/")


def word_of(path: str) -> str | None:
    """The word between the first and last underscore of the file name, or None."""
    stem = os.path.splitext(os.path.basename(path))[0]
    first, last = stem.find("_"), stem.rfind("_")
    return stem[first + 1:last] if 0 <= first < last else None


@dataclass(frozen=True)
class MjSynthOptions:
    list_file: str = option("annotation_train.txt", "The image list, relative to -i (or a path).",
                            flags=("--list",), show_default=True)
    encoding: str = encoding_option()


@register("mjsynth", help="MJSynth / Synth90k (annotation_*.txt; label from the file name)",
          example="dataconv mjsynth -i 90kDICT32px --list annotation_train.txt -o out")
class MjSynth(LineFileConverter):
    Options = MjSynthOptions

    def line_file(self) -> InputFile:
        if not self.src.is_dir():
            raise DataconvError(f"{self.src}: -i must be the 90kDICT32px folder")
        listing = self.options.list_file
        source = InputFile.user(listing) if os.path.lexists(listing) else self.inside(listing)
        if not source.exists():
            raise DataconvError(f"{listing}: no such image list (relative to -i or a path)")
        return source

    def lines(self, span: LineSpan | None) -> Iterator[Parsed]:
        source = self.line_file()
        name = os.path.basename(source.path)
        for lineno, line in read_lines(source, self.options.encoding, span):
            if line.strip():
                yield self._item(line.split()[0], f"{name}:{lineno}")

    def _item(self, written: str, where: str) -> Parsed:
        rel = clean_path(written)
        word = word_of(rel)
        if word is None:
            return Reject(where, "no_label_in_name", f"{written}: no _word_ in the file name", rel)
        if os.path.splitext(rel)[0] in KNOWN_CORRUPT:
            return Reject(where, "known_corrupt", f"{written} is on the known-corrupt list", rel)
        return Sample(id=rel, label=word, image=FileImage(self.src, rel), source=where)
