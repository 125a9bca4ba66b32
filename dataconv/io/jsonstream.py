"""Big JSON label files, element by element, validated per element.

An AI Hub label file of several hundred MB loaded with ``json.load`` costs several
copies of itself (bytes, text, then a Python object per value: GBs). ``JsonArrays``
reads the top-level arrays with ijson's C parser one element at a time instead, and
validates each element against its part of the schema, so memory holds one element
(plus whatever the caller keeps) and errors read as before
(``annotations[41].text: expected string, got integer``).

Passes over the file (each at C speed):
1. the top level: every key and the type of its value, checked against the schema with
   the arrays standing in as empty (types, required keys); a syntax error anywhere in the
   file surfaces here, before any sample is yielded;
2. one pass per array the caller iterates.

The file is read whole, as before, when streaming would not be faithful: an encoding
other than UTF-8, surrogate escapes (ijson turns a lone ``\\ud800`` into ``?``; the
converters reject it as ``invalid_unicode``), nesting deeper than any label file needs
(refused by the in-memory parser), or a file ijson refuses (the in-memory
parser then gives the exact message with line and column, or accepts it, e.g. ``1e400``).
"""
from __future__ import annotations

import itertools
import operator
import re
from typing import TYPE_CHECKING, Any, BinaryIO, Iterator

import ijson
import numpy as np

if TYPE_CHECKING:  # imported where a validator is built
    import jsonschema

from dataconv.errors import DataconvError
from dataconv.io.jsonkeys import KeyedObject, refuse_repeated
from dataconv.io.safeopen import DEFAULT_LIMITS, Source, as_input, open_input
from dataconv.io.schema import load_json, load_schema, validate, violation
from dataconv.io.textfile import check_bom, codec_name

# Surrogate escapes (ijson turns a lone one into "?"), and digit runs of 19 or more: yajl
# fails on integers beyond 64 bits ("integer overflow") and crashes on very long ones.
SUSPECT = re.compile(rb"\\u[dD][89a-fA-F]|[0-9]{19,}")
SCAN_BYTES = 1024 * 1024
MAX_DEPTH = 64  # AI Hub files nest 4 deep


class _ReadWhole(Exception):
    """Streaming would not be faithful to the in-memory parse."""


def _open_utf8(source: Source) -> BinaryIO:
    """The file (confined, capped: ``safeopen.open_input``), after a UTF-8 byte-order mark."""
    f = open_input(source, DEFAULT_LIMITS.streamed_bytes)
    f.seek(len(check_bom(f.read(4), "utf-8", as_input(source).path)))
    return f


def _nesting_steps() -> np.ndarray:
    steps = np.zeros(256, np.int32)
    steps[list(b"[{")], steps[list(b"]}")] = 1, -1
    return steps


_STEPS = _nesting_steps()


def _needs_whole_read(source: Source) -> bool:
    """SUSPECT text, or nesting deeper than MAX_DEPTH (brackets inside strings
    count too, which can only send a harmless file to the in-memory parser). ijson's
    prefixes grow with depth, so ``[[[[...`` would exhaust memory; json.loads refuses it."""
    depth, tail = 0, b""
    with open_input(source, DEFAULT_LIMITS.streamed_bytes) as f:
        while block := f.read(SCAN_BYTES):
            if SUSPECT.search(tail + block):
                return True
            levels = depth + np.cumsum(_STEPS[np.frombuffer(block, np.uint8)])
            if levels.max() > MAX_DEPTH:
                return True
            depth, tail = int(levels[-1]), block[-1000:]
    return False


def _top_level(source: Source) -> Any:
    """The document with every top-level container emptied: ``{"images": [], ...}``."""
    with _open_utf8(source) as f:
        events, copy = itertools.tee(ijson.parse(f))
        # Keep only events at depth <= 1 (prefix without a dot), filtered in C.
        shallow = map(operator.not_, map(operator.contains, map(operator.itemgetter(0), events),
                                         itertools.repeat(".")))
        return _rebuild(itertools.compress(copy, shallow))


def _rebuild(events: Iterator[tuple[str, str, Any]]) -> Any:
    """The top level from its events; a top-level object is a ``KeyedObject``: every
    top-level key is assigned once per occurrence, so a repeated one is noticed."""
    empty = {"start_map": dict, "start_array": list}
    root: Any = None
    for prefix, event, value in events:
        if prefix == "" and root is None:
            root = KeyedObject() if event == "start_map" else empty[event]() if event in empty else value
        elif prefix and "." not in prefix and isinstance(root, dict) and event != "map_key":
            if event in empty:
                root[prefix] = empty[event]()
            elif not event.startswith("end_"):
                root[prefix] = value
    return root


