"""Run the work in this process: what ``--workers 1`` means."""
from __future__ import annotations

from typing import Callable, Iterable, Iterator, TypeVar

from dataconv.build.executors.base import ExecutorSettings, register

T = TypeVar("T")
R = TypeVar("R")


@register
class InProcess:
    name = "inprocess"
    chunk_samples = 256
    workers = 1

    def __init__(self, settings: ExecutorSettings) -> None:
        pass

    def map_ordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        return map(fn, items)

    def close(self, abort: bool = False) -> None:
        pass
