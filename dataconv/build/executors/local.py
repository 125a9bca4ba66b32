"""Run the work in worker processes on this machine: what ``--workers N`` (N > 1) means.

The workers are stopped at once on an error or a stop signal, and end by themselves when
the process that started them dies, even by ``kill -9`` (``worker_init``).
"""
from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator, TypeVar

from dataconv.build import interrupts
from dataconv.build.executors.base import IN_FLIGHT_PER_WORKER, ExecutorSettings, bounded_ordered, register
from dataconv.errors import DataconvError

T = TypeVar("T")
R = TypeVar("R")

# Modules the pool's fork server imports once, so each worker starts in milliseconds.
POOL_PRELOAD = ["dataconv.build.shards"]
PARENT_POLL_S = 0.5  # how often a worker checks that the process that started it is alive
STOP_GRACE_S = 3.0  # how long a stopped worker may take to exit before it is killed
PR_SET_PDEATHSIG = 1  # linux/prctl.h


@register
class LocalPool:
    """Worker processes on this machine.

    When this process runs a single thread on Linux (the ``dataconv`` command; see
    ``pool_start_method``) they are forked from it when the pool starts, which the pipeline
    does before it parses the annotations (no sample index to inherit) or opens a shard:
    they start in milliseconds with OpenCV, NumPy and Pillow already imported. Otherwise a
    fork server imports ``dataconv.build.shards`` once and forks the workers from it."""

    name = "local"
    chunk_samples = 128  # per pickled work item: fewer round trips, a few MB in flight

    def __init__(self, settings: ExecutorSettings) -> None:
        workers = self.workers = settings.workers
        ctx = pool_context(pool_start_method())
        if ctx.get_start_method() == "forkserver":
            ctx.set_forkserver_preload(POOL_PRELOAD)
        self.forked = ctx.get_start_method() == "fork"
        if self.forked:
            # What the workers inherit is shared copy-on-write; the cyclic garbage collector,
            # walking it in a worker, would write to (and so copy) every page it visits.
            gc.freeze()
        self.window = workers * IN_FLIGHT_PER_WORKER
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=worker_init,
                                        initargs=(os.getpid() if self.forked else None,))
        try:
            with _workers_lost():
                # a forked pool starts all its workers at its first task: now, before the index exists
                self._submit(int, 0).result()
        except BaseException:  # a stop signal while the workers start: no one else can end them
            self.close(abort=True)
            raise

    def map_ordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        with _workers_lost():
            # The pool's manager thread cancels what is left when the pool shuts down (close);
            # a cancel from this thread could race with its own failing of every future it
            # holds once its workers are gone (InvalidStateError in that thread).
            yield from bounded_ordered(lambda item: self._submit(fn, item), items, self.window,
                                       cancel_pending=False)

    def _submit(self, fn: Callable[[T], R], item: T) -> Future:
        """``pool.submit`` with a stop signal held back until it returns: raised inside,
        it could leave a lock of the pool's work queue held (its manager thread would then
        wait for it for ever), or a worker started but not yet listed."""
        with interrupts.deferred():
            return self.pool.submit(fn, item)

    def close(self, abort: bool = False) -> None:
        """Stop the workers: after the work is done, let them finish; on an error or a
        signal (``abort``), end them now instead of waiting for the chunks they hold."""
        try:
            if abort:
                self._abort()
            else:
                self.pool.shutdown(wait=True, cancel_futures=True)
        except BaseException:  # a stop signal while the workers finish
            self._abort()
            raise
        finally:
            if self.forked:
                gc.unfreeze()

    def _abort(self) -> None:
        """End the workers now, leaving nothing that blocks the interpreter's exit.

        The pool is shut down first, so that its manager thread queues no more work and
        cancels what it has not started; then the workers are ended. The manager may be
        reading a result a worker was writing when it ended: this process's copy of the
        results pipe's write end is closed, so that read ends (EOF) instead of waiting
        for ever, and the manager fails what the workers held and ends. The queue that fed
        them is not waited for at exit (its thread could block on a pipe no one reads)."""
        pool = self.pool
        # shutdown() forgets these; ProcessPoolExecutor has no public way to end its
        # workers before Python 3.14 (terminate_workers)
        manager = getattr(pool, "_executor_manager_thread", None)
        processes = list((getattr(pool, "_processes", None) or {}).values())
        call_queue = getattr(pool, "_call_queue", None)
        results = getattr(pool, "_result_queue", None)
        pool.shutdown(wait=False, cancel_futures=True)
        _stop(processes)
        if results is not None:
            with contextlib.suppress(OSError, AttributeError):
                results._writer.close()
        if manager is not None:
            manager.join(STOP_GRACE_S)
        if call_queue is not None:
            call_queue.cancel_join_thread()
        self._forget_manager(manager)

    @staticmethod
    def _forget_manager(manager: threading.Thread | None) -> None:
        """The interpreter's exit hook wakes every pool manager thread it still lists, through
        a pipe that a manager whose workers were ended mid-task has already closed
        ("Exception ignored in ... _python_exit: Bad file descriptor" after a signal). The
        manager has ended, so it is taken off that list."""
        from concurrent.futures import process as futures_process

        wakeups = getattr(futures_process, "_threads_wakeups", None)
        if manager is not None and wakeups is not None and not manager.is_alive():
            wakeups.pop(manager, None)


