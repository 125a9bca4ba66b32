"""Run the work on a Dask cluster: what ``--dask ADDRESS`` means (``local``: a
LocalCluster of ``--workers`` processes)."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, TypeVar

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
        _no_gc_callback()
        self.workers = max(1, sum(self.client.nthreads().values()))
        self.window = self.workers * IN_FLIGHT_PER_WORKER

    def map_ordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        return bounded_ordered(lambda item: self.client.submit(fn, item, pure=False),
                               items, self.window)

    def close(self, abort: bool = False) -> None:
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
