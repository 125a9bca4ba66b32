"""Reading annotation text files the way real downloads come: BOM, CRLF, lone CR, no
final newline, legacy encodings, UTF-16. Decoding errors name the file and line and hint
at the ``--encoding`` to try; a binary file given as a label file is refused early."""
from __future__ import annotations

import codecs
import re
from typing import BinaryIO, Iterator, NamedTuple

from dataconv.errors import DataconvError
from dataconv.io.safeopen import DEFAULT_LIMITS, Source, as_input, open_input, read_bounded

MAX_LINE_BYTES = 8 * 1024 * 1024  # a longer "line" means a binary file, not labels
HINTS = ("utf-8", "cp949", "euc-kr")  # what Korean (and most other) downloads use
_NEWLINE = re.compile(r"\r\n|\r|\n")
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def codec_name(encoding: str) -> str:
    """The canonical codec name (``UTF8`` -> ``utf-8``), or a DataconvError."""
    try:
        info = codecs.lookup(encoding)
        "\n".encode(info.name).decode(info.name)  # "hex", "rot13", "undefined" fail here
    except (LookupError, UnicodeError, TypeError):
        raise DataconvError(f"--encoding {encoding!r}: unknown text encoding") from None
    return info.name


def hint(encoding: str) -> str:
    """``try --encoding cp949 or --encoding euc-kr`` (never the encoding just tried)."""
    others = [h for h in HINTS if codec_name(h) != codec_name(encoding)]
    return "try " + " or ".join(f"--encoding {h}" for h in others)


def check_bom(head: bytes, encoding: str, path: str) -> bytes:
    """The BOM to drop from the start of the file (b"" if none). A BOM that contradicts
    ``encoding`` is an error that names the right one."""
    name = codec_name(encoding)
    for bom, family in _BOMS:
        if head.startswith(bom):
            if name.startswith(family):
                return b"" if name in ("utf-16", "utf-32") else bom  # these codecs eat it
            raise DataconvError(f"{path}: starts with a {family.upper()} byte-order mark but "
                                f"--encoding is {encoding}; try --encoding {family}")
    if b"\x00" in head[:2] and name == "utf-8":
        raise DataconvError(f"{path}:1: NUL bytes at the start; this looks like UTF-16 without "
                            "a byte-order mark; try --encoding utf-16-le (or utf-16-be)")
    return b""


def ascii_compatible(encoding: str) -> bool:
    """Whether newlines are single bytes, so the file can be split before decoding."""
    return "\n\r\t ".encode(codec_name(encoding)) == b"\n\r\t "


def decode(raw: bytes, encoding: str, path: str, lineno: int = 1) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = lineno + raw[:e.start].count(b"\n")
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise DataconvError(
            f"{path}:{line}: not valid {encoding} (byte 0x{raw[e.start]:02x} at column "
            f"{column}); {hint(encoding)}") from None


def read_text(source: Source, encoding: str = "utf-8", max_bytes: int = DEFAULT_LIMITS.whole_bytes) -> str:
    """The whole file decoded, BOM dropped; errors name file, line and encoding.

    ``source`` is an ``InputFile`` (a file found inside SRC: confined) or a path the user
    named; either way a FIFO or device is refused and the size is capped (by default
    ``Limits.whole_bytes``: a whole read costs several times the file in memory)."""
    path = as_input(source).path
    with open_input(source, max_bytes) as f:
        raw = read_bounded(f, max_bytes, path)
    if not raw:
        raise DataconvError(f"{path}: empty file")
    return decode(raw[len(check_bom(raw[:4], encoding, path)):], encoding, path)


