"""Charsets in every form trainers use, loaded to one ordered list of entries.

- one entry per line (PaddleOCR dicts, EasyOCR ``*_char.txt``, MMOCR dict files): only the
  line ending is stripped, so a line holding a space, an ideographic space or a zero-width
  space is a real entry; an empty line is skipped (and counted);
- one line holding every character (clovaai ``--character``, KS X 1001 ``2350.txt``);
- a PARSeq/Hydra YAML config (``model.charset_train``, e.g. NDL ``NDLmoji.yaml``);
- a literal string given on the command line instead of a path.

Entries keep their file order and their duplicates, which are reported, never hidden.

This module reads what the USER meant (``load_user_charset``: used by validate, train,
report, charset and the conversion filter). How each trainer reads the same bytes (its
encoding, BOM handling, line splitting, YAML or not) lives with that trainer's simulation in
``validators/trainers/`` (one module per trainer), which keeps ``Charset.raw`` for the purpose.
"""
from __future__ import annotations

import codecs
import os
from collections import Counter
from dataclasses import dataclass, field, replace

from dataconv.io import safeopen
from dataconv.errors import DataconvError

FORMS = ("auto", "lines", "string", "yaml", "literal")
YAML_KEYS = (("model", "charset_train"), ("charset_train",), ("model", "charset_test"),
             ("charset_test",))


@dataclass(frozen=True)
class Charset:
    entries: tuple[str, ...]  # in source order, duplicates kept
    source: str  # a path, or "literal"
    form: str  # lines | string | yaml | literal
    empty_lines: int = 0
    notes: tuple[str, ...] = field(default=())
    raw: bytes | None = field(default=None, repr=False)  # the file's bytes, for trainer readers
    test_entries: tuple[str, ...] | None = None  # a PARSeq YAML's charset_test, when it has one
    lines: tuple[int, ...] | None = None  # the 1-based line of each entry (one entry per line)

    @property
    def chars(self) -> str:
        """Every distinct single-character entry, first occurrence order."""
        return "".join(dict.fromkeys(e for e in self.entries if len(e) == 1))

    @property
    def unique(self) -> frozenset[str]:
        return frozenset(self.entries)

    def duplicates(self) -> dict[str, int]:
        """Entry -> how many times it occurs, for entries seen more than once."""
        return {e: n for e, n in Counter(self.entries).items() if n > 1}

    def repeats(self) -> dict[str, list[int]]:
        """Character -> where each of its occurrences is (the entry's line in a one-per-line
        file, else its 1-based position), for every character occurring more than once."""
        where: dict[str, list[int]] = {}
        position = 0
        for number, entry in enumerate(self.entries):
            for ch in entry:
                position += 1
                where.setdefault(ch, []).append(self.lines[number] if self.lines else position)
        return {ch: at for ch, at in where.items() if len(at) > 1}

    def multi_char(self) -> list[str]:
        return [e for e in self.entries if len(e) != 1]

    def __contains__(self, ch: object) -> bool:
        return ch in self.unique

    def __len__(self) -> int:
        return len(self.entries)

    def summary(self) -> str:
        dups = self.duplicates()
        text = f"{len(self.entries)} entries ({len(self.unique)} distinct) from {self.source} [{self.form}]"
        if dups:
            text += "; duplicated: " + ", ".join(f"{e!r} x{n}" for e, n in sorted(dups.items()))
        if self.empty_lines:
            text += f"; {self.empty_lines} empty line(s) skipped"
        return text


MAX_CHARSET_BYTES = 16 * 1024 * 1024  # the largest real dictionary is 42 KB


def load_user_charset(spec: str, encoding: str = "utf-8", form: str = "auto") -> Charset:
    """The charset the user meant: a file path, or ``spec`` itself when no such file exists.

    A missing path that looks like a file name is an error (never a literal made of the
    letters of the name); a file that does not decode strictly is a one-line error naming
    the line and suggesting ``--charset-encoding``."""
    if form not in FORMS:
        raise DataconvError(f"charset form {form!r}: expected one of {', '.join(FORMS)}")
    exists = os.path.lexists(spec)  # a FIFO or folder named so is refused below, not a literal
    if form == "auto" and not exists and _looks_like_path(spec):
        raise DataconvError(f"--charset {spec}: no such file")
    if form == "literal" or (form == "auto" and not exists):
        if not spec:
            raise DataconvError("--charset: empty")
        return Charset(tuple(spec), "literal", "literal")
    raw = read_bytes(spec)
    text = decode(raw, spec, encoding)
    if form == "yaml" or (form == "auto" and spec.lower().endswith((".yaml", ".yml"))):
        return replace(from_yaml(text, spec), raw=raw)
    lines = split_lines(text)
    if form == "string" or (form == "auto" and len(lines) == 1):
        return Charset(tuple(lines[0] if lines else ""), spec, "string", raw=raw)
    return replace(from_lines(lines, spec), raw=raw)


