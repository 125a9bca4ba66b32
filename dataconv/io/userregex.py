"""The one compile of every regular expression a user writes (label-rule ``drop`` patterns,
``--group-regex``, ``lmdb --label-regex``).

Python's ``re`` backtracks: ``(a+)+$`` takes minutes on a 30-character label, and rules files
travel between people and recipes. These patterns are compiled by RE2 (``google-re2``),
which matches in time linear in the text whatever the pattern. RE2 accepts Python's
syntax except the constructs that need backtracking (backreferences ``\\1``, lookahead and
lookbehind ``(?=...)``, ``(?<=...)``, possessive and atomic groups); such a pattern is a
one-line error naming where it came from. RE2's own error log is switched off, so the
error is printed once, by dataconv.

Where RE2 reads Python's syntax differently, the pattern is given Python's meaning first
(``python_meaning``), so a pattern never changes what it matches silently: ``\\d``, ``\\s``
and ``\\w`` (and ``\\D``, ``\\S``, ``\\W``) are Unicode in Python and ASCII in RE2, so they
become the exact sets Python's ``re`` matches with them; ``x{,n}`` is ``x{0,n}``, ``\\Z``
is ``\\z``. ``\\b`` and ``\\B`` (word boundaries) cannot be made Unicode in RE2 and are
refused. Python's ``$`` also matches before a final newline, RE2's only at the end.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import re2

from dataconv.errors import DataconvError

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPEN_QUANTIFIER = re.compile(r"\{,(\d*)\}")  # Python's {,n}: RE2 reads it as text


# RE2 reads UTF-8, which cannot hold a lone surrogate (a byte a charset file did not decode,
# kept by surrogateescape as clovaai's shell reading keeps it). A pattern holding one, and
# every text matched with it, are read with the surrogates moved to the last 2,048 code
# points of plane 16 (private use), and a result moved back.
_SURROGATES = range(0xD800, 0xE000)
_OUT_OF_SURROGATES = {c: 0x10F800 + c - 0xD800 for c in _SURROGATES}
_BACK_TO_SURROGATES = {v: k for k, v in _OUT_OF_SURROGATES.items()}


@dataclass(frozen=True)
class UserPattern:
    """A compiled user pattern (``search``, ``match``, ``fullmatch``, ``sub`` as in ``re``);
    ``pattern`` is the text as the user wrote it, for messages."""

    pattern: str
    compiled: Any
    surrogates: bool = False  # the pattern holds lone surrogates: texts are always moved

    def search(self, text: str) -> Any:
        return self._run("search", text)

    def match(self, text: str) -> Any:
        return self._run("match", text)

    def fullmatch(self, text: str) -> Any:
        return self._run("fullmatch", text)

    def sub(self, replacement: str, text: str) -> str:
        return self._run("sub", replacement, text)

    def _run(self, method: str, *texts: str) -> Any:
        """The RE2 call; with the surrogates moved when the pattern or a text holds one
        (a match's positions then count the same characters; ``sub``'s result is moved back)."""
        if not self.surrogates:
            try:
                return getattr(self.compiled, method)(*texts)
            except UnicodeEncodeError:
                pass
        done = getattr(self.compiled, method)(*(t.translate(_OUT_OF_SURROGATES) for t in texts))
        return done.translate(_BACK_TO_SURROGATES) if method == "sub" else done


def compile_user(pattern: str, where: str) -> UserPattern:
    """``pattern`` compiled for linear-time matching with Python's meaning; ``where`` names
    it in the error (a file and key, an option)."""
    surrogates = any(0xD800 <= ord(c) < 0xE000 for c in pattern)
    meant = python_meaning(pattern, where)
    try:
        compiled = re2.compile(meant.translate(_OUT_OF_SURROGATES) if surrogates else meant, _OPTIONS)
        return UserPattern(pattern, compiled, surrogates)
    except re2.error as e:
        message = e.args[0].decode("utf-8", "replace") if e.args and isinstance(e.args[0], bytes) else str(e)
        kind, _, detail = message.partition(": ")  # the detail quotes the rewritten pattern
        message = message if len(detail) <= 40 else kind
        raise DataconvError(f"{where}: {pattern!r} is not a regular expression dataconv runs ({message}; "
                            "backreferences and lookarounds are not supported: patterns run in "
                            "linear time)") from None


def python_meaning(pattern: str, where: str) -> str:
    """``pattern`` rewritten so that RE2 matches what Python's ``re`` would: the class
    escapes as explicit Unicode sets, ``{,n}`` as ``{0,n}``, ``\\Z`` as ``\\z``;
    ``\\b``/``\\B`` refused."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(_escape(pattern[i + 1], in_class, pattern, where))
            i += 2
        elif in_class:
            posix = pattern.find(":]", i + 2) if pattern.startswith("[:", i) else -1
            end = posix + 2 if posix >= 0 else i + 1  # [:alpha:] inside a set, whole
            out.append(pattern[i:end])
            i, in_class = end, ch != "]"
        elif ch == "[":
            start = i + 1 + pattern.startswith("^", i + 1)  # after [ or [^
            end = start + pattern.startswith("]", start)  # a ] first in a set is literal
            out.append(pattern[i:end])
            i, in_class = end, True
        else:
            quantifier = _OPEN_QUANTIFIER.match(pattern, i) if ch == "{" else None
            out.append(f"{{0,{quantifier.group(1)}}}" if quantifier else ch)
            i = quantifier.end() if quantifier else i + 1
    return "".join(out)


def _escape(letter: str, in_class: bool, pattern: str, where: str) -> str:
    """One escape ``\\<letter>`` as RE2 must read it for Python's meaning."""
    if letter in "dDsSwW":
        return _ranges(letter) if in_class else f"[{_ranges(letter)}]"
    if letter == "Z" and not in_class:  # the very end, which RE2 writes \z
        return "\\z"
    if letter in "bB" and not in_class:
        raise DataconvError(f"{where}: {pattern!r}: \\{letter} (a word boundary) is not supported: it would "
                            "be ASCII-only here; write the boundary out, e.g. (^|[^\\w]) or \\s")
    return "\\" + letter


@lru_cache(maxsize=None)
def _ranges(letter: str) -> str:
    """The characters Python's ``re`` matches with ``\\<letter>`` (``d``, ``D``, ``s``, ``S``,
    ``w``, ``W``: found by Python's ``re`` itself over every code point) as RE2 set ranges
    ``\\x{30}-\\x{39}...``, without the brackets. Surrogates are left out: decoded text never
    holds them, and RE2 cannot name them."""
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    spans = []
    for run in re.finditer("\\" + letter + "+", every):
        first, last = run.start(), run.end() - 1
        spans += [(first, min(last, 0xD7FF)), (max(first, 0xE000), last)] if first < 0xE000 and last > 0xD7FF \
            else [(first, last)]
    return "".join(f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in spans if a <= b)
