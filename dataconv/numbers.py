"""Strict parsing of numbers read from files and options.

Python's ``int()`` and ``float()`` accept more than a data file means: ``1_0`` is 10,
``" 7 "`` is 7, ``"١٢"`` (Arabic-Indic digits) is 12, ``"nan"``, ``"inf"`` and ``1e308``
are floats. A coordinate or a count in an annotation is plain ASCII decimal, so every
number the tool reads from a file or an option goes through these two functions.
"""
from __future__ import annotations

import math
import os
import re

from dataconv.errors import DataconvError

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
MAX_INT_DIGITS = 19  # beyond int64: no count or coordinate in a real file is that long


def parse_int(text: str | bytes) -> int:
    """ASCII decimal digits with an optional sign, else ValueError (no ``_``, spaces,
    non-ASCII digits or more than ``MAX_INT_DIGITS`` digits)."""
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="replace")
    if not _INT.fullmatch(text) or len(text.lstrip("+-")) > MAX_INT_DIGITS:
        raise ValueError(f"not a plain decimal integer: {text[:40]!r}")
    return int(text)


def parse_float(text: str | bytes) -> float:
    """A finite decimal number (``12``, ``-3.5``, ``1e3``), else ValueError: no ``_``,
    ``nan``, ``inf``, hex or values that overflow to infinity."""
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="replace")
    if not _FLOAT.fullmatch(text):
        raise ValueError(f"not a plain decimal number: {text[:40]!r}")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:40]!r}")
    return value


def finite(value: object) -> float:
    """A JSON number as a finite float, else ValueError (JSON may hold ``1e999``,
    booleans or ``NaN`` written by Python's json module)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"not a number: {value!r:.40}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ValueError(f"number out of range: {value!r:.40}")
    return number


def env_count(name: str, default: int) -> int:
    """A tuning variable of the environment (``DATACONV_...``): a whole number of at
    least 1, ``default`` when unset; anything else is a one-line DataconvError."""
    text = os.environ.get(name, "")
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise DataconvError(f"{name}={text!r}: expected a whole number of at least 1")
    return int(text)
