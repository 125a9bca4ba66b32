"""Stop signals on real processes (dataconv/build/interrupts.py, dataconv/build/executors/): SIGINT,
SIGTERM and SIGHUP stop the pool workers (or the Dask LocalCluster), remove the temporary
folder and exit 128 + the signal's number with one line; after a ``kill -9`` of the main
process its pool workers end by themselves within seconds."""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataconv.outputs.atomic import TMP_MARK
from hostile_util import long_source

N = 30_000  # enough that a 2-worker run is still going when the signal comes


@pytest.fixture(scope="module")
def big_source(tmp_path_factory) -> str:
    return long_source(str(tmp_path_factory.mktemp("signals") / "src"), N)


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) of every process, from /proc."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[int(entry)] = (int(fields[1]), fields[0])
    return found


def descendants(pid: int) -> set[int]:
    table, found, frontier = _processes(), set(), {pid}
    while frontier:
        frontier = {p for p, (parent, _) in table.items() if parent in frontier and p not in found}
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    """The pids still running (a zombie has ended; only its exit status is left)."""
    table = _processes()
    return {p for p in pids if p in table and table[p][1] != "Z"}


def wait_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive(pids)


def start(src: str, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dataconv", "gt-txt", "-i", src, "-o", str(out), "-q",
                             "--workers", "2", *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_mid_run(proc: subprocess.Popen, out: Path, workers: int, timeout: float = 60) -> set[int]:
    """Wait until the run has its temporary folder and ``workers`` child processes; returns them."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"the run ended first: {proc.stderr.read().decode()}"
        assert time.monotonic() < deadline, "the run never got its workers"
        kids = descendants(proc.pid)
        if len(kids) >= workers and temporaries(out):
            return kids
        time.sleep(0.01)


def temporaries(out: Path) -> list[str]:
    return [p for p in os.listdir(out.parent) if p.startswith(f".{out.name}{TMP_MARK}")]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_stop_signal_stops_workers_removes_the_temporary_folder_and_exits(tmp_path, big_source, signum):
    out = tmp_path / "out"
    proc = start(big_source, out)
    try:
        workers = wait_mid_run(proc, out, 2)
        os.kill(proc.pid, signum)
        assert proc.wait(30) == 128 + signum
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read().decode().strip()
    assert err == f"error: interrupted by {signal.Signals(signum).name}", err
    assert wait_gone(workers, 5) == set()
    assert not out.exists() and temporaries(out) == []


def test_kill_9_of_the_main_process_ends_its_workers_within_seconds(tmp_path, big_source):
    out = tmp_path / "out"
    proc = start(big_source, out)
    try:
        workers = wait_mid_run(proc, out, 2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    started = time.monotonic()
    assert wait_gone(workers, 5) == set()
    assert time.monotonic() - started < 5
    assert not out.exists()  # the temporary folder stays; the next run removes it


WATCHED_CHILD = """
import os, sys, time
from dataconv.build.executors import local
parent = os.getpid()  # taken before the fork, as worker_init is given the driver's pid
ready_r, ready_w = os.pipe()
child = os.fork()
if child == 0:  # no prctl here: the watchdog thread alone must end this process
    local.threading.Thread(target=local._watch_parent, args=(parent,), daemon=True).start()
    os.write(ready_w, b"1")
    time.sleep(60)
    os._exit(0)
os.read(ready_r, 1)  # the watchdog runs before the test kills this process
print(child, flush=True)
time.sleep(60)
"""


def test_the_parent_watchdog_alone_ends_an_orphaned_worker(tmp_path):
    """The portable fallback of PR_SET_PDEATHSIG: a thread in the worker polling its parent."""
    proc = subprocess.Popen([sys.executable, "-c", WATCHED_CHILD], stdout=subprocess.PIPE)
    try:
        child = int(proc.stdout.readline())
        assert alive({child}) == {child}
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert wait_gone({child}, 3) == set()
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.skipif(importlib.util.find_spec("distributed") is None, reason="needs dataconv[dask]")
def test_sigterm_closes_a_dask_local_cluster(tmp_path, big_source):
    out = tmp_path / "out"
    proc = start(big_source, out, "--dask", "local")
    try:
        wait_mid_run(proc, out, 2)
        time.sleep(0.3)  # let the cluster start its workers
        processes = descendants(proc.pid)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(60) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.stderr.read().decode().strip() == "error: interrupted by SIGTERM"
    assert wait_gone(processes, 10) == set()
    assert not out.exists() and temporaries(out) == []
