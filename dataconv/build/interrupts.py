"""SIGINT, SIGTERM and SIGHUP end a command the way an error does.

While a command runs (``handled``), each of these signals raises ``Interrupted`` in the
main thread, so every ``finally`` and ``except BaseException`` on the way up runs: the
worker pool or Dask cluster is stopped (``executors.open_executor``) and the temporary
output removed (``output.atomic_output``). A second signal ends the process at once: a
cleanup that hangs can still be cut short, and the next run removes what it left.
"""
from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
from typing import Any, Callable, Iterator

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(BaseException):
    """A stop signal arrived. A BaseException, like KeyboardInterrupt, so that no
    ``except Exception`` on the way up mistakes it for a failure it can handle."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # the shell's convention: 130 SIGINT, 143 SIGTERM, 129 SIGHUP


class _State:
    received: int | None = None  # the first signal, once one arrived
    deferring = 0  # depth of ``deferred`` blocks
    pending: int | None = None  # a signal held back by ``deferred``
    resend: int | None = None  # a signal lost in a ``__del__``, raised again by SIGALRM
    owner: int | None = None  # the process that installed the handlers


def _handler(signum: int, frame: Any) -> None:
    if os.getpid() != _State.owner:  # a worker forked before it reset its handlers
        if signum != signal.SIGINT:
            os._exit(128 + signum)
        return
    if _State.received is not None:
        os._exit(128 + signum)
    _State.received = signum
    if _State.deferring:
        _State.pending = signum
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Turn the stop signals into ``Interrupted`` for the duration of the block (from the
    main thread only; elsewhere, e.g. a command run from a worker thread, nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _State.owner = os.getpid()
    previous = {s: signal.signal(s, _handler) for s in SIGNALS}
    previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, _resent)
    previous_hook, sys.unraisablehook = sys.unraisablehook, functools.partial(_unraisable, sys.unraisablehook)
    _State.received = _State.pending = None
    try:
        yield
        check()
    except Interrupted:
        raise
    except BaseException:
        # Whatever ends the command once a stop signal has arrived is its consequence: the
        # signal raised inside a class's creation (RuntimeError "Error calling
        # __set_name__"), workers it ended before this process acted on it.
        check()
        raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for s, old in previous.items():
            signal.signal(s, old)
        sys.unraisablehook = previous_hook
        _State.received = _State.pending = _State.resend = None


RESEND_AFTER_S = 0.05  # long after the hook below has returned


def _unraisable(hook: Callable[[Any], None], info: Any) -> None:
    """A signal that landed where Python cannot pass an exception on (a ``__del__``, a
    weakref, garbage-collector or at-fork callback) would be printed as "Exception
    ignored" with a traceback, and lost. It is raised again instead, from a one-shot
    SIGALRM a moment later, in the main thread's ordinary code. setitimer is one C call,
    so nothing in here can be interrupted by it; no thread is started (a process running
    threads would get the slower fork server for its pool)."""
    if not isinstance(info.exc_value, Interrupted):
        hook(info)
        return
    _State.resend = info.exc_value.signum
    signal.setitimer(signal.ITIMER_REAL, RESEND_AFTER_S)


def _resent(signum: int, frame: Any) -> None:
    if _State.resend is not None:
        resend, _State.resend = _State.resend, None
        raise Interrupted(resend)


def check() -> None:
    """Raise ``Interrupted`` if a stop signal arrived and the run is still going on: the
    handler's exception is lost when the signal lands while Python runs a ``__del__`` or a
    weakref callback (it prints "Exception ignored" and carries on)."""
    if _State.received is not None:
        raise Interrupted(_State.received)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold a stop signal back until a few steps that must happen together are done (the
    renames that put a new OUT in place of the old one); it is raised right after."""
    _State.deferring += 1
    try:
        yield
    finally:
        _State.deferring -= 1
        if not _State.deferring and _State.pending is not None:
            signum, _State.pending = _State.pending, None
            raise Interrupted(signum)


def exit_at_once() -> None:
    """For a command's process, before anything else runs: a stop signal outside
    ``handled`` (while the command's modules load, or once it has finished and cleaned up)
    prints the same one line and exits with the same code at once; there is nothing to
    clean up then, and Python's own SIGINT would print a traceback."""
    for s in SIGNALS:
        signal.signal(s, _exit_now)


def _exit_now(signum: int, frame: Any) -> None:
    os.write(2, f"error: {Interrupted(signum)}\n".encode())
    os._exit(128 + signum)


def ignore_from_now() -> None:
    """Ignore the stop signals: the process is about to exit anyway (Python's teardown
    leaves an ignored signal ignored)."""
    for s in SIGNALS:
        signal.signal(s, signal.SIG_IGN)


def reset_in_worker() -> None:
    """For a worker process (forked ones inherit the driver's handlers): SIGTERM and SIGHUP
    end it at once, and SIGINT, which a terminal's Ctrl-C sends to the whole process group,
    is left to the driver, which stops the workers itself."""
    for s in SIGNALS:
        signal.signal(s, signal.SIG_IGN if s == signal.SIGINT else signal.SIG_DFL)
