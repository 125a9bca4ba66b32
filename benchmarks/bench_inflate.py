"""PNG inflate candidates on the benchmark's own PNG lines: zlib, ISA-L (``isal``) and
libdeflate (``deflate``), each inflating the concatenated IDAT data of every line to the
size its header declares.

    .venv/bin/python benchmarks/bench_inflate.py --lines 200 --repeat 5

Prints microseconds per image (best of ``--repeat`` passes) for each library found, and
the full OpenCV grayscale decode for scale.
"""
from __future__ import annotations

import argparse
import random
import struct
import time
import zlib
from typing import Callable

import cv2
import numpy as np

from dataconv.fixtures.ocr_mix import text_line
from dataconv.validators import _fastdecode


def idat_and_size(data: bytes) -> tuple[bytes, int]:
    """The PNG's concatenated IDAT data and the inflated size its header declares."""
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    stride = (width * _fastdecode.PNG_CHANNELS[colour] * depth + 7) // 8 + 1
    idat = b"".join(bytes(body) for kind, body in _fastdecode._png_chunks(data) if kind == b"IDAT")
    return idat, stride * height


def candidates() -> dict[str, Callable[[bytes, int], bytes]]:
    found: dict[str, Callable[[bytes, int], bytes]] = {
        "zlib (decompressobj, bounded)": lambda d, n: zlib.decompressobj().decompress(d, n + 1),
        "zlib (one-shot)": lambda d, n: zlib.decompress(d, bufsize=n + 1),
    }
    try:
        from isal import isal_zlib
        found["isal (decompressobj, bounded)"] = lambda d, n: isal_zlib.decompressobj().decompress(d, n + 1)
        found["isal (one-shot)"] = lambda d, n: isal_zlib.decompress(d, bufsize=n + 1)
    except ImportError:
        pass
    try:
        import deflate
        found["libdeflate (one-shot, bounded)"] = lambda d, n: deflate.zlib_decompress(d, n + 1)
    except ImportError:
        pass
    return found


def each(fn: Callable[..., object], items: list) -> Callable[[], None]:
    """Calls ``fn`` on every item, keeping no result: a list of results would make every
    call fault in fresh pages, which the check, freeing each buffer, does not pay."""
    def run() -> None:
        for item in items:
            fn(*item)
    return run


def best_us(fn: Callable[[], object], count: int, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(0)
    pngs = [text_line(rng) for _ in range(args.lines)]
    streams = [idat_and_size(p) for p in pngs]
    print(f"{len(pngs)} PNG lines, {sum(map(len, pngs)) / len(pngs) / 1024:.0f} KB compressed, "
          f"{sum(n for _, n in streams) / len(streams) / 1024:.0f} KB inflated on average")
    for name, inflate in candidates().items():
        assert all(len(inflate(d, n)) == n for d, n in streams), name
        us = best_us(each(inflate, streams), len(streams), args.repeat)
        print(f"{name:34s} {us:8.0f} us/image")
    one_shot = _fastdecode._libdeflate
    for label, lib in (("libdeflate", one_shot), ("zlib, streamed", None)):
        if label == "libdeflate" and lib is None:
            continue
        _fastdecode._libdeflate = lib
        us = best_us(each(_fastdecode.verify, [(p,) for p in pngs]), len(pngs), args.repeat)
        print(f"{'whole PNG check, ' + label:34s} {us:8.0f} us/image")
    _fastdecode._libdeflate = one_shot
    full = [(np.frombuffer(p, np.uint8), cv2.IMREAD_GRAYSCALE) for p in pngs]
    us = best_us(each(cv2.imdecode, full), len(pngs), args.repeat)
    print(f"{'cv2.imdecode grayscale (clovaai)':34s} {us:8.0f} us/image")


if __name__ == "__main__":
    main()