class JsonArrays:
    """The top level of ``source`` checked against ``schemas/<schema_name>``; its arrays
    available element by element through ``items``. ``source`` is an ``InputFile`` or a
    path the user named (``safeopen``)."""

    def __init__(self, source: Source, schema_name: str, filename: str, encoding: str = "utf-8") -> None:
        self.source, self.path, self.filename = source, as_input(source).path, filename
        self.schema_name = schema_name
        self.document: Any = None  # the whole file, when it is read whole
        try:
            if codec_name(encoding) != "utf-8" or _needs_whole_read(source):
                raise _ReadWhole
            top = _top_level(source)
            refuse_repeated(top, self.path)  # load_json refuses them on the other path
        except (_ReadWhole, ijson.JSONError, UnicodeDecodeError):
            self.document = load_json(source, encoding)
            top = _emptied(self.document)
        validate(top, schema_name, filename)

    def items(self, key: str) -> Iterator[Any]:
        """Elements of the top-level array ``key``, each validated; a violation raises."""
        validator = ShapeCachedValidator(self._validator(key))
        for pos, element in enumerate(self._elements(key)):
            error = validator.first_error(element)
            if error is not None:
                raise violation(self.filename, error, (key, pos))
            yield element

    def _elements(self, key: str) -> Iterator[Any]:
        if self.document is not None:
            yield from self.document[key]
            return
        try:
            with _open_utf8(self.source) as f:
                yield from _refusing_repeats(
                    ijson.items(f, f"{key}.item", use_float=True, map_type=KeyedObject),
                    self.path, key)
        except ijson.JSONError as e:  # never a traceback: the exact message, or ijson's
            load_json(self.source)
            raise DataconvError(f"{self.path}: {str(e).splitlines()[0]}") from None

    def _validator(self, key: str) -> jsonschema.Validator:
        import jsonschema

        schema = load_schema(self.schema_name)
        part = schema.get("properties", {}).get(key, {}).get("items", {})
        return jsonschema.Draft202012Validator(schema).evolve(schema=part)


def _refusing_repeats(elements: Iterator[Any], path: str, key: str) -> Iterator[Any]:
    """``elements`` (built as ``KeyedObject``), refusing the first with a repeated key,
    as ``load_json`` does on the in-memory path."""
    before = KeyedObject.seen
    for pos, element in enumerate(elements):
        if KeyedObject.seen != before:
            refuse_repeated(element, path, (key, pos))
        yield element


def _emptied(document: Any) -> Any:
    if isinstance(document, dict):
        return {k: type(v)() if isinstance(v, (dict, list)) else v for k, v in document.items()}
    return type(document)() if isinstance(document, (dict, list)) else document


# Keywords whose verdict depends only on an element's shape (``_shape``): its keys, the
# JSON type of every value, and how long each string is up to the largest minLength.
SHAPE_KEYWORDS = {"type", "required", "properties", "items", "minLength", "title",
                  "description", "$comment"}
MAX_SHAPES = 4096


class ShapeCachedValidator:
    """``jsonschema``'s first error for each element, remembering the *shapes* it found
    valid.

    jsonschema takes about 80 us per label-file element: most of a 400 MB AI Hub file's
    parse. Elements of one file nearly all share a few shapes, and with the keywords in
    SHAPE_KEYWORDS two elements of one shape get the same verdict; so jsonschema sees each
    new shape (and every element of a shape not known valid, so errors read as before),
    and the rest cost one ``_shape``. A schema part using any other keyword is validated
    element by element, as before."""

    def __init__(self, validator: jsonschema.Validator) -> None:
        self.validator = validator
        parts = list(_subschemas(validator.schema))
        self.cacheable = all(part.keys() <= SHAPE_KEYWORDS for part in parts)
        self.max_length = max((part.get("minLength", 0) for part in parts), default=0)
        self.valid: set[Any] = set()

    def first_error(self, element: Any) -> jsonschema.ValidationError | None:
        shape = _shape(element, self.max_length) if self.cacheable else None
        if shape is not None and shape in self.valid:
            return None
        error = next(self.validator.iter_errors(element), None)
        if error is None and shape is not None and len(self.valid) < MAX_SHAPES:
            self.valid.add(shape)
        return error


def _shape(value: Any, max_length: int) -> Any:
    """What type/required/properties/items/minLength look at: keys, JSON types (integral
    floats are integers to JSON Schema), string lengths capped at ``max_length``."""
    if isinstance(value, dict):
        return ("o",) + tuple((k, _shape(v, max_length)) for k, v in value.items())
    if isinstance(value, list):
        return ("a",) + tuple(_shape(v, max_length) for v in value)
    if isinstance(value, str):
        return ("s", min(len(value), max_length))
    if value is None or isinstance(value, bool):
        return "null" if value is None else "bool"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    return "number" if isinstance(value, float) else ("?", type(value).__name__)


def _subschemas(schema: Any) -> Iterator[dict[str, Any]]:
    """``schema`` and every schema nested in it under ``properties`` or ``items``."""
    if not isinstance(schema, dict):
        return
    yield schema
    for sub in (schema.get("properties") or {}).values():
        yield from _subschemas(sub)
    yield from _subschemas(schema.get("items"))
