"""Issue 27: ``kill -9`` of a ``--dask local`` run leaves none of its processes after 10 s.

Real processes and real signals: every process the run starts carries a marker in its
environment, so that one left behind is found even after it was re-parented to init
(dataconv/build/interrupts.py, dataconv/build/executors/, dataconv/cli/launch.py)."""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from dataconv.outputs.atomic import TMP_MARK
from hostile_util import gt_source, png

N = 4000  # a --workers 2 run of about 1.5 s here, the size of issue 29's
GONE_WITHIN_S = 5.0
EXECUTORS = {"local": ["--workers", "2"], "inprocess": ["--workers", "1"],
             "dask": ["--dask", "local", "--workers", "2"]}
needs_dask = pytest.mark.skipif(importlib.util.find_spec("distributed") is None, reason="needs dataconv[dask]")


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> str:
    data = png(0, width=32, height=16)
    images = {f"img/{i:05d}.png": data for i in range(N)}
    root = tmp_path_factory.mktemp("stop") / "src"
    return gt_source(str(root), "".join(f"{k}\t{k[4:9]}\n" for k in images).encode(), images)


def marked(mark: str) -> set[int]:
    """The live processes (not zombies) whose environment holds ``mark``."""
    found = set()
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if mark.encode() not in f.read():
                    continue
            with open(f"/proc/{entry}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    found.add(int(entry))
        except OSError:
            continue
    return found


def gone_after(mark: str, since: float, limit: float) -> float:
    """Seconds from ``since`` until no marked process is left (fails past ``limit``)."""
    while marked(mark):
        assert time.monotonic() - since < limit, f"processes left after {limit} s: {marked(mark)}"
        time.sleep(0.02)
    return time.monotonic() - since


@dataclass
class Run:
    proc: subprocess.Popen
    mark: str
    out: Path

    @classmethod
    def start(cls, src: str, out: Path, executor: str) -> "Run":
        mark = uuid.uuid4().hex
        proc = subprocess.Popen([sys.executable, "-m", "dataconv", "gt-txt", "-i", src, "-o", str(out), "-q",
                                 *EXECUTORS[executor]], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={**os.environ, "DATACONV_TEST_RUN": mark}, start_new_session=True)
        return cls(proc, mark, out)


def temporaries(out: Path) -> list[str]:
    return [p for p in os.listdir(out.parent) if p.startswith(f".{out.name}{TMP_MARK}")]


def wait_for(run: Run, processes: int, temporary: bool) -> None:
    """Until the run has ``processes`` processes (itself included) and, if asked, its
    temporary folder."""
    deadline = time.monotonic() + 60
    while len(marked(run.mark)) < processes or (temporary and not temporaries(run.out)):
        assert run.proc.poll() is None, "the run ended first"
        assert time.monotonic() < deadline, "the run never got there"
        time.sleep(0.01)


@needs_dask
@pytest.mark.parametrize("moment", ["cluster starting", "workers busy"])
def test_kill_9_of_a_dask_local_run_leaves_no_process_after_10_s(moment, source, tmp_path):
    """The scheduler and the nannies live in the killed process; the worker processes
    end when it is gone, whether they were starting or working."""
    run = Run.start(source, tmp_path / "out", "dask")
    if moment == "cluster starting":
        wait_for(run, 2, temporary=False)
    else:
        wait_for(run, 3, temporary=True)
    killed = time.monotonic()
    os.kill(run.proc.pid, signal.SIGKILL)
    run.proc.wait(10)
    assert gone_after(run.mark, killed, 10.0) < 10.0
