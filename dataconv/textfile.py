"""Reading annotation text files the way real downloads come: BOM, CRLF, no final newline,
legacy encodings. Decoding errors name the file and line and hint at --encoding."""
from __future__ import annotations

import codecs
from typing import Iterator

from dataconv.errors import DataconvError


def read_lines(path: str, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its line ending) for every line.

    A UTF-8 (or UTF-16) byte-order mark is dropped; ``\\r\\n``, ``\\n`` and a lone ``\\r``
    at the end of a line are stripped; a missing final newline is fine.
    """
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataconvError(f"--encoding {encoding!r}: unknown encoding") from None
    try:
        f = open(path, "rb")
    except OSError as e:
        raise DataconvError(f"{path}: cannot open ({e.strerror or e})") from None
    with f:
        for lineno, raw in enumerate(f, start=1):
            if lineno == 1:
                raw = _strip_bom(raw, encoding)
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as e:
                raise DataconvError(
                    f"{path}:{lineno}: not valid {encoding} (byte 0x{raw[e.start]:02x} at column "
                    f"{e.start + 1}); try --encoding cp949 or --encoding euc-kr") from None
            yield lineno, line.rstrip("\n").rstrip("\r")


def _strip_bom(raw: bytes, encoding: str) -> bytes:
    if raw.startswith(codecs.BOM_UTF8) and encoding.lower().replace("-", "").replace("_", "") in (
            "utf8", "utf8sig"):
        return raw[len(codecs.BOM_UTF8):]
    return raw
