"""Options as typed data: what a format, a check or a run can be told, declared without click.

An options object is a frozen dataclass. Each field is one switch, declared with
``option(default, help, ...)``; its name is the parameter's name everywhere (the click
parameter, the key in manifest.json's ``options``, the attribute the code reads). A field
declared with ``group(OtherOptions)`` holds a whole options object whose switches appear at
that place on the command line (the crop switches every cropping format shares).

The CLI (``dataconv/cli/options.py``) turns an options class into click options and click's
values back into an instance; the report rebuilds one from manifest.json (``from_values``);
Python callers construct them directly. The defaults declared here are the only defaults.
"""
from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, TypeVar

from dataconv.errors import DataconvError
from dataconv.numbers import finite, parse_float, parse_int

T = TypeVar("T")
_SPEC = "dataconv.option"
_GROUP = "dataconv.option-group"


@dataclass(frozen=True)
class Path:
    """A file or folder the user names; the CLI counts it as an input of the run."""

    exists: bool = False
    file_okay: bool = True
    dir_okay: bool = True
    # The value may also be text meant as itself when no such path exists (``--charset``:
    # a file, or the characters): on the command line plain text, an input only when it
    # names a path; in a recipe, a path relative to the recipe's folder when one is there.
    text_ok: bool = False


@dataclass(frozen=True)
class Choice:
    values: tuple[str, ...]


@dataclass(frozen=True)
class Range:
    """A number within ``[low, high]`` (``low`` excluded when ``low_open``). ``strict``
    numbers are parsed by ``dataconv.numbers`` (no ``1_0``, no ``nan``)."""

    kind: type = int
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    strict: bool = False


@dataclass(frozen=True)
class Size:
    """A byte count written like ``2GB`` or ``512MiB`` on the command line."""


SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2,
              "mib": 1024**2, "g": 1024**3, "gb": 1024**3, "gib": 1024**3, "t": 1024**4, "tb": 1024**4}


def parse_size_text(value: str) -> int:
    """``2GB``, ``512MiB``, ``1000000`` to a positive byte count (binary units), or ValueError."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
    if not m or m.group(2).lower() not in SIZE_UNITS:
        raise ValueError(f"{value!r} is not a size like 2GB or 512MB")
    size = int(float(m.group(1)) * SIZE_UNITS[m.group(2).lower()])
    if size <= 0:
        raise ValueError("must be positive")
    return size


@dataclass(frozen=True)
class Spec:
    """How one field reads on the command line."""

    help: str
    flags: tuple[str, ...] = ()  # e.g. ("-i", "--input"); default: --field-name
    type: Path | Choice | Range | Size | type | None = None  # None: text, or a flag for bool
    multiple: bool = False  # repeatable; the value is a tuple
    required: bool = False  # the field has no default
    show_default: bool | str = False  # a string is shown instead of the default's value
    metavar: str | None = None
    check: Callable[[Any], Any] | None = None  # returns the value or raises DataconvError


@dataclass(frozen=True)
class Switch:
    """One field of an options class, flattened out of any groups, with its default."""

    name: str
    spec: Spec
    default: Any

    @property
    def required(self) -> bool:
        return self.spec.required

    @property
    def is_flag(self) -> bool:
        return isinstance(self.default, bool) and self.spec.type is None


def option(default: Any = dataclasses.MISSING, help: str = "", **spec: Any) -> Any:
    """A field that is one switch; no ``default`` makes it required."""
    required = default is dataclasses.MISSING
    meta = {_SPEC: Spec(help, required=required, **spec)}
    if required:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


def group(cls: type, **defaults: Any) -> Any:
    """A field holding a whole options object of ``cls``, with some defaults changed."""
    return field(default_factory=functools.partial(cls, **defaults), metadata={_GROUP: cls})


def switches(cls: type) -> list[Switch]:
    """Every switch of an options class in declaration order, groups flattened in place."""
    return list(_switches(cls, {}))


def _switches(cls: type, defaults: Mapping[str, Any]) -> Iterator[Switch]:
    for f in dataclasses.fields(cls):
        if _GROUP in f.metadata:
            inner = defaults[f.name] if f.name in defaults else f.default_factory()  # type: ignore[misc]
            yield from _switches(f.metadata[_GROUP], {g.name: getattr(inner, g.name)
                                                      for g in dataclasses.fields(inner)})
        else:
            default = defaults.get(f.name, f.default)
            yield Switch(f.name, f.metadata[_SPEC],
                         None if default is dataclasses.MISSING else default)


def values(obj: Any) -> dict[str, Any]:
    """Switch name -> value of an options object, groups flattened (what manifest.json records)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if _GROUP in f.metadata:
            out.update(values(value))
        else:
            out[f.name] = value
    return out


