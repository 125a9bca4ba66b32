"""Object storage against local disk: the per-sample cost of reading a source from, and
writing the dataset to, an S3-compatible server, in one run.

    .venv/bin/python benchmarks/bench_s3.py --samples 2000 --workers 2

Generates ``--samples`` PNG word crops in clovaai's gt.txt layout, starts moto's
standalone server on 127.0.0.1 (tests/s3_util.py: its own process, as in the tests),
uploads the source as a prefix, then times each conversion as its own ``dataconv``
process: local folder -> local folder, s3:// prefix -> local folder (the reads alone),
local folder -> s3:// prefix (the writes alone: every work item stages what it writes,
the commit moves it into place, manifest last) and s3:// prefix -> s3:// prefix (every
image one ranged GET, then the writes), and s3:// prefix -> local folder again with one
GET at a time per worker (``DATACONV_FETCH_AHEAD=1``: the baseline of the read-ahead).
``--latency-ms`` puts a proxy in front of the server that holds each request back that
long (benchmarks/latency_proxy.py), as a real bucket's round trip would. Prints the timings,
the per-sample figures and the ratio. A local server has no network latency: the ratio
is dataconv's and the S3 protocol's overhead, a floor for a real bucket.
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from s3_util import S3Server, upload_folder  # noqa: E402

DATACONV = os.path.join(os.path.dirname(sys.executable), "dataconv")


def make_source(root: str, count: int) -> str:
    """``count`` word crops and their gt.txt under ``root``."""
    from dataconv.fixtures.base import encode, ink_image

    os.makedirs(os.path.join(root, "img"), exist_ok=True)
    rng = random.Random(0)
    with open(os.path.join(root, "gt.txt"), "w", encoding="utf-8") as gt:
        for i in range(count):
            with open(os.path.join(root, "img", f"{i}.png"), "wb") as f:
                f.write(encode(ink_image(rng.randint(60, 200), rng.randint(24, 48), rng), "PNG"))
            gt.write(f"img/{i}.png\tword{i}\n")
    return root


def timed(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([DATACONV, *args, "-q"], check=True, env=env, stdout=subprocess.DEVNULL, stderr=sys.stderr)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="hold each request back this long (a real bucket's round trip)")
    a = parser.parse_args()
    server = S3Server()
    try:
        client = server.client()
        client.create_bucket(Bucket="bench")
        with tempfile.TemporaryDirectory() as tmp:
            src = make_source(os.path.join(tmp, "src"), a.samples)
            upload_folder(client, "bench", "src", src)
            options = server.options()
            if a.latency_ms:
                from latency_proxy import LatencyProxy

                proxy = LatencyProxy(server.port, a.latency_ms / 1000)
                options = server.options(endpoint_url=proxy.endpoint)
            env = {**os.environ, "DATACONV_STORAGE_OPTIONS": options}
            common = ["--workers", str(a.workers)]
            local = timed(["gt-txt", "-i", src, "-o", os.path.join(tmp, "out"), *common], env)
            one_at_a_time = timed(["gt-txt", "-i", "s3://bench/src", "-o", os.path.join(tmp, "out3"), *common],
                                  {**env, "DATACONV_FETCH_AHEAD": "1"})
            reading = timed(["gt-txt", "-i", "s3://bench/src", "-o", os.path.join(tmp, "out2"), *common], env)
            writing = timed(["gt-txt", "-i", src, "-o", "s3://bench/out1", *common], env)
            remote = timed(["gt-txt", "-i", "s3://bench/src", "-o", "s3://bench/out", *common], env)
    finally:
        server.stop()
    n = a.samples
    print(f"{n} samples, --workers {a.workers}, moto server on 127.0.0.1, {a.latency_ms:g} ms added per request")
    print(f"local -> local  {local:7.2f} s  {local / n * 1e3:6.3f} ms/sample")
    print(f"s3    -> local  {one_at_a_time:7.2f} s  {one_at_a_time / n * 1e3:6.3f} ms/sample  one GET at a time")
    print(f"s3    -> local  {reading:7.2f} s  {reading / n * 1e3:6.3f} ms/sample  "
          f"read ahead: {one_at_a_time / reading:.2f}x")
    print(f"local -> s3     {writing:7.2f} s  {writing / n * 1e3:6.3f} ms/sample")
    print(f"s3    -> s3     {remote:7.2f} s  {remote / n * 1e3:6.3f} ms/sample")
    print(f"overhead        {(remote - local) / n * 1e3:6.3f} ms/sample; ratio {remote / local:.2f}x")


if __name__ == "__main__":
    main()
