"""Run the work on a Dask cluster: what ``--dask ADDRESS`` means (``local``: a
LocalCluster of ``--workers`` processes)."""
from __future__ import annotations

import contextlib
import logging
import signal
from multiprocessing import resource_tracker
from typing import Any, Callable, Iterable, Iterator, TypeVar

from dataconv.build import interrupts
from dataconv.build.executors.base import IN_FLIGHT_PER_WORKER, ExecutorSettings, bounded_ordered, register
from dataconv.errors import DataconvError

T = TypeVar("T")
R = TypeVar("R")

DASK_CONNECT_TIMEOUT = "10s"


@register
class DaskCluster:
    """A dask.distributed scheduler at ``address``, or a LocalCluster for ``local``."""

    name = "dask"
    chunk_samples = 256  # a Dask task costs about a millisecond of scheduling

    def __init__(self, settings: ExecutorSettings) -> None:
        address, workers = settings.address or "local", settings.workers
        distributed = _import_distributed()
        self.cluster = self.client = None
        try:
            with _stop_signals_blocked():
                if address == "local":
                    self.cluster = distributed.LocalCluster(
                        n_workers=workers, threads_per_worker=1, processes=True,
                        dashboard_address=None, silence_logs=logging.CRITICAL)
                self.client = distributed.Client(self.cluster or address,
                                                 timeout=DASK_CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as e:
            self.close(abort=True)
            raise DataconvError(f"--dask {address}: cannot reach the Dask scheduler ({e})") from None
        except BaseException:  # a stop signal while the cluster starts
            self.close(abort=True)
            raise
        _no_gc_callback()
        self.workers = max(1, sum(self.client.nthreads().values()))
        self.window = self.workers * IN_FLIGHT_PER_WORKER

    def map_ordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        return bounded_ordered(lambda item: self.client.submit(fn, item, pure=False),
                               items, self.window)

    def close(self, abort: bool = False) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


@contextlib.contextmanager
def _stop_signals_blocked() -> Iterator[None]:
    """Block SIGINT, SIGTERM and SIGHUP in this thread while the cluster starts: the
    threads it starts here, and the worker processes they spawn, keep that mask. A stop
    signal sent to the whole process group (a terminal's Ctrl-C) then reaches this process
    alone, which closes the cluster, instead of printing a traceback in every worker (as
    for the pool's workers, which ignore SIGINT). One sent meanwhile is acted on at the
    end of the block.

    multiprocessing's resource tracker, started by the first worker's spawn, unblocks
    SIGINT and SIGTERM in the thread that starts it: it is started first, from here."""
    resource_tracker.ensure_running()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, interrupts.SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _import_distributed() -> Any:
    try:
        import dask.distributed as distributed
    except ImportError:
        raise DataconvError("--dask needs dask.distributed: pip install 'dataconv[dask]'") from None
    return distributed


def _no_gc_callback() -> None:
    """A LocalCluster's scheduler runs in this process and installs a garbage-collector
    callback (its GC diagnosis). A stop signal landing inside that callback would have its
    exception printed and dropped by Python ("Exception ignored in ... _gc_callback"):
    the run still stops (``interrupts.check``), but with a traceback on stderr."""
    try:
        from distributed.gc import disable_gc_diagnosis
    except ImportError:  # another version of distributed: nothing of this kind to switch off
        return
    disable_gc_diagnosis(force=True)
