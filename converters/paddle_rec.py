"""PaddleOCR recognition labels: ``path<TAB>label`` per line, paths relative to ``-i``.

The same parser as ``gt-txt --sep tab`` (``converters.gt_txt.label_file_samples``),
under the name PaddleOCR users look for and with the label file passed as ``--labels``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from dataconv.converters.base import LineFileConverter, encoding_option, register
from dataconv.converters.gt_txt import label_file_samples
from dataconv.errors import DataconvError
from dataconv.io.safeopen import InputFile
from dataconv.io.textfile import LineSpan
from dataconv.optionspec import Path, option
from dataconv.sample import Parsed


@dataclass(frozen=True)
class PaddleRecOptions:
    labels: str = option(help="The recognition label file (paths inside are relative to -i).",
                         type=Path(dir_okay=False))
    encoding: str = encoding_option()


@register("paddle-rec", help="PaddleOCR recognition labels (path<TAB>label)",
          example="dataconv paddle-rec -i train_data --labels train_data/rec_gt_train.txt -o out")
class PaddleRec(LineFileConverter):
    Options = PaddleRecOptions

    def line_file(self) -> InputFile:
        if not self.src.is_dir():
            raise DataconvError(f"{self.src}: -i must be the folder the label file's paths are relative to")
        return self.named_file(self.options.labels, "labels")

    def lines(self, span: LineSpan | None) -> Iterator[Parsed]:
        return label_file_samples(self.src, self.line_file(), "tab", self.options.encoding, span=span)
