"""AI Hub 다양한 형태의 한글 문자 OCR (printed forms and handwritten letters/words).

One JSON per image: ``image.file_name`` and ``text``. Printed forms hold
``text.word[]`` of ``{value, wordbox}`` with ``wordbox = [x1, y1, x2, y2]`` (top-left and
bottom-right corners, not x, y, w, h): each word is cropped. Handwritten images are
already one syllable (``text.letter.value``) or one word whose ``text.word[]`` entries
are its characters: the whole image is the sample and its label the entries joined with
no separator.

Which is which: a file with ``text.letter`` is a letter; otherwise ``--kind`` decides,
and by default (``auto``) a label file whose path names handwriting (``필기체``,
``handwrit``, any case) is a handwritten word, any other a printed form. A ``wordbox``
with swapped corners or a zero size is ``degenerate_box`` (never reordered).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from dataconv.converters.base import TaskSpec, encoding_option, register
from dataconv.converters.pagejson import PerImageJson, Entry, box_or_reject, corner_box, words
from dataconv.io.crop import CropSpec
from dataconv.optionspec import Choice, group, option

HANDWRITING_MARKS = ("필기체", "handwrit")


@dataclass(frozen=True)
class FormsOptions:
    kind: str = option("auto", "printed: crop every wordbox; handwritten: the whole image is one "
                               "word; auto: handwritten when the label file's path says 필기체 or "
                               "handwriting.", type=Choice(("auto", "handwritten", "printed")),
                       show_default=True)
    crop: CropSpec = group(CropSpec)
    page: TaskSpec = group(TaskSpec)
    encoding: str = encoding_option()


@register("aihub-forms", help="AI Hub 다양한 형태의 한글 문자 OCR (printed forms, handwritten letters/words)",
          example="dataconv aihub-forms -i 다양한형태 -o out")
class AiHubForms(PerImageJson):
    schema = "aihub-forms"
    Options = FormsOptions
    illegible_marker = False

    def image_name(self, document: Any) -> str:
        return document["image"]["file_name"]

    def handwritten(self, rel: str) -> bool:
        if self.options.kind != "auto":
            return self.options.kind == "handwritten"
        path = rel.casefold()
        return any(mark in path for mark in HANDWRITING_MARKS)

    def regions(self, document: Any, rel: str) -> Iterator[Entry]:
        text = document["text"]
        if "letter" in text:
            yield Entry("letter", text["letter"].get("value"), None)
        elif self.handwritten(rel):
            values = [w.get("value") for w in text.get("word", [])]
            yield Entry("word", None if None in values or not values else words(values), None)
        else:
            for pos, word in enumerate(text.get("word", [])):
                yield Entry(f"word[{pos}]", word.get("value"),
                             box_or_reject(corner_box, word.get("wordbox"), f"word[{pos}].wordbox"))
