"""The ``dataconv`` command's entry point (console script and ``python -m dataconv``):
settings that must be in place before NumPy or OpenCV is imported."""
from __future__ import annotations

import os


def main() -> None:
    from dataconv.build import interrupts

    interrupts.exit_at_once()
    # dataconv does no linear algebra. OpenBLAS, loaded with NumPy and OpenCV, would start
    # a thread per core at import, and a process running threads is not forked for the
    # worker pool (executors.local.pool_start_method): it would get the slower fork server.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from dataconv.cli.main import main as cli_main

    try:
        cli_main()
    finally:
        # The command has ended and said so. Python's teardown would put back the default
        # actions, and a stop signal now would kill the process without a word.
        interrupts.ignore_from_now()