@contextlib.contextmanager
def _workers_lost() -> Iterator[None]:
    """A worker that died is a one-line error (or, where a stop signal sent to the whole
    process group ended it, the interruption: ``interrupts.handled``)."""
    try:
        yield
    except BrokenProcessPool:
        raise DataconvError("a worker process ended unexpectedly (killed, or out of memory?); "
                            "nothing was written. Try again with fewer --workers") from None


def _stop(processes: Iterable[multiprocessing.process.BaseProcess]) -> None:
    """SIGTERM every worker; SIGKILL one still there after STOP_GRACE_S."""
    for process in processes:
        with contextlib.suppress(OSError, ValueError):
            process.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AssertionError):
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(STOP_GRACE_S)


def worker_init(driver: int | None) -> None:
    """Runs first in every pool worker: signals as a worker needs them
    (``interrupts.reset_in_worker``), and the worker ends by itself when the process that
    started it dies, even by ``kill -9`` (nothing else would stop it, and it would hold
    its chunk's files open): the kernel sends SIGKILL on the parent's death (Linux
    PR_SET_PDEATHSIG), and a watchdog thread polling the parent is the portable fallback.
    ``driver`` is the pid that forked this worker, or None under a fork server, whose own
    death (it exits with the driver) ends its workers the same way."""
    interrupts.reset_in_worker()
    parent = os.getppid()
    _die_with_parent()
    if driver is not None and parent != driver:
        os._exit(1)  # the driver died before this worker got here
    threading.Thread(target=_watch_parent, args=(parent,), name="dataconv-parent-watch",
                     daemon=True).start()


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def pool_start_method() -> str:
    """``fork`` on Linux when this process runs a single thread (the ``dataconv`` command);
    otherwise a fork server: a thread of a library (torch's, OpenMP's, a caller's) might
    hold a lock at the moment of the fork, and the worker would wait for it forever."""
    if sys.platform.startswith("linux") and _os_threads() == 1:
        return "fork"
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def pool_context(method: str) -> multiprocessing.context.BaseContext:
    """The multiprocessing context of the pool. A fork server's or spawn's worker would
    first run the caller's main script again (as ``__mp_main__``) to find what it pickled;
    a script or notebook that calls ``dataconv.convert`` without an ``if __name__ ==
    "__main__"`` guard would then start a conversion in every worker, and the pool would
    break. The workers run only dataconv's own functions, so theirs are not told about
    the main module (a forked worker has it already)."""
    return _NO_MAIN_CONTEXTS[method]() if method in _NO_MAIN_CONTEXTS else multiprocessing.get_context(method)


class _NoMainProcess(multiprocessing.process.BaseProcess):
    def start(self) -> None:
        with _main_module_hidden():
            super().start()


class _SpawnProcess(_NoMainProcess, multiprocessing.context.SpawnProcess):
    pass


class _SpawnContext(multiprocessing.context.SpawnContext):
    Process = _SpawnProcess


_NO_MAIN_CONTEXTS: dict[str, type] = {"spawn": _SpawnContext}
if hasattr(multiprocessing.context, "ForkServerContext"):  # POSIX
    class _ForkServerProcess(_NoMainProcess, multiprocessing.context.ForkServerProcess):
        pass

    class _ForkServerContext(multiprocessing.context.ForkServerContext):
        Process = _ForkServerProcess

    _NO_MAIN_CONTEXTS["forkserver"] = _ForkServerContext


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """While a worker is started, ``__main__`` names no file and no module, so the worker
    is told nothing to import (multiprocessing.spawn.get_preparation_data)."""
    main = sys.modules.get("__main__")
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if main is not None and k in main.__dict__}
    if main is not None:
        main.__dict__.pop("__file__", None)
        main.__spec__ = None
    try:
        yield
    finally:
        if main is not None:
            main.__dict__.update(saved)


def _os_threads() -> int:
    """Threads of this process as the kernel sees them (native ones included, which
    ``threading`` does not list)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0  # unknown: not 1, so no fork
