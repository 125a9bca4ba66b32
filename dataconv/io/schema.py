"""Loading JSON annotation files and checking them against ``schemas/<name>.schema.json``.

Errors name the file and the JSON path (``annotations[41].text: expected string``), or
the line and column of a syntax error."""
from __future__ import annotations

import json
import math
import os
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


# A recipe or rules file is refused past either bound (a parsed YAML file holds about 1 KB
# per node): 200,000 replace pairs load in about 250 MB.
USER_YAML_BYTES = 4 * 1024 * 1024
USER_YAML_NODES = 400_000
USER_YAML_DEPTH = 32


@lru_cache(maxsize=None)
def user_loader() -> type:
    """PyYAML's safe loader (libyaml's C parser where PyYAML has it: a third of the
    memory and a quarter of the time of the pure-Python one) with text keys only."""
    import yaml

    class UserLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, str):
                    raise yaml.constructor.ConstructorError(
                        None, None, f"a key must be text, not {JSON_TYPES.get(type(key).__name__, type(key).__name__)} "
                                    f"{str(key)[:40]!r} (quote it)", key_node.start_mark)
            return super().construct_mapping(node, deep)

    return UserLoader


def check_events(text: str, path: str) -> None:
    """A YAML file the user wrote (a recipe, label rules, a PARSeq charset), its event
    stream checked before any node is built: an alias (``*name``,
    ``<<: *name``) is a YAML error at its place, since a few hundred bytes of aliases can
    stand for billions of nodes (the "billion laughs" shape) and no user file needs them;
    more than ``USER_YAML_NODES`` nodes or ``USER_YAML_DEPTH`` levels is refused."""
    import yaml

    nodes = depth = 0
    for event in yaml.parse(text, Loader=user_loader()):
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not accepted: write the value out",
                                              event.start_mark)
        nodes += isinstance(event, yaml.NodeEvent)
        depth += isinstance(event, yaml.CollectionStartEvent) - isinstance(event, yaml.CollectionEndEvent)
        if nodes > USER_YAML_NODES or depth > USER_YAML_DEPTH:
            raise DataconvError(f"{path}:{event.start_mark.line + 1}: more than " + (
                f"{USER_YAML_NODES:,} keys and values in one YAML file (a label-rules file holds at most "
                f"{USER_YAML_NODES // 2:,} replace pairs)" if nodes > USER_YAML_NODES
                else f"{USER_YAML_DEPTH} levels of nesting (a recipe needs 5)"))


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

    A file over ``USER_YAML_BYTES`` is refused before it is read, and one with an alias or
    over ``USER_YAML_NODES`` nodes before any node is built (``check_events``), so memory
    never grows with what a file expands to; every mapping key is text, as the schemas
    assume (``user_loader``)."""
    import yaml

    size = os.stat(path).st_size if os.path.isfile(path) else 0
    if size > USER_YAML_BYTES:
        raise DataconvError(f"{path}: {size:,} bytes, over the {USER_YAML_BYTES // 1024**2} MiB limit of a recipe "
                            f"or label-rules file (at most {USER_YAML_NODES // 2:,} replace pairs)")
    try:
        text = read_text(InputFile.user(path), max_bytes=USER_YAML_BYTES)
        check_events(text, path)
        return yaml.load(text, Loader=user_loader())  # noqa: S506 (a safe loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        raise DataconvError(f"{where}: not {kind}: {getattr(e, 'problem', None) or e}") from None
