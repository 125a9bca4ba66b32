"""clovaai / PaddleOCR recognition labels: ``path<TAB>label`` per line (``--sep tab``),
or ``name label`` split at the first whitespace (``--sep space``: MMOCR, PARSeq tools,
kocrnn ``labels.txt``). Paths are relative to the ``-i`` root."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from dataconv.converters.base import LineFileConverter, encoding_option, register
from dataconv.errors import DataconvError
from dataconv.io.safeopen import InputFile, Source, as_input
from dataconv.sample import FileImage, Parsed, Reject, Sample
from dataconv.io.textfile import LineSpan, read_lines
from dataconv.optionspec import Choice, Path, option

SEPARATORS = {"tab": re.compile(r"\t"), "space": re.compile(r"\s+")}


def split_line(line: str, sep: str) -> tuple[str, str] | None:
    """(path, label) split at the first separator, or None when there is none."""
    if sep == "space":
        line = line.lstrip()
    parts = SEPARATORS[sep].split(line, maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else None


LineSplitter = Callable[[str], "tuple[str, str] | None"]


def label_file_samples(root: str, path: Source, sep: str, encoding: str,
                       splitter: LineSplitter | None = None, span: LineSpan | None = None) -> Iterator[Parsed]:
    """Samples of one ``path<sep>label`` file (of its lines in ``span``); the id is the
    image path as written.

    ``splitter(line) -> (path, label) | None`` replaces the separator split for label
    files with their own line syntax (ICDAR's quoted ``word_1.png, "label"``)."""
    name = os.path.basename(as_input(path).path)
    split = splitter or (lambda line: split_line(line, sep))
    for lineno, line in read_lines(path, encoding, span):
        if not line.strip():
            continue
        where = f"{name}:{lineno}"
        if "\x00" in line:  # a corrupt line (or a UTF-16 file read as UTF-8), never a label
            yield Reject(where, "nul_byte", f"NUL byte in {line[:80]!r}")
            continue
        parts = split(line)
        if parts is None:
            yield Reject(where, "no_separator", f"no {sep} separator in {line[:80]!r}")
            continue
        rel, label = parts
        yield Sample(id=rel, label=label, image=FileImage(root, rel), source=where)


def gt_option() -> Any:
    """``--gt``: the label file, when it is not ROOT/gt.txt."""
    return option(None, "The label file [default: ROOT/gt.txt].", type=Path(dir_okay=False))


@dataclass(frozen=True)
class GtTxtOptions:
    gt: str | None = gt_option()
    sep: str = option("tab", "tab: path<TAB>label; space: split at the first whitespace.",
                      type=Choice(tuple(sorted(SEPARATORS))), show_default=True)
    encoding: str = encoding_option()


@register("gt-txt", help="clovaai/PaddleOCR `path<TAB>label` files (or `name label` with --sep space)",
          example="dataconv gt-txt -i ROOT --gt ROOT/gt.txt -o out")
class GtTxt(LineFileConverter):
    Options = GtTxtOptions

    def label_file(self) -> InputFile:
        """``--gt`` (as given) or ROOT/gt.txt (confined), checked (subclasses with another
        line syntax reuse it); what it is (FIFO, symlink out) is decided when it is opened."""
        if not self.src.is_dir():
            raise DataconvError(f"{self.src}: -i must be the folder the label file's paths are relative to")
        gt = self.named_file(self.options.gt, "gt") if self.options.gt else self.inside("gt.txt")
        if not gt.exists():
            raise DataconvError(f"{gt}: no such label file; pass --gt FILE")
        return gt

    def line_file(self) -> InputFile:
        return self.label_file()

    def lines(self, span: LineSpan | None) -> Iterator[Parsed]:
        return label_file_samples(self.src, self.label_file(), self.options.sep, self.options.encoding, span=span)
