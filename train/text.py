"""Charset, CTC greedy decoding and the text metrics, in plain Python/numpy.

Kept free of torch so that ``dataconv predict model.onnx`` needs only onnxruntime.
Class 0 is the CTC blank; character ``i`` of the charset is class ``i + 1``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Sequence

import numpy as np
from rapidfuzz.distance import Levenshtein

from dataconv import charsets
from dataconv.outputs import manifest
from dataconv.errors import DataconvError
from dataconv.train.settings import check_charset

BLANK = 0


def load_charset(data: str | None, charset: str | None, encoding: str = "utf-8") -> str:
    """The charset to train with: ``charset`` (any form ``dataconv.charsets`` reads: one
    entry per line, one line, a PARSeq YAML, or the characters themselves) if given, else
    ``data/manifest.json``. Every character of every entry, each once, in first-seen order."""
    if charset:
        loaded = charsets.load(charset, encoding)
        _refuse_repeats(loaded)
        text, where = "".join(loaded.entries), charset
    elif data and os.path.isfile(os.path.join(data, manifest.MANIFEST)):
        where = os.path.join(data, manifest.MANIFEST)
        text = manifest.read(data).get("charset") or ""
        if not text:
            raise DataconvError(f"{where}: no 'charset' field; pass --charset")
    else:
        raise DataconvError(f"{data}: no manifest.json with a charset; pass --charset FILE_OR_CHARACTERS")
    if not isinstance(text, str):
        raise DataconvError(f"{where}: the charset is not a string")
    return check_charset("".join(dict.fromkeys(text)), where)


def _refuse_repeats(charset: charsets.Charset) -> None:
    """A character listed twice would be two classes the model must tell apart, each
    trained on half of its samples: a mistake in the file, refused with where it is."""
    repeats = charset.repeats()
    if not repeats:
        return
    unit = "line" if charset.lines else "position"
    shown = "; ".join(f"{ch!r} on {unit}s {', '.join(map(str, at[:5]))}" for ch, at in list(repeats.items())[:5])
    more = f" (and {len(repeats) - 5} more)" if len(repeats) > 5 else ""
    where = "--charset" if charset.form == "literal" else charset.source
    raise DataconvError(f"{where}: {len(repeats)} character(s) listed more than once: {shown}{more}; "
                        "each character is one class: list it once")


@dataclass(frozen=True)
class CTCCodec:
    """Maps text to class ids and CTC outputs back to text."""

    charset: str

    @property
    def num_classes(self) -> int:
        return len(self.charset) + 1

    def encode(self, text: str) -> list[int]:
        """Class ids of ``text``; characters outside the charset are dropped (the sample still
        trains on the rest and is scored against its full label)."""
        index = self._index
        return [index[c] for c in text if c in index]

    @cached_property
    def _index(self) -> dict[str, int]:
        return {c: i + 1 for i, c in enumerate(self.charset)}

    def decode_ids(self, ids: Iterable[int]) -> str:
        """Greedy CTC: collapse repeats, then drop blanks."""
        out, prev = [], BLANK
        for i in ids:
            if i != prev and i != BLANK:
                out.append(self.charset[i - 1])
            prev = i
        return "".join(out)

    def decode(self, scores: np.ndarray) -> list[str]:
        """Texts of a (batch, time, classes) array of logits or log-probabilities."""
        return [self.decode_ids(row.tolist()) for row in np.asarray(scores).argmax(axis=-1)]

    def decode_scored(self, log_probs: np.ndarray) -> list[tuple[str, float]]:
        """Texts of a (batch, time, classes) array of log-probabilities, each with the
        probability of its greedy path (the product of every step's best class): near 1
        when every step is sure, low when any step hesitates."""
        log_probs = np.asarray(log_probs, dtype=np.float64)
        path = np.nan_to_num(log_probs.max(axis=-1).sum(axis=-1), nan=-np.inf)
        confidence = np.exp(np.minimum(path, 0.0))  # a probability, whatever a model outputs
        return [(text, float(c)) for text, c in zip(self.decode(log_probs), confidence)]


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance (insertions, deletions and substitutions cost 1), by rapidfuzz:
    bit-parallel, in memory linear in the lengths, so that a prediction millions of
    characters long costs milliseconds, not a table of len(a) x len(b)."""
    return Levenshtein.distance(a, b)


@dataclass
class TextScore:
    """Running word accuracy and CER (total edits / total label characters)."""

    words: int = 0
    correct: int = 0
    edits: int = 0
    chars: int = 0

    def update(self, predictions: Iterable[str], labels: Iterable[str]) -> None:
        for pred, label in zip(predictions, labels):
            self.words += 1
            self.correct += pred == label
            self.edits += edit_distance(pred, label)
            self.chars += len(label)

    @property
    def accuracy(self) -> float:
        return self.correct / self.words if self.words else 0.0

    @property
    def cer(self) -> float:
        return self.edits / max(self.chars, 1)
