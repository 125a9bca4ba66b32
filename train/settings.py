"""What a model file may claim about itself, checked before anything is built from it.

A checkpoint's hyperparameters and an ONNX file's metadata decide how much memory a
prediction allocates (a (channels, height, width) array per image) and what text it
prints, and both come from files anyone can hand over. Every reader of a model file
(``dataconv.train.model`` for checkpoints, ``dataconv.export.predict`` for ONNX) passes
those values through here first, and the ``train`` options use the same ranges, so a
model dataconv trains is always one it accepts.

Plain Python: the ONNX path must work without torch, and the CLI imports the ranges.
"""
from __future__ import annotations

import unicodedata
from typing import Any, Mapping

from dataconv.errors import DataconvError

# name: (conv channels of the four stages, LSTM hidden size per direction)
SIZES: dict[str, tuple[tuple[int, int, int, int], int]] = {
    "tiny": ((8, 16, 32, 64), 64),
    "small": ((32, 64, 128, 128), 128),
    "base": ((64, 128, 256, 256), 256),
}
HEIGHT_STRIDE = 16  # the network pools height by 16
MIN_HEIGHT, MAX_HEIGHT = 16, 256
MIN_WIDTH, MAX_WIDTH = 4, 4096
CHANNELS = (1, 3)
# Unicode categories a charset may not hold: control characters (tab, newline, NUL...) would
# break the IMAGE<TAB>TEXT output lines, and lone surrogates cannot be printed at all.
FORBIDDEN_CATEGORIES = ("Cc", "Cs")


def check_charset(charset: object, where: str) -> str:
    """``charset`` if it is a non-empty string of distinct printable characters."""
    if not isinstance(charset, str) or not charset:
        raise DataconvError(f"{where}: charset must be a non-empty string, got {_describe(charset)}")
    bad = next((c for c in charset if unicodedata.category(c) in FORBIDDEN_CATEGORIES), None)
    if bad is not None:
        raise DataconvError(f"{where}: charset holds control character U+{ord(bad):04X}")
    if len(set(charset)) != len(charset):
        twice = next(c for i, c in enumerate(charset) if c in charset[:i])
        raise DataconvError(f"{where}: charset holds {twice!r} more than once")
    return charset


def check_preprocess(where: str, height: object, width: object, channels: object,
                     keep_ratio: object) -> dict[str, Any]:
    """The preprocessing settings as ``Preprocess`` keywords, each within the range
    ``dataconv train`` accepts."""
    _check_int(where, "image height", height, MIN_HEIGHT, MAX_HEIGHT)
    if height % HEIGHT_STRIDE:  # type: ignore[operator]
        raise DataconvError(f"{where}: image height {height} is not a multiple of {HEIGHT_STRIDE}")
    _check_int(where, "image width", width, MIN_WIDTH, MAX_WIDTH)
    if channels not in CHANNELS or type(channels) is not int:
        raise DataconvError(f"{where}: channels must be 1 or 3, got {_describe(channels)}")
    if not isinstance(keep_ratio, bool):
        raise DataconvError(f"{where}: keep_ratio must be true or false, got {_describe(keep_ratio)}")
    return {"height": height, "width": width, "channels": channels, "keep_ratio": keep_ratio}


def check_size(size: object, where: str) -> str:
    if not isinstance(size, str) or size not in SIZES:
        raise DataconvError(f"{where}: model size must be one of {', '.join(SIZES)}, got {_describe(size)}")
    return size


def check_hparams(hp: object, where: str) -> dict[str, Any]:
    """A checkpoint's hyperparameters as ``Recognizer`` keywords. The dataset path the run
    was trained on is left out on purpose: nothing that reads a checkpoint opens it."""
    if not isinstance(hp, Mapping):
        raise DataconvError(f"{where}: hyper_parameters must be a mapping, got {_describe(hp)}")
    missing = [k for k in ("charset", "img_height", "img_width", "channels", "keep_ratio", "size")
               if k not in hp]
    if missing:
        raise DataconvError(f"{where}: hyper_parameters lack {', '.join(missing)}")
    p = check_preprocess(where, hp["img_height"], hp["img_width"], hp["channels"], hp["keep_ratio"])
    return {"charset": check_charset(hp["charset"], where), "img_height": p["height"],
            "img_width": p["width"], "channels": p["channels"], "keep_ratio": p["keep_ratio"],
            "size": check_size(hp["size"], where)}


def _check_int(where: str, what: str, value: object, lo: int, hi: int) -> None:
    if type(value) is not int or not lo <= value <= hi:
        raise DataconvError(f"{where}: {what} must be an integer from {lo} to {hi}, got {_describe(value)}")


def _describe(value: object) -> str:
    """A short, one-line account of a claimed value (it may be huge or hold newlines)."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 40 else f"{type(value).__name__} {text[:37]}..."
