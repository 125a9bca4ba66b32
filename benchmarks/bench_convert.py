"""Conversion throughput: dataconv against clovaai's create_lmdb_dataset.py and the I/O floor.

    .venv/bin/python benchmarks/bench_convert.py --words 20000 --lines 1000 --repeat 2

Generates ``--words`` JPEG word crops (60-400 x 24-80 px) and ``--lines`` PNG handwriting
lines (1200-3800 x 100-180 px) in clovaai's gt.txt layout, with ``--corrupt`` broken files
of each kind (cut in half, cut before the end marker, empty, garbage), then times, each in
its own process (peak RSS = the largest sum of RSS over the process tree, sampled):

* baseline  clovaai's algorithm: one process, every image fully decoded to grayscale with
            cv2.imdecode, LMDB transactions of 1,000 samples (writeCache), 1 TiB map;
* dataconv  ``dataconv gt-txt`` with the default options (every core, the default split)
            first, then ``--split none``, ``--workers 1`` with and without a split (and
            ``--workers 2`` where there are not 2 cores); with ``--before CHECKOUT``, the
            same rows again from another commit's files, timed in the same run;
* floor     read every file and write the LMDB, no checks at all;
* ceiling   not a run: every core busy with nothing but the floor's work and dataconv's
            complete checks, ``cores / (floor + check)`` per sample, from the floor's
            measured time and the checks' CPU time per sample measured on a sample of
            the same files (``check_costs``).

Then the reading side: samples/s of decode + resize to 32x128 through a PARSeq-style
reader and through dataconv's training data module, on the LMDB dataconv wrote.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable

import lmdb
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATACONV = os.path.join(os.path.dirname(sys.executable), "dataconv")
TXN_SAMPLES = 1000


# --- the methods, each run in a child process (``--one NAME SRC OUT``) -------------------

def _gt_lines(src: str) -> list[tuple[str, str]]:
    with open(os.path.join(src, "gt.txt"), encoding="utf-8") as f:
        return [tuple(line.rstrip("\n").split("\t", 1)) for line in f]  # type: ignore[misc]


def _write_cache(env: lmdb.Environment, cache: dict[bytes, bytes]) -> None:
    with env.begin(write=True) as txn:
        for key, value in cache.items():
            txn.put(key, value)


def _lmdb_dump(src: str, out: str, valid: Callable[[bytes], bool]) -> dict[str, int]:
    """clovaai's createDataset loop; ``valid`` is its checkImageIsValid (or no check)."""
    os.makedirs(out, exist_ok=True)
    env = lmdb.open(out, map_size=1 << 40)
    cache: dict[bytes, bytes] = {}
    count, invalid = 1, 0
    for rel, label in _gt_lines(src):
        path = os.path.join(src, rel)
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        try:
            ok = valid(data)
        except Exception:  # clovaai logs the error and skips the sample
            ok = False
        if not ok:
            invalid += 1
            continue
        cache[b"image-%09d" % count], cache[b"label-%09d" % count] = data, label.encode()
        if count % TXN_SAMPLES == 0:
            _write_cache(env, cache)
            cache = {}
        count += 1
    cache[b"num-samples"] = str(count - 1).encode()
    _write_cache(env, cache)
    env.close()
    return {"written": count - 1, "corrupt_detected": invalid}


def clovaai_valid(data: bytes) -> bool:
    import cv2

    if not data:
        return False
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    return img is not None and img.shape[0] * img.shape[1] > 0


