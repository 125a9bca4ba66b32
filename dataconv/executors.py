"""Where work runs: in this process, in a local process pool, or on a Dask cluster.

Every executor maps a function over work items and yields the results *in item order*,
keeping only a bounded window of items in flight, so the caller (the one writer per
shard) sees the same sequence whatever runs the work, and memory does not grow with the
dataset.
"""
from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import sys
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Iterable, Iterator, Protocol, TypeVar

from dataconv.errors import DataconvError

T = TypeVar("T")
R = TypeVar("R")

IN_FLIGHT_PER_WORKER = 4  # chunks queued per worker: enough to hide latency, little memory
DASK_CONNECT_TIMEOUT = "10s"
# Modules the pool's fork server imports once, so each worker starts in milliseconds.
POOL_PRELOAD = ["dataconv.build"]


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


class Executor(Protocol):
    chunk_samples: int  # how many samples one work item should hold here

    def map_ordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]: ...


def bounded_ordered(submit: Callable[[T], Any], items: Iterable[T], window: int) -> Iterator[Any]:
    """Submit items keeping at most ``window`` futures pending; yield results in order."""
    pending: deque = deque()
    try:
        for item in items:
            pending.append(submit(item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


class InProcess:
    chunk_samples = 256

    def map_ordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        return map(fn, items)


class LocalPool:
    """Worker processes on this machine.

    When this process runs a single thread on Linux (the ``dataconv`` command; see
    ``pool_start_method``) they are forked from it when the pool starts, which the pipeline
    does before it parses the annotations (no sample index to inherit) or opens a shard:
    they start in milliseconds with OpenCV, NumPy and Pillow already imported. Otherwise a
    fork server imports ``dataconv.build`` once and forks the workers from it."""

    chunk_samples = 128  # per pickled work item: fewer round trips, a few MB in flight

    def __init__(self, workers: int) -> None:
        ctx = multiprocessing.get_context(pool_start_method())
        if ctx.get_start_method() == "forkserver":
            ctx.set_forkserver_preload(POOL_PRELOAD)
        self.forked = ctx.get_start_method() == "fork"
        if self.forked:
            # What the workers inherit is shared copy-on-write; the cyclic garbage collector,
            # walking it in a worker, would write to (and so copy) every page it visits.
            gc.freeze()
        self.window = workers * IN_FLIGHT_PER_WORKER
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
        # a forked pool starts all its workers at its first task: now, before the index exists
        self.pool.submit(int).result()

    def map_ordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        return bounded_ordered(lambda item: self.pool.submit(fn, item), items, self.window)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self.forked:
            gc.unfreeze()


def pool_start_method() -> str:
    """``fork`` on Linux when this process runs a single thread (the ``dataconv`` command);
    otherwise a fork server: a thread of a library (torch's, OpenMP's, a caller's) might
    hold a lock at the moment of the fork, and the worker would wait for it forever."""
    if sys.platform.startswith("linux") and _os_threads() == 1:
        return "fork"
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def _os_threads() -> int:
    """Threads of this process as the kernel sees them (native ones included, which
    ``threading`` does not list)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0  # unknown: not 1, so no fork


class DaskCluster:
    """A dask.distributed scheduler at ``address``, or a LocalCluster for ``local``."""

    chunk_samples = 256  # a Dask task costs about a millisecond of scheduling

    def __init__(self, address: str, workers: int) -> None:
        distributed = _import_distributed()
        self.cluster = None
        try:
            if address == "local":
                self.cluster = distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=40)
            self.client = distributed.Client(self.cluster or address,
                                             timeout=DASK_CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as e:
            self._close_cluster()
            raise DataconvError(f"--dask {address}: cannot reach the Dask scheduler ({e})") from None
        self.window = max(1, sum(self.client.nthreads().values())) * IN_FLIGHT_PER_WORKER

    def map_ordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        return bounded_ordered(lambda item: self.client.submit(fn, item, pure=False),
                               items, self.window)

    def close(self) -> None:
        self.client.close()
        self._close_cluster()

    def _close_cluster(self) -> None:
        if self.cluster is not None:
            self.cluster.close()


def _import_distributed() -> Any:
    try:
        import dask.distributed as distributed
    except ImportError:
        raise DataconvError("--dask needs dask.distributed: pip install 'dataconv[dask]'") from None
    return distributed


@contextlib.contextmanager
def open_executor(workers: int, dask: str | None = None) -> Iterator[Executor]:
    """The executor for ``--workers``/``--dask``; closed (workers stopped) on exit."""
    if dask:
        executor: Any = DaskCluster(dask, workers)
    elif workers > 1:
        executor = LocalPool(workers)
    else:
        yield InProcess()
        return
    try:
        yield executor
    finally:
        executor.close()
