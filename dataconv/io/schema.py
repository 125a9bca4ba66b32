"""Loading JSON annotation files and checking them against ``schemas/<name>.schema.json``.

Errors name the file and the JSON path (``annotations[41].text: expected string``), or
the line and column of a syntax error."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where validation runs: 0.1 s of every CLI start otherwise
    import jsonschema

from dataconv.errors import DataconvError
from dataconv.io.jsonkeys import PairsHook, json_path, refuse_repeated
from dataconv.io.safeopen import InputFile, Source
from dataconv.io.textfile import read_text

JSON_TYPES = {"dict": "object", "list": "array", "str": "string", "int": "integer",
              "float": "number", "bool": "boolean", "NoneType": "null"}


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict[str, Any]:
    text = resources.files("dataconv.schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    return json.loads(text)


def describe(error: jsonschema.ValidationError) -> str:
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        got = type(error.instance).__name__
        return f"expected {expected}, got {JSON_TYPES.get(got, got)}"
    if error.validator == "required":
        return error.message.replace("is a required property", "is missing")
    return error.message


def violation(filename: str, error: jsonschema.ValidationError,
              prefix: tuple[Any, ...] = ()) -> DataconvError:
    """The one-line error for a violation; ``prefix`` is the path of the validated part
    (``("annotations", 41)`` when one element of a streamed array was validated)."""
    what = describe(error)
    what = what if len(what) <= 200 else what[:200] + "..."
    return DataconvError(f"{filename}: {json_path((*prefix, *error.absolute_path))}: {what}")


def validate(document: Any, schema_name: str, filename: str) -> None:
    """Raise DataconvError for the first violation found."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema(schema_name))
    error = next(validator.iter_errors(document), None)
    if error is not None:
        raise violation(filename, error)


def load_json(path: Source, encoding: str = "utf-8") -> Any:
    """Parse a JSON file (an ``InputFile`` found in SRC, or a path the user named); a
    syntax error names its line and column, a decoding error the line and the
    ``--encoding`` to try."""
    text = read_text(path, encoding)
    if not text.strip():
        raise DataconvError(f"{path}: empty file, expected JSON")
    hook = PairsHook()  # a repeated key is refused (dataconv/io/jsonkeys.py)
    try:
        document = json.loads(text, object_pairs_hook=hook)
    except json.JSONDecodeError as e:
        raise DataconvError(f"{path}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None
    except RecursionError:
        raise DataconvError(f"{path}: JSON nested too deeply to be an annotation file") from None
    except ValueError as e:  # an integer literal of more than 4300 digits
        raise DataconvError(f"{path}: invalid JSON: {str(e)[:120]}") from None
    if hook.found:
        refuse_repeated(document, str(path))
    return document


def load_yaml(path: str, kind: str = "YAML") -> Any:
    """Parse a YAML file the user named (a recipe, label rules: JSON is YAML too); a syntax
    error names its line and column: ``PATH:LINE:COL: not <kind>: <problem>``."""
    import yaml

    try:
        return yaml.safe_load(read_text(InputFile.user(path)))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        raise DataconvError(f"{where}: not {kind}: {getattr(e, 'problem', None) or e}") from None
