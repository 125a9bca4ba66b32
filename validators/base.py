"""Composable per-sample checks and their registry.

A check receives an ``Item`` under construction (the sample, its image bytes, the
decoded size, the label as it will be written) and either returns ``None`` (accept),
raises/returns a ``SampleRejected`` (reject with a reason), or updates the item (a
normaliser). Checks never print and never exit: the pipeline decides.

A validator module registers a *check factory* with ``@check``: it declares the CLI
options it needs (added to every conversion command) and builds its check from the
option values, or returns None when the options leave it off.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

from dataconv.errors import SampleRejected
from dataconv.sample import Sample


@dataclass
class Item:
    sample: Sample
    label: str
    data: bytes = b""
    width: int | None = None
    height: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Check(Protocol):
    def __call__(self, item: Item) -> SampleRejected | None: ...


@dataclass(frozen=True)
class CheckFactory:
    name: str
    order: int  # checks run in ascending order: image reading 0, decoding 10, label 30+
    options: tuple[Callable, ...]
    build: Callable[[Mapping[str, Any]], Check | None]


_FACTORIES: dict[str, CheckFactory] = {}


def check(name: str, order: int, options: tuple[Callable, ...] = ()) -> Callable:
    """Decorator for a factory ``build(opts) -> Check | None``."""

    def wrap(build: Callable[[Mapping[str, Any]], Check | None]) -> Callable:
        _FACTORIES[name] = CheckFactory(name, order, tuple(options), build)
        return build

    return wrap


def factories() -> list[CheckFactory]:
    import dataconv.validators as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if not mod.name.startswith("_") and mod.name != "base":
            importlib.import_module(f"{pkg.__name__}.{mod.name}")
    return sorted(_FACTORIES.values(), key=lambda f: (f.order, f.name))


def build_checks(opts: Mapping[str, Any]) -> list[Check]:
    """The checks the given option values switch on, in run order."""
    checks = []
    for factory in factories():
        built = factory.build(opts)
        if built is not None:
            checks.append(built)
    return checks


def run_checks(item: Item, checks: list[Check]) -> SampleRejected | None:
    """Run checks in order; the first rejection wins."""
    for c in checks:
        try:
            result = c(item)
        except SampleRejected as e:
            return e
        if result is not None:
            return result
    return None


def check_options() -> list[Callable]:
    """Every option any check declares, for the conversion commands."""
    return [opt for f in factories() for opt in f.options]
