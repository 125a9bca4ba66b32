"""Peak memory against dataset size: does a conversion grow beyond its sample index?

    .venv/bin/python benchmarks/bench_memory.py --sizes 20000 200000

For each size, a clovaai gt.txt source of JPEG word crops (``--distinct`` real files, the
other paths hard links to them: 200,000 samples take little disk), then, each in its own
process, the peak RSS and PSS summed over the process tree (sampled as in bench_convert.py):

* index only   parse the annotations into dataconv's sample index (``collect.collect``)
               and stop: the part of memory that must grow with the dataset;
* dataconv     ``dataconv gt-txt --split none`` with --workers 1 and with every core.

The growth per added sample of each conversion is then set against the index's own: equal
figures mean that nothing but the sample index grows (images, rows, rejects are streamed).

``--aihub-mb 400`` also writes a synthetic AI Hub label file of about 400 MB (the real
files' fields; no image files, so every annotation ends as a ``missing_image`` reject) and
compares the peak RSS of dataconv's streamed parse (``converters/aihub.py``, every sample
produced and counted, none kept) with ``json.load`` of the same file (a whole read).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_convert import DATACONV, PeakRss  # noqa: E402  (a sibling script, not a package)


def index_only(src: str) -> None:
    """Runs in the child: build the sample index the way a conversion does, then exit."""
    from dataconv.converters.base import formats
    from dataconv.build.collect import collect

    cls = formats()["gt-txt"].cls
    converter = cls(src, cls.Options())
    collected = collect(converter.samples(), progress=False)
    print(len(collected.samples))


ANNOTATION = ('{"id": "%d", "image_id": "%d", "text": "%s", "attributes": {"type": '
              '"\\ub2e8\\uc5b4(\\uc5b4\\uc808)", "gender": "\\uc5ec", "age": "23", "job": '
              '"\\ud559\\uc0dd"}}')
IMAGE = '{"id": "%d", "width": 512, "height": 96, "file_name": "%08d.png", "license": "AI Hub"}'


def write_aihub_label_file(folder: str, megabytes: int) -> int:
    """``handwriting_data_info1.json`` of about ``megabytes`` MB under ``folder``, written
    element by element; returns the number of annotations (one per image)."""
    from dataconv.fixtures.base import HANGUL_WORDS

    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "handwriting_data_info1.json")
    pair = len(IMAGE % (0, 0)) + len(ANNOTATION % (0, 0, HANGUL_WORDS[0])) + 16
    count = megabytes * 2**20 // pair
    with open(path, "w", encoding="utf-8") as f:
        f.write('{"info": {"name": "synthetic"}, "images": [\n')
        for i in range(count):
            f.write(("" if i == 0 else ",\n") + IMAGE % (i, i))
        f.write('\n], "annotations": [\n')
        for i in range(count):
            text = HANGUL_WORDS[i % len(HANGUL_WORDS)]
            f.write(("" if i == 0 else ",\n") + ANNOTATION % (i, i, text))
        f.write("\n]}\n")
    return count


def aihub_parse(src: str) -> None:
    """Runs in the child: every sample or reject of the streamed parse, counted, not kept."""
    from dataconv.converters.base import formats

    converter = formats()["aihub"].cls(src, {"type": "htr", "labels": None, "kinds": (),
                                             "encoding": "utf-8"})
    print(sum(1 for _ in converter.samples()))


def json_load(path: str) -> None:
    import json

    with open(path, encoding="utf-8") as f:
        print(len(json.load(f)["annotations"]))


def aihub_rows(work: str, megabytes: int) -> None:
    src = os.path.join(work, f"aihub-{megabytes}mb")
    label = os.path.join(src, "handwriting_data_info1.json")
    count = write_aihub_label_file(src, megabytes) if not os.path.exists(label) else None
    size = os.path.getsize(label) / 2**20
    print(f"\nAI Hub label file, {size:.0f} MB" + (f", {count:,} annotations" if count else "")
          + "; peak RSS / PSS, MB")
    for label_text, flag, arg in (("dataconv streamed parse", "--aihub-parse", src),
                                  ("json.load (whole read)", "--json-load", label)):
        rss, pss = peak_of([sys.executable, __file__, flag, arg])
        print(f"{label_text:28}{rss:8.0f} / {pss:.0f}")


def peak_of(command: list[str]) -> tuple[float, float]:
    """Peak RSS and PSS (MB) of ``command``'s process tree."""
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    sampler = PeakRss(child.pid, every=0.02)
    if child.wait():
        raise SystemExit(f"{' '.join(command)} failed ({child.returncode})")
    rss, pss = sampler.stop()
    return rss / 2**20, pss / 2**20


def measure(src: str, out: str) -> dict[str, tuple[float, float]]:
    runs = {"index only": [sys.executable, __file__, "--index-only", src]}
    for label, workers in (("dataconv --workers 1", "1"), ("dataconv (every core)", "0")):
        runs[label] = [DATACONV, "gt-txt", "-i", src, "-o", out, "-q", "--split", "none",
                       *(["--workers", workers] if workers != "0" else [])]
    peaks = {}
    for label, command in runs.items():
        shutil.rmtree(out, ignore_errors=True)
        peaks[label] = peak_of(command)
    return peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20000, 200000])
    parser.add_argument("--distinct", type=int, default=300, help="real image files per source")
    parser.add_argument("--work", help="folder for the data [default: a temporary one]")
    parser.add_argument("--aihub-mb", type=int, help="also measure an AI Hub label file this big")
    parser.add_argument("--index-only", metavar="SRC", help=argparse.SUPPRESS)
    parser.add_argument("--aihub-parse", metavar="SRC", help=argparse.SUPPRESS)
    parser.add_argument("--json-load", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    for child, run in ((args.index_only, index_only), (args.aihub_parse, aihub_parse),
                       (args.json_load, json_load)):
        if child:
            run(child)
            return
    from dataconv.fixtures.ocr_mix import make_ocr_mix

    work = args.work or tempfile.mkdtemp(prefix="dataconv-membench-")
    table: dict[int, dict[str, tuple[float, float]]] = {}
    for size in args.sizes:
        src = os.path.join(work, f"src-{size}")
        if not os.path.exists(os.path.join(src, "gt.txt")):
            make_ocr_mix(src, n=size, lines=0, corrupt=0, distinct=args.distinct)
        table[size] = measure(src, os.path.join(work, "out"))
    small, big = min(table), max(table)
    print(f"\npeak of the process tree, MB, RSS / PSS (PSS shares pages between processes);"
          f"\ngrowth per added sample from {small:,} to {big:,}, KB (RSS / PSS)")
    print(f"{'':24}" + "".join(f"{size:>14,}" for size in table) + f"{'KB/sample':>14}")
    for label in table[small]:
        cells = "".join(f"{'%.0f / %.0f' % table[s][label]:>14}" for s in table)
        growth = [(table[big][label][k] - table[small][label][k]) * 1024 / max(big - small, 1)
                  for k in (0, 1)]
        print(f"{label:24}{cells}{'%.2f / %.2f' % tuple(growth):>14}")
    if args.aihub_mb:
        aihub_rows(work, args.aihub_mb)
    print(f"data: {work}  cores: {len(os.sched_getaffinity(0))}")


if __name__ == "__main__":
    main()