load = load_user_charset  # the short name most callers use


PATH_SUFFIXES = (".txt", ".yaml", ".yml", ".json", ".dict")


def _looks_like_path(spec: str) -> bool:
    """A missing file named like a charset file, or under an existing folder: a typo, not
    a literal (a literal charset may hold '/', but not a folder that exists)."""
    if spec.lower().endswith(PATH_SUFFIXES):
        return True
    folder = os.path.dirname(spec)
    return bool(folder) and os.path.isdir(folder)


def read_bytes(path: str) -> bytes:
    """The file's bytes, refused (one line) if it is a FIFO, device or folder, or too big."""
    with safeopen.open_input(path, MAX_CHARSET_BYTES) as f:
        return safeopen.read_bounded(f, MAX_CHARSET_BYTES, path)


def read_text(path: str, encoding: str) -> str:
    return decode(read_bytes(path), path, encoding)


def decode(raw: bytes, path: str, encoding: str) -> str:
    """``raw`` decoded strictly; a UTF-8 BOM is dropped (the user never meant it as a character)."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataconvError(f"--charset-encoding {encoding!r}: unknown encoding") from None
    if raw.startswith(codecs.BOM_UTF8) and codecs.lookup(encoding).name == "utf-8":
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise DataconvError(f"{path}:{line}: not valid {encoding} (byte 0x{raw[e.start]:02x}); "
                            "give its encoding with --charset-encoding, e.g. cp949") from None


def split_lines(text: str) -> list[str]:
    """Lines without their endings (\\r\\n, \\n or \\r); a final newline adds no line.

    Unlike ``str.splitlines`` this never splits on U+2028, U+0085 or other characters
    that may themselves be charset entries.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def from_lines(lines: list[str], source: str) -> Charset:
    numbered = [(n, line) for n, line in enumerate(lines, 1) if line != ""]
    return Charset(tuple(line for _, line in numbered), source, "lines", empty_lines=len(lines) - len(numbered),
                   lines=tuple(n for n, _ in numbered))


def from_yaml(text: str, source: str) -> Charset:
    import yaml

    from dataconv.io.schema import check_events, user_loader  # aliases and size bounded, as every user YAML

    try:
        check_events(text, source)
        doc = yaml.load(text, Loader=user_loader())  # noqa: S506 (a safe loader)
    except yaml.YAMLError as e:
        raise DataconvError(f"{source}: not valid YAML ({str(e).splitlines()[0]})") from None
    for path in YAML_KEYS:
        value = _dig(doc, path)
        if isinstance(value, str):
            notes = _yaml_notes(doc, path)
            test = _dig(doc, path[:-1] + ("charset_test",))
            return Charset(tuple(value), f"{source}:{'.'.join(path)}", "yaml", notes=notes,
                           test_entries=tuple(test) if isinstance(test, str) else None)
    raise DataconvError(f"{source}: no model.charset_train string in this YAML file")


def _dig(doc: object, path: tuple[str, ...]) -> object:
    for key in path:
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return doc


def _yaml_notes(doc: object, path: tuple[str, ...]) -> tuple[str, ...]:
    test_path = path[:-1] + ("charset_test",)
    test = _dig(doc, test_path)
    if isinstance(test, str) and test != _dig(doc, path):
        return (f"{'.'.join(test_path)} differs from {'.'.join(path)}",)
    return ()


def extend(base: Charset, chars: str) -> tuple[str, str]:
    """(the charset to write, the characters new to ``base``) for fine-tuning a model
    trained on ``base``: its single-character entries in their order (output rows are
    tied to that order), then every character of ``chars`` it lacks, in ``chars``' order."""
    kept = base.chars
    new = "".join(ch for ch in dict.fromkeys(chars) if ch not in kept)
    return kept + new, new