def from_values(cls: type[T], given: Mapping[str, Any], *, trusted: bool = False) -> T:
    """An instance of ``cls`` from switch values by name (other names are ignored; a name
    not given keeps its default). Unless ``trusted`` (click has checked them already),
    the values are checked, since they may come from a file (manifest.json): a wrong
    choice or number is a DataconvError, never an odd value deep inside."""
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if _GROUP in f.metadata:
            kwargs[f.name] = _group_from_values(f, given, trusted)
        elif f.name in given:
            value = given[f.name]
            kwargs[f.name] = value if trusted else _checked(Switch(f.name, f.metadata[_SPEC], f.default), value)
        elif f.metadata[_SPEC].required:
            raise DataconvError(f"option {f.name} is required and not given")
    return cls(**kwargs)


def _group_from_values(f: dataclasses.Field, given: Mapping[str, Any], trusted: bool) -> Any:
    """The group's own defaults (``group(cls, **defaults)``) overlaid with the given values."""
    defaults = values(f.default_factory())  # type: ignore[misc]
    return from_values(f.metadata[_GROUP], {**defaults, **given}, trusted=trusted)


def _checked(switch: Switch, value: Any) -> Any:
    """``value`` as the switch declares it (None only where None is the default)."""
    if value is None and switch.default is None:
        return None
    if switch.spec.multiple:
        if not isinstance(value, (list, tuple)):
            raise DataconvError(f"option {switch.name}: {value!r:.40} is not a list")
        return tuple(_checked_one(switch, v) for v in value)
    return _checked_one(switch, value)


def _checked_one(switch: Switch, value: Any) -> Any:
    name, spec = switch.name, switch.spec
    if isinstance(spec.type, Range):
        value = _in_range(name, spec.type, value)
    elif isinstance(spec.type, Size):
        value = _size(name, value)
    elif spec.type in (int, float):
        value = _in_range(name, Range(spec.type), value)
    elif not isinstance(value, bool if switch.is_flag else str):
        raise DataconvError(f"option {name}: {value!r:.40} is not {'true or false' if switch.is_flag else 'text'}")
    if isinstance(spec.type, Choice) and value not in spec.type.values:
        raise DataconvError(f"option {name}: {value!r} is not one of {', '.join(spec.type.values)}")
    if spec.check is not None:
        value = spec.check(value)
    return value


def _in_range(name: str, rng: Range, value: Any) -> Any:
    try:
        number = _number(rng.kind, value)
    except ValueError as e:
        raise DataconvError(f"option {name}: {e}") from None
    too_low = rng.low is not None and (number <= rng.low if rng.low_open else number < rng.low)
    if too_low or (rng.high is not None and number > rng.high):
        raise DataconvError(f"option {name}: {value} is out of range")
    return number


def _size(name: str, value: Any) -> int:
    """A byte count: a positive integer, or text like ``2GB``."""
    try:
        if isinstance(value, str):
            return parse_size_text(value)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{value!r:.40} is not a positive byte count")
        return value
    except ValueError as e:
        raise DataconvError(f"option {name}: {e}") from None


def _number(kind: type, value: Any) -> int | float:
    """Text parsed strictly; a JSON number taken as it is if it is of the right kind."""
    if isinstance(value, str):
        return (parse_int if kind is int else parse_float)(value)
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"not an integer: {value!r:.40}")
    return value if kind is int else finite(value)
