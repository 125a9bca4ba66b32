"""Mutation run of dataconv/build/executors/base.py: the window and cancellation of
bounded_ordered, which executor --workers/--dask choose, the registry's refusals, and the
default worker count from this process's CPU affinity (a real process pinned to one CPU)."""
from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import Future

import pytest

from dataconv.build.executors import base


def done(value: int) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def test_bounded_ordered_keeps_at_most_window_futures_pending_and_yields_in_order():
    submitted: list[int] = []
    received: list[int] = []
    pending_seen: list[int] = []

    def submit(item: int) -> Future:
        submitted.append(item)
        pending_seen.append(len(submitted) - len(received))
        return done(item * 10)

    for value in base.bounded_ordered(submit, range(10), window=3):
        received.append(value)
    assert received == [i * 10 for i in range(10)]
    assert max(pending_seen) == 3  # a window of 3: never a fourth before one is taken


@pytest.mark.parametrize("cancel", [None, True, False])  # None: the default, which cancels
def test_stopping_early_cancels_what_is_pending_or_leaves_it(cancel):
    futures: list[Future] = []

    def submit(item: int) -> Future:
        futures.append(Future())  # never done: each waits for its worker
        if item == 0:
            futures[0].set_result(0)
        return futures[-1]

    options = {} if cancel is None else {"cancel_pending": cancel}
    results = base.bounded_ordered(submit, range(5), window=3, **options)
    assert next(results) == 0
    results.close()
    assert len(futures) == 3  # the window filled, the first one taken
    assert [f.cancelled() for f in futures[1:]] == [cancel is not False] * 2


def test_the_executor_workers_and_dask_choose():
    assert base.chosen_name(1, None) == "inprocess"  # --workers 1 checks in this process
    assert base.chosen_name(2, None) == "local"
    assert base.chosen_name(1, "tcp://h:8786") == base.chosen_name(4, "local") == "dask"


def test_a_name_registered_twice_is_refused_and_the_same_class_again_is_not():
    local = base.executors()["local"]
    assert base.register(local) is local

    class Other:
        name = "local"

    with pytest.raises(RuntimeError, match="executor 'local' registered twice"):
        base.register(Other)

    class Nameless:
        pass

    with pytest.raises(RuntimeError, match="Nameless has no name"):
        base.register(Nameless)
    assert base.executors()["local"] is local


def test_default_workers_is_the_cpus_this_process_may_run_on():
    assert base.default_workers() == len(os.sched_getaffinity(0))
    pinned = subprocess.run([sys.executable, "-c", "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))});"
                             "from dataconv.build.executors.base import default_workers; print(default_workers())"],
                            capture_output=True, text=True, check=True)
    assert pinned.stdout.strip() == "1"
