"""Where shard tasks run: in this process, in a local process pool, or (later) on Dask.

Every executor returns results in task order, so the output is identical whatever runs it.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Callable, Iterator, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def run_tasks(fn: Callable[..., R], tasks: Sequence[T], workers: int,
              on_samples: Callable[[int], None]) -> Iterator[R]:
    """Apply ``fn(task, on_sample)`` to each task, yielding results in task order.

    In-process runs report progress per sample; pooled runs per finished task
    (``len(task)`` samples).
    """
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield fn(task, lambda: on_samples(1))
        return
    ctx = get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx) as pool:
        futures = [pool.submit(fn, task, None) for task in tasks]
        for task, future in zip(tasks, futures):
            result = future.result()
            on_samples(len(task))
            yield result