def run_dataconv(src: str, out: str, *args: str) -> dict[str, int]:
    subprocess.run([DATACONV, "gt-txt", "-i", src, "-o", out, "-q", *args], check=True,
                   stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
        card = json.load(f)
    return {"written": card["counts"]["written"], "corrupt_detected": card["counts"]["rejected"]}


# dataconv's rows: the options after ``-i SRC -o OUT -q``; the defaults come first.
DATACONV_ROWS: dict[str, tuple[str, ...]] = {
    "dataconv (defaults)": (),
    "dataconv --split none": ("--split", "none"),
    "dataconv --workers 1": ("--workers", "1"),
    "dataconv --workers 1 --split none": ("--workers", "1", "--split", "none"),
    "dataconv --workers 2": ("--workers", "2"),
}
METHODS: dict[str, Callable[[str, str], dict[str, int]]] = {
    **{name: (lambda args: lambda src, out: run_dataconv(src, out, *args))(args)
       for name, args in DATACONV_ROWS.items()},
    "baseline (clovaai)": lambda src, out: _lmdb_dump(src, out, clovaai_valid),
    "floor (read + write)": lambda src, out: _lmdb_dump(src, out, lambda data: True),
}
BEFORE = "before: "  # a dataconv row run from the checkout given by --before


# --- measuring ------------------------------------------------------------------------

class PeakRss:
    """Samples the summed memory of a process and its descendants: RSS (which counts pages
    shared by a fork server and its workers once per process) and PSS (shares them)."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        import psutil

        self.root, self.every, self.peak, self.peak_pss = psutil.Process(pid), every, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self.root] + self.root.children(recursive=True)
                self.peak = max(self.peak, sum(_rss(p) for p in procs))
                self.peak_pss = max(self.peak_pss, sum(_pss(p) for p in procs))
            except psutil.Error:
                pass
            time.sleep(self.every)

    def stop(self) -> tuple[int, int]:
        self._stop.set()
        self._thread.join()
        return self.peak, self.peak_pss


def _rss(proc: Any) -> int:
    try:
        return proc.memory_info().rss
    except Exception:
        return 0


def _pss(proc: Any) -> int:
    try:
        return proc.memory_full_info().pss
    except Exception:
        return _rss(proc)


def measure(method: str, src: str, out: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    cpu_before = _children_cpu()
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, __file__, "--one", method, src, out],
                             stdout=subprocess.PIPE, text=True, env=env)
    sampler = PeakRss(child.pid)
    stdout, _ = child.communicate()
    wall = time.perf_counter() - start
    peak, pss = sampler.stop()
    if child.returncode:
        raise SystemExit(f"{method} failed ({child.returncode})")
    return {"method": method, "seconds": wall, "cpu_seconds": _children_cpu() - cpu_before,
            "peak_rss_mb": peak / 2**20, "peak_pss_mb": pss / 2**20, **json.loads(stdout)}


def _children_cpu() -> float:
    """User + system CPU seconds of every ended and waited-for descendant so far (the
    whole process tree of a measured run: its workers are waited for by their parent)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- the reading side -----------------------------------------------------------------

def parseq_style_read(path: str, limit: int) -> int:
    """PARSeq's LmdbDataset + transforms: lazy read-only env, PIL decode to RGB, bicubic
    resize to 32x128, scale to [-1, 1]."""
    from PIL import Image

    env = lmdb.open(path, readonly=True, lock=False, readahead=False, meminit=False)
    with env.begin() as txn:
        n = min(limit, int(txn.get(b"num-samples")))
        for i in range(1, n + 1):
            txn.get(b"label-%09d" % i).decode()
            img = Image.open(io.BytesIO(txn.get(b"image-%09d" % i))).convert("RGB")
            arr = np.asarray(img.resize((128, 32), Image.BICUBIC), np.float32)
            (arr / 127.5 - 1.0).transpose(2, 0, 1)
    env.close()
    return n


def datamodule_read(path: str, limit: int) -> int:
    from dataconv.train.lmdb_dataset import LmdbDataset
    from dataconv.train.preprocess import Preprocess

    dataset = LmdbDataset([path], Preprocess(32, 128, 1, True))
    n = min(limit, len(dataset))
    for i in range(n):
        dataset[i]
    return n


def read_rates(lmdb_path: str, limit: int) -> list[tuple[str, float | str]]:
    rates: list[tuple[str, float | str]] = []
    for name, fn in (("PARSeq-style reader", parseq_style_read),
                     ("dataconv.train data module", datamodule_read)):
        try:
            start = time.perf_counter()
            n = fn(lmdb_path, limit)
            rates.append((name, n / (time.perf_counter() - start)))
        except ImportError as e:
            rates.append((name, f"skipped ({e})"))
    return rates


# --- driver ---------------------------------------------------------------------------

SHIM = """import sys
for name, module in list(sys.modules.items()):
    if name.startswith("__editable__") and isinstance(getattr(module, "MAPPING", None), dict):
        module.MAPPING.update({{k: v.replace({here!r}, {there!r}, 1) for k, v in module.MAPPING.items()}})
"""


def before_env(checkout: str) -> dict[str, str]:
    """The environment that runs dataconv from ``checkout`` (another commit's files, e.g.
    ``git archive HEAD~1 | tar -x -C DIR``) instead of this editable install: a
    sitecustomize that points the install's module map there, so both versions are timed
    side by side in one run."""
    shim = tempfile.mkdtemp(prefix="dataconv-bench-shim-")
    with open(os.path.join(shim, "sitecustomize.py"), "w", encoding="utf-8") as f:
        f.write(SHIM.format(here=os.path.dirname(HERE), there=os.path.abspath(checkout)))
    return {**os.environ, "PYTHONPATH": shim}


# each dataconv row and the --workers 1 row with the same options
PAIRS = {"dataconv (defaults)": "dataconv --workers 1", "dataconv --workers 2": "dataconv --workers 1",
         "dataconv --split none": "dataconv --workers 1 --split none"}


def source_bytes(src: str) -> int:
    return sum(os.path.getsize(os.path.join(src, rel)) for rel, _ in _gt_lines(src))


def report(rows: list[dict[str, Any]], samples: int, megabytes: float) -> None:
    best = {r["method"]: min(x["seconds"] for x in rows if x["method"] == r["method"]) for r in rows}
    base, floor = best["baseline (clovaai)"], best["floor (read + write)"]
    print(f"\n{samples} samples, {megabytes:.1f} MB; samples/s: best run (worst run); CPU: user + "
          "system us a sample, least of the runs; peak RSS and PSS: summed over the process tree")
    print(f"{'method':42} {'samples/s':>18} {'MB/s':>7} {'x base':>7} {'floor/x':>8} {'CPU us':>7} "
          f"{'RSS MB':>7} {'PSS MB':>7} {'corrupt':>7}")
    for method, secs in best.items():
        runs = [x for x in rows if x["method"] == method]
        worst = max(x["seconds"] for x in runs)
        cpu = min(x["cpu_seconds"] for x in runs) / samples * 1e6
        print(f"{method:42} {samples / secs:9.0f} ({samples / worst:6.0f}) "
              f"{megabytes / secs:7.1f} {base / secs:7.2f} {secs / floor:8.2f} {cpu:7.1f} "
              f"{max(x['peak_rss_mb'] for x in runs):7.0f} {max(x['peak_pss_mb'] for x in runs):7.0f} "
              f"{runs[0]['corrupt_detected'] if runs[0]['corrupt_detected'] >= 0 else '-':>7}")


def check_costs(src: str, every: int) -> dict[str, float]:
    """CPU microseconds per sample, on every ``every``-th sample of the source (so the mix
    of JPEG crops and PNG lines is the source's): dataconv's read, its complete checks and
    hash (``check_sample`` minus the read), and clovaai's full grayscale decode."""
    from dataconv.build import shards
    from dataconv.converters.base import load
    from dataconv.sample import ReadContext, Sample
    from dataconv.validators.base import CheckOptions

    info = load("gt-txt")
    converter = info.cls(src, info.cls.Options())
    picked = [s for i, s in enumerate(converter.samples()) if i % every == 0 and isinstance(s, Sample)]
    ctx, checks = ReadContext(), shards._checks(CheckOptions())
    datas = [s.image.read(ctx) for s in picked]  # warm the page cache and the checks

    def cpu_us(fn: Callable[[], object]) -> float:
        start = time.process_time()
        fn()
        return (time.process_time() - start) / len(picked) * 1e6

    read = cpu_us(lambda: [s.image.read(ctx) for s in picked])
    whole = cpu_us(lambda: [shards.check_sample(s, checks, ctx) for s in picked])
    clovaai = cpu_us(lambda: [clovaai_valid(d) for d in datas])
    return {"samples": len(picked), "read": read, "check": max(0.0, whole - read), "clovaai_decode": clovaai}


def ceiling_row(costs: dict[str, float], floor_s: float, samples: int, cores: int) -> dict[str, Any]:
    per_sample_s = floor_s / samples + costs["check"] / 1e6
    return {"method": f"ceiling ({cores} cores, floor + check)", "seconds": per_sample_s * samples / cores,
            "cpu_seconds": per_sample_s * samples, "peak_rss_mb": 0.0, "peak_pss_mb": 0.0, "corrupt_detected": -1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", type=int, default=20000)
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--corrupt", type=int, default=8, help="broken files of each kind")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--check-samples", type=int, default=5000,
                        help="samples whose check cost is measured for the ceiling")
    parser.add_argument("--read", type=int, default=5000, help="samples read back per reader")
    parser.add_argument("--work", help="folder for the data [default: a temporary one]")
    parser.add_argument("--before", metavar="CHECKOUT",
                        help="also time dataconv's rows from this checkout of another commit")
    parser.add_argument("--one", nargs=3, metavar=("METHOD", "SRC", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(METHODS[args.one[0].removeprefix(BEFORE)](args.one[1], args.one[2])))
        return
    work = args.work or tempfile.mkdtemp(prefix="dataconv-bench-")
    src = os.path.join(work, "src")
    if not os.path.exists(os.path.join(src, "gt.txt")):
        from dataconv.fixtures.ocr_mix import make_ocr_mix

        make_ocr_mix(src, n=args.words, lines=args.lines, corrupt=args.corrupt)
    samples = len(_gt_lines(src))
    cores = len(os.sched_getaffinity(0))
    methods = [m for m in METHODS if m != "dataconv --workers 2" or cores != 2]  # = every core
    envs = {}
    if args.before:  # each row beside its twin from the other checkout: both see the same load
        env = before_env(args.before)
        envs = {BEFORE + m: env for m in methods if m in DATACONV_ROWS}
        methods = [n for m in methods for n in (m, BEFORE + m) if n in METHODS or n in envs]
    load_before = os.getloadavg()
    rows = [measure(m, src, os.path.join(work, f"out{i}"), envs.get(m))
            for _ in range(args.repeat) for i, m in enumerate(methods)]
    costs = check_costs(src, max(1, samples // args.check_samples))
    floor_s = min(r["seconds"] for r in rows if r["method"] == "floor (read + write)")
    rows.append(ceiling_row(costs, floor_s, samples, cores))
    report(rows, samples, source_bytes(src) / 2**20)
    print(f"CPU per sample on {costs['samples']} samples: read {costs['read']:.1f} us, dataconv's checks + "
          f"hash {costs['check']:.1f} us, clovaai's decode {costs['clovaai_decode']:.1f} us; floor "
          f"{floor_s / samples * 1e6:.1f} us (its whole run)")
    best = {m: min(r["seconds"] for r in rows if r["method"] == m) for m in dict.fromkeys(r["method"] for r in rows)}
    for prefix in ("", BEFORE) if args.before else ("",):
        for m, one in PAIRS.items():
            if prefix + m in best:
                print(f"{prefix}{m}: {best[prefix + one] / best[prefix + m]:.2f}x {one}")
    for m in envs:
        print(f"{m.removeprefix(BEFORE)}: {best[m] / best[m.removeprefix(BEFORE)]:.2f}x faster than before")
    print(f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    lmdb_path = os.path.join(work, f"out{methods.index('dataconv --split none')}", "train", "shard-00000")
    for name, rate in read_rates(lmdb_path, args.read):
        print(f"read {name:30} " + (f"{rate:8.0f} samples/s" if isinstance(rate, float) else rate))
    print(f"data: {work}  cores: {len(os.sched_getaffinity(0))}")


if __name__ == "__main__":
    main()
