"""Composable per-sample checks and their registry.

A check receives a ``Candidate`` under construction (the sample, its image bytes, the
decoded size, the label as it will be written) and either returns ``None`` (accept),
raises/returns a ``SampleRejected`` (reject with a reason), or updates the item (a
normaliser). Checks never print and never exit: the pipeline decides.

A validator module registers a *check factory* with ``@check``: it declares its options
class (a frozen dataclass, ``dataconv.optionspec``; the CLI adds its switches to every
conversion command) and makes its check from the run's ``CheckOptions``, or returns None
when the options leave it off.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, TypeVar

from dataconv.errors import SampleRejected
from dataconv.sample import Sample


T = TypeVar("T")


@dataclass
class Candidate:
    sample: Sample
    label: str
    data: bytes = b""
    width: int | None = None
    height: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Check(Protocol):
    def __call__(self, item: Candidate) -> SampleRejected | None: ...


@dataclass(frozen=True)
class CheckOptions:
    """The options objects of the run's checks, one per options class. A class not given
    has its defaults. Frozen and hashable: workers build their checks once per value."""

    given: tuple[Any, ...] = ()

    def of(self, cls: type[T]) -> T:
        for options in self.given:
            if type(options) is cls:
                return options
        return cls()


@dataclass(frozen=True)
class CheckFactory:
    name: str
    order: int  # checks run in ascending order: decoding 10, pixels 12, label 25+
    options: type | None  # the options class it declares, if any
    make: Callable[[CheckOptions], Check | None]


_FACTORIES: dict[str, CheckFactory] = {}


def check(name: str, order: int, options: type | None = None) -> Callable:
    """Decorator for a factory ``make(checks: CheckOptions) -> Check | None``."""

    def wrap(make: Callable[[CheckOptions], Check | None]) -> Callable:
        _FACTORIES[name] = CheckFactory(name, order, options, make)
        return make

    return wrap


def factories() -> list[CheckFactory]:
    import dataconv.validators as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if not mod.name.startswith("_") and mod.name != "base":
            importlib.import_module(f"{pkg.__name__}.{mod.name}")
    return sorted(_FACTORIES.values(), key=lambda f: (f.order, f.name))


# Checks from this order on read only the label (text, normal form, length, charset):
# the detection output runs them on each box's text, and a box whose text fails one stays
# in the labels as a don't-care region.
LABEL_ORDER = 24


def make_checks(options: CheckOptions, label_only: bool = False) -> list[Check]:
    """The checks the given options switch on, in run order (``label_only``: from
    ``LABEL_ORDER`` on)."""
    checks = []
    for factory in factories():
        if label_only and factory.order < LABEL_ORDER:
            continue
        made = factory.make(options)
        if made is not None:
            checks.append(made)
    return checks


def run_checks(item: Candidate, checks: list[Check]) -> SampleRejected | None:
    """Run checks in order; the first rejection wins."""
    for c in checks:
        try:
            result = c(item)
        except SampleRejected as e:
            return e
        if result is not None:
            return result
    return None


def option_classes() -> list[type]:
    """The options class of every check that declares one, in run order (the conversion
    commands list their switches in this order)."""
    return [f.options for f in factories() if f.options is not None]
