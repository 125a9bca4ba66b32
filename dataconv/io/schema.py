"""Loading JSON annotation files and checking them against ``schemas/<name>.schema.json``.

Errors name the file and the JSON path (``annotations[41].text: expected string``), or
the line and column of a syntax error."""
from __future__ import annotations

import json
import math
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


@lru_cache(maxsize=None)
def user_loader() -> type:
    """PyYAML's SafeLoader without aliases and with text keys only."""
    import yaml

    class UserLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise yaml.composer.ComposerError(
                    None, None, "aliases (*name) are not accepted: write the value out",
                    self.peek_event().start_mark)
            return super().compose_node(parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, str):
                    raise yaml.constructor.ConstructorError(
                        None, None, f"a key must be text, not {JSON_TYPES.get(type(key).__name__, type(key).__name__)} "
                                    f"{str(key)[:40]!r} (quote it)", key_node.start_mark)
            return super().construct_mapping(node, deep)

    return UserLoader


def did_you_mean(key: str, known: list[str]) -> str:
    """``; did you mean 'ratio'?`` for a key close to a known one, else the known keys."""
    import difflib

    close = difflib.get_close_matches(key, known, n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"


def suggestion(error: jsonschema.ValidationError) -> str:
    """``did_you_mean`` for the first unknown key of an ``additionalProperties`` violation."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return ""
    known = list((error.schema.get("properties") or {}).keys())
    unknown = [key for key in error.instance if key not in known]
    return did_you_mean(str(unknown[0]), known) if unknown else ""


def describe(error: jsonschema.ValidationError) -> str:
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        got = type(error.instance).__name__
        return f"expected {expected}, got {JSON_TYPES.get(got, got)}"
    if error.validator == "required":
        return error.message.replace("is a required property", "is missing")
    return error.message + suggestion(error)


def violation(filename: str, error: jsonschema.ValidationError,
              prefix: tuple[Any, ...] = ()) -> DataconvError:
    """The one-line error for a violation; ``prefix`` is the path of the validated part
    (``("annotations", 41)`` when one element of a streamed array was validated)."""
    what = describe(error)
    what = what if len(what) <= 200 else what[:200] + "..."
    return DataconvError(f"{filename}: {json_path((*prefix, *error.absolute_path))}: {what}")


def validate(document: Any, schema_name: str, filename: str) -> None:
    """Raise DataconvError for the first violation found, or for a number that is not
    finite (YAML's ``.nan``, JSON's ``NaN``/``Infinity``: a schema's ranges cannot see them,
    since every comparison with NaN is false)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema(schema_name))
    error = next(validator.iter_errors(document), None)
    if error is not None:
        raise violation(filename, error)
    bad = non_finite(document)
    if bad is not None:
        raise DataconvError(f"{filename}: {json_path(bad[0])}: {bad[1]!r} is not a finite number")


def non_finite(value: Any, path: tuple[Any, ...] = ()) -> tuple[tuple[Any, ...], float] | None:
    """The path and value of the first NaN or infinity in a parsed document."""
    if isinstance(value, float) and not math.isfinite(value):
        return path, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = non_finite(item, (*path, key))
        if found is not None:
            return found
    return None


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
    error names its line and column: ``PATH:LINE:COL: not <kind>: <problem>``.

    Loaded by ``user_loader``: aliases (``*name``, ``<<: *name``) are refused, so a few
    hundred bytes can never expand into gigabytes (the "billion laughs" shape), and every
    mapping key is text, as the schemas assume."""
    import yaml

    try:
        return yaml.load(read_text(InputFile.user(path)), Loader=user_loader())  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        raise DataconvError(f"{where}: not {kind}: {getattr(e, 'problem', None) or e}") from None
