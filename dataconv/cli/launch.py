"""The ``dataconv`` command's entry point (console script and ``python -m dataconv``):
settings that must be in place before NumPy or OpenCV is imported."""
from __future__ import annotations

import os


def main() -> None:
    # dataconv does no linear algebra. OpenBLAS, loaded with NumPy and OpenCV, would start
    # a thread per core at import, and a process running threads is not forked for the
    # worker pool (executors.local.pool_start_method): it would get the slower fork server.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from dataconv.cli.main import main as cli_main

    cli_main()