def read_lines(source: Source, encoding: str = "utf-8", span: LineSpan | None = None
               ) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its line ending) for every line, or for
    the lines of ``span`` (from ``line_spans``).

    A byte-order mark is dropped; ``\\r\\n``, ``\\n`` and a lone ``\\r`` all end a line
    (so no line ever holds a CR or LF); a missing final newline is fine. Lines longer
    than ``MAX_LINE_BYTES`` are refused (a binary file, not a label file). The file is
    opened as ``read_text`` opens it, with the streamed cap (``Limits.streamed_bytes``).
    """
    if not ascii_compatible(encoding):
        text = read_text(source, encoding)
        yield from enumerate(_split(text), start=1)
        return
    path = as_input(source).path
    with open_input(source, DEFAULT_LIMITS.streamed_bytes) as f:
        if span is None:
            head = f.read(4)
            if not head:
                raise DataconvError(f"{path}: empty label file")
            f.seek(len(check_bom(head, encoding, path)))
        else:
            f.seek(span.start)
        lineno = span.first_line - 1 if span else 0
        for raw in _raw_lines(f, path, lineno + 1, span.end - span.start if span else None):
            for line in _split(decode(raw, encoding, path, lineno + 1)):
                lineno += 1
                yield lineno, line


def _split(text: str) -> list[str]:
    """Lines of ``text``; a final line ending does not start another line."""
    lines = _NEWLINE.split(text)
    return lines[:-1] if lines and lines[-1] == "" else lines


def _line_endings(raw: bytes) -> int:
    """How many lines ``raw`` ends: each LF, CR LF or lone CR (``_split``'s rule)."""
    return raw.count(b"\n") + raw.count(b"\r") - raw.count(b"\r\n")


def _raw_lines(f: BinaryIO, path: str, lineno: int = 1, size: int | None = None) -> Iterator[bytes]:
    """The file's ``\\n``-ended pieces from where ``f`` is, ``size`` bytes of them (or to
    the end); ``lineno`` is the number of the first line."""
    left = MAX_LINE_BYTES + 1 if size is None else size
    while left > 0:
        raw = f.readline(min(MAX_LINE_BYTES + 1, left))
        if not raw:
            return
        if len(raw) > MAX_LINE_BYTES:
            raise DataconvError(f"{path}:{lineno}: a line longer than {MAX_LINE_BYTES} bytes; "
                                "is this a label file?")
        lineno += raw.count(b"\r") - raw.count(b"\r\n") + 1
        if size is not None:
            left -= len(raw)
        yield raw


class LineSpan(NamedTuple):
    """Whole lines of a file: its bytes ``[start, end)``, the first of them line ``first_line``."""

    start: int
    end: int
    first_line: int


SCAN_BYTES = 1 << 20  # what one read of ``line_spans`` takes


def line_spans(source: Source, encoding: str, part_bytes: int) -> list[LineSpan] | None:
    """The file cut into spans of whole lines, each at least ``part_bytes`` long (but the
    last) and ending just after a ``\\n``, with the number of each one's first line as
    ``read_lines`` counts them: the lines of ``read_lines(source, encoding, span)``, span
    after span, are those of ``read_lines(source, encoding)``.

    None where the file is not cut: one inside an archive or a bucket (no cheap seek), an
    encoding whose newlines are not single bytes, a file of one span, or one where more
    than ``MAX_LINE_BYTES`` come without a newline (``read_lines`` refuses such a line,
    naming it, and memory stays within a read and that bound)."""
    source = as_input(source)
    if (source.root is not None and not isinstance(source.root, str)) or not ascii_compatible(encoding):
        return None
    spans: list[LineSpan] = []
    with open_input(source, DEFAULT_LIMITS.streamed_bytes) as f:
        start = at = len(check_bom(f.read(4), encoding, source.path))
        first = line = 1  # the span being cut starts at ``start`` on line ``first``
        f.seek(start)
        carry = b""  # the bytes after the last newline read, counted once it comes
        while block := f.read(SCAN_BYTES):
            block = carry + block
            whole = block[:block.rfind(b"\n") + 1]
            carry = block[len(whole):]
            if len(carry) > MAX_LINE_BYTES:
                return None
            pos = 0
            while at + len(whole) - pos - start >= part_bytes:
                cut = whole.index(b"\n", max(pos, start + part_bytes - at + pos - 1)) + 1
                line += _line_endings(whole[pos:cut])
                at, pos = at + cut - pos, cut
                spans.append(LineSpan(start, at, first))
                start, first = at, line
            line += _line_endings(whole[pos:])
            at += len(whole) - pos
        if at + len(carry) > start:
            spans.append(LineSpan(start, at + len(carry), first))
    return spans if len(spans) > 1 else None
