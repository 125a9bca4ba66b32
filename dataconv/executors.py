"""Where work runs: in this process (one thread or several), in a local process pool, or
on a Dask cluster.

Every executor maps a function over work items and yields the results *in item order*,
keeping only a bounded window of items in flight, so the caller (the one writer per
shard) sees the same sequence whatever runs the work, and memory does not grow with the
dataset.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
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


class LocalThreads:
    """Threads of this process: the checks' heavy parts (file reads, libjpeg, zlib, sha1)
    release the GIL, and nothing is pickled or sent between processes."""

    chunk_samples = 64

    def __init__(self, workers: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.window = workers * IN_FLIGHT_PER_WORKER
        self.pool = ThreadPoolExecutor(max_workers=workers)

    def map_ordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        return bounded_ordered(lambda item: self.pool.submit(fn, item), items, self.window)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class LocalPool:
    """Worker processes started by a fork server (no per-worker interpreter start-up)."""

    chunk_samples = 64

    def __init__(self, workers: int) -> None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(POOL_PRELOAD)
        self.window = workers * IN_FLIGHT_PER_WORKER
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)

    def map_ordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        return bounded_ordered(lambda item: self.pool.submit(fn, item), items, self.window)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


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


# Below this many samples, ``--workers N`` runs N threads in this process rather than a
# process pool: starting the fork server and its workers (each imports OpenCV, NumPy,
# Pillow) and sending every image's bytes back through a pipe cost more than the GIL-free
# parts of a check (file reads, libjpeg, zlib, sha1) gain. Measured in docs/scale.md.
THREADS_BELOW = 100_000
EXECUTOR_ENV = "DATACONV_EXECUTOR"  # "threads" or "processes": overrides the choice


def _use_threads(samples: int | None) -> bool:
    forced = os.environ.get(EXECUTOR_ENV, "").strip().lower()
    if forced in ("threads", "processes"):
        return forced == "threads"
    return samples is not None and samples < THREADS_BELOW


@contextlib.contextmanager
def open_executor(workers: int, dask: str | None = None,
                  samples: int | None = None) -> Iterator[Executor]:
    """The executor for ``--workers``/``--dask`` and a dataset of ``samples`` samples;
    closed (workers stopped) on exit."""
    if dask:
        executor: Any = DaskCluster(dask, workers)
    elif workers > 1 and _use_threads(samples):
        executor = LocalThreads(workers)
    elif workers > 1:
        executor = LocalPool(workers)
    else:
        yield InProcess()
        return
    try:
        yield executor
    finally:
        executor.close()
