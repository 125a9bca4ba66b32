"""The one compile of every regular expression a user writes (label-rule ``drop`` patterns,
``--group-regex``, ``lmdb --label-regex``).

Python's ``re`` backtracks: ``(a+)+$`` takes minutes on a 30-character label, and rules files
travel between people and recipes. These patterns are compiled by RE2 (``google-re2``),
which matches in time linear in the text whatever the pattern. RE2 accepts Python's
syntax except the constructs that need backtracking (backreferences ``\\1``, lookahead and
lookbehind ``(?=...)``, ``(?<=...)``, possessive and atomic groups); such a pattern is a
one-line error naming where it came from. RE2's own error log is switched off, so the
error is printed once, by dataconv.
"""
from __future__ import annotations

from typing import Any

import re2

from dataconv.errors import DataconvError

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


def compile_user(pattern: str, where: str) -> Any:
    """``pattern`` compiled for linear-time matching (``search``, ``match``, ``groups``,
    ``pattern`` as in ``re``); ``where`` names it in the error (a file and key, an option)."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as e:
        message = e.args[0].decode("utf-8", "replace") if e.args and isinstance(e.args[0], bytes) else str(e)
        raise DataconvError(f"{where}: {pattern!r} is not a regular expression dataconv runs ({message}; "
                            "backreferences and lookarounds are not supported: patterns run in "
                            "linear time)") from None
