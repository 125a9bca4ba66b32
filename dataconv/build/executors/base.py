"""The executor protocol and registry.

An executor maps a function over work items and yields the results *in item order*,
keeping only a bounded window of items in flight (``bounded_ordered``), so the caller (the
one writer per shard) sees the same sequence whatever runs the work, and memory does not
grow with the dataset. Each executor is one module of this package, a class decorated
with ``@register`` and built from ``ExecutorSettings``; ``open_executor`` finds it by name.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import pkgutil
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Protocol, TypeVar

from dataconv.errors import DataconvError

T = TypeVar("T")
R = TypeVar("R")

IN_FLIGHT_PER_WORKER = 4  # chunks queued per worker: enough to hide latency, little memory


@dataclass(frozen=True)
class ExecutorSettings:
    workers: int = 1  # processes (or Dask LocalCluster workers) to run the work on
    address: str | None = None  # a Dask scheduler address, or "local"


class Executor(Protocol):
    name: str
    chunk_samples: int  # the fewest samples one work item should hold here
    workers: int  # how many items run at once (the build cuts work to keep them busy)

    def map_ordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]: ...

    def close(self, abort: bool = False) -> None: ...


def bounded_ordered(submit: Callable[[T], Any], items: Iterable[T], window: int,
                    cancel_pending: bool = True) -> Iterator[Any]:
    """Submit items keeping at most ``window`` futures pending; yield results in order.
    When the caller stops early, the pending futures are cancelled (``cancel_pending``)
    or left to the executor's own shutdown."""
    pending: deque = deque()
    try:
        for item in items:
            pending.append(submit(item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending if cancel_pending else ():
            future.cancel()


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


_REGISTRY: dict[str, Callable[[ExecutorSettings], Executor]] = {}


def register(cls: Any) -> Any:
    """Class decorator: make an executor available by its ``name``; it is built as
    ``cls(settings)``."""
    if not getattr(cls, "name", ""):
        raise RuntimeError(f"{cls.__qualname__} has no name")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise RuntimeError(f"executor {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def executors() -> dict[str, Callable[[ExecutorSettings], Executor]]:
    """Every registered executor by name, importing each module of this package once."""
    import dataconv.build.executors as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{mod.name}")
    return dict(sorted(_REGISTRY.items()))


def chosen_name(workers: int, dask: str | None) -> str:
    """The executor ``--workers``/``--dask`` mean: Dask where an address is given, local
    processes for more than one worker, else this process."""
    return "dask" if dask else "local" if workers > 1 else "inprocess"


@contextlib.contextmanager
def open_executor(workers: int = 1, dask: str | None = None, name: str | None = None) -> Iterator[Executor]:
    """The executor ``name`` (default: the one ``--workers``/``--dask`` choose), closed on
    exit: workers finish their work after a success, and are stopped at once after an error
    or a signal (a LocalCluster is closed either way)."""
    name = name or chosen_name(workers, dask)
    known = executors()
    if name not in known:
        raise DataconvError(f"unknown executor {name!r} (known: {', '.join(known)})")
    executor = known[name](ExecutorSettings(workers, dask))
    try:
        yield executor
    except BaseException:
        executor.close(abort=True)
        raise
    executor.close()
