"""The driver's share of a conversion: its CPU and wall time up to the build, during it,
and in all, measured inside the process that runs ``dataconv`` (``resource.getrusage``
of that process only, the workers excluded), optionally beside another checkout.

    python benchmarks/bench_driver.py SRC [--before CHECKOUT] [--repeat 3] [-- EXTRA...]

SRC is a gt.txt source (``bench_convert.py --work DIR`` leaves one in DIR/src); runs
alternate between this checkout and ``--before`` so that both see the same load.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PHASES = ("build_shards", "finalize")


def inner(argv: list[str]) -> None:
    """Run dataconv in this process, noting time and CPU where the phases start and end."""
    from dataconv.build import pipeline
    from dataconv.cli.launch import main

    start = time.perf_counter()
    marks: dict[str, tuple[float, float]] = {}

    def note(name: str) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        marks[name] = (time.perf_counter() - start, usage.ru_utime + usage.ru_stime)

    for phase in PHASES:
        def timed(*args, _fn=getattr(pipeline, phase), _name=phase, **kwargs):  # noqa: ANN001,ANN202
            note(f"{_name} start")
            try:
                return _fn(*args, **kwargs)
            finally:
                note(f"{_name} end")
        setattr(pipeline, phase, timed)
    sys.argv = ["dataconv", *argv]
    try:
        main()
    except SystemExit:
        pass
    note("exit")
    print(json.dumps(marks), file=sys.stderr)


def measure(src: str, extra: list[str], env: dict[str, str]) -> dict[str, list[float]]:
    out = tempfile.mkdtemp(prefix="bench-driver-")
    shutil.rmtree(out)
    try:
        result = subprocess.run([sys.executable, os.path.abspath(__file__), "--inner", "gt-txt", "-i", src,
                                 "-o", out, "-q", *extra], env=env, capture_output=True, text=True, check=True)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return json.loads(result.stderr.strip().splitlines()[-1])


def main() -> None:
    if sys.argv[1:2] == ["--inner"]:
        return inner(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src")
    parser.add_argument("--before", metavar="CHECKOUT")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("extra", nargs="*", help="more dataconv options, after --")
    args = parser.parse_args()
    sys.path.insert(0, HERE)
    from bench_convert import before_env

    envs = {"now": dict(os.environ)}
    if args.before:
        envs["before"] = before_env(args.before)
    rows: dict[str, list[dict]] = {name: [] for name in envs}
    for i in range(args.repeat):
        for name in (list(envs) if i % 2 == 0 else list(envs)[::-1]):
            rows[name].append(measure(args.src, args.extra, envs[name]))
    print(f"{'':8} {'CPU to build':>14} {'CPU in build':>14} {'CPU in all':>12} {'wall':>8}")
    for name, marks in rows.items():
        for m in marks:
            print(f"{name:8} {m['build_shards start'][1]:13.2f}s "
                  f"{m['build_shards end'][1] - m['build_shards start'][1]:13.2f}s "
                  f"{m['exit'][1]:11.2f}s {m['exit'][0]:7.2f}s")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
