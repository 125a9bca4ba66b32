"""Memory of an archive's member list: zipfile/tarfile objects against dataconv's shared index.

    .venv/bin/python benchmarks/bench_archive_index.py --members 1000000

Writes a zip (stored) and a tar of ``--members`` one-byte members (names like
``0001/0001234.png``), then measures each step in a fresh process, from /proc/self/status:

* today's way    ``zipfile.ZipFile(path).infolist()`` / ``tarfile.open(path).getmembers()``:
                 what every worker held before (a ZipInfo or TarInfo a member);
* build          ``Archive(path).files()`` in the process that lists it first (the driver):
                 reads the central directory or every header once and writes the index;
* worker         a process of the same run that opens the same archive afterwards (a spawned
                 or Dask worker; a forked one inherits the driver's map): maps the index and
                 reads ``--reads`` random members. Its own memory (RssAnon) is what grows per
                 worker; the index pages it touched are shared page cache (RssFile).

Figures: MB over a process that imported the same modules and did nothing else.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile

CHILD = r"""
import json, os, random, sys, time
mode, path, reads = sys.argv[1], sys.argv[2], int(sys.argv[3])
import tarfile, zipfile
from dataconv.io.archive import Archive

def status():
    fields = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
            fields[key] = int(value.split()[0]) / 1024
    return fields

base = status()
started = time.perf_counter()
if mode == "today":
    if path.endswith(".zip"):
        kept = zipfile.ZipFile(path).infolist()
    else:
        kept = tarfile.open(path).getmembers()
    count = len(kept)
elif mode == "build":
    archive = Archive(path)
    count = len(archive.index())
else:
    archive = Archive(path)
    names = [archive.index().name(i) for i in random.Random(0).sample(range(len(archive.index())), reads)]
    count = sum(len(archive.read(n, 1 << 20)) for n in names)
seconds = time.perf_counter() - started
now = status()
print(json.dumps({"count": count, "seconds": seconds, "base": base, "now": now}))
"""


def write_archives(folder: str, members: int) -> tuple[str, str]:
    zip_path, tar_path = os.path.join(folder, "many.zip"), os.path.join(folder, "many.tar")
    names = [f"{i // 1000:04d}/{i:07d}.png" for i in range(members)]
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as z:
        for name in names:
            z.writestr(name, b"d")
    with tarfile.open(tar_path, "w", format=tarfile.GNU_FORMAT) as t:
        info = tarfile.TarInfo()
        info.size = 1
        import io
        for name in names:
            info.name = name
            t.addfile(info, io.BytesIO(b"d"))
    return zip_path, tar_path


def measure(mode: str, path: str, reads: int, env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, mode, path, str(reads)], capture_output=True, text=True,
                          env=env, check=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--reads", type=int, default=1000)
    parser.add_argument("--work", help="folder for the archives [default: a temporary one]")
    args = parser.parse_args()
    folder = args.work or tempfile.mkdtemp(prefix="dataconv-bench-index-")
    os.makedirs(folder, exist_ok=True)
    started = time.perf_counter()
    zip_path, tar_path = write_archives(folder, args.members)
    print(f"{args.members:,} members written in {time.perf_counter() - started:.0f} s "
          f"(zip {os.path.getsize(zip_path) / 2**20:.0f} MB, tar {os.path.getsize(tar_path) / 2**20:.0f} MB)")
    from dataconv.io.archive import Archive

    print(f"{'archive':8} {'step':8} {'seconds':>8} {'peak MB':>8} {'own MB':>8} {'shared MB':>9}")
    for path in (zip_path, tar_path):
        for mode in ("today", "build", "worker"):
            if mode == "worker":  # this process is the run's driver: it lists the archive first
                Archive(path).index()
            env = dict(os.environ)
            if mode == "build":  # a tree of its own: it finds no index and writes one
                env["DATACONV_INDEX_TOKEN"] = f"{os.getpid()}-build"
            r = measure(mode, path, args.reads, env)
            peak = r["now"]["VmHWM"] - r["base"]["VmRSS"]
            own = r["now"]["RssAnon"] - r["base"]["RssAnon"]
            shared = r["now"]["RssFile"] - r["base"]["RssFile"]
            print(f"{os.path.basename(path):8} {mode:8} {r['seconds']:8.2f} {peak:8.1f} {own:8.1f} {shared:9.1f}")


if __name__ == "__main__":
    main()
