"""Shared test helpers: run the real CLI, read LMDB trees back the way trainers do.

A plain module (``from helpers import ...``); tests/conftest.py holds only fixtures and hooks."""
from __future__ import annotations

import contextlib
import glob
import json
import os
from pathlib import Path
from typing import Any, Iterator

import lmdb
from click.testing import CliRunner, Result

REPO = str(Path(__file__).resolve().parents[1])  # the repository root
REALDATA = Path(REPO).parent / "shared" / "realdata"


def run_cli(*args: str, expect: int | None = 0) -> Result:
    """Invoke ``dataconv`` in-process; assert the exit code unless ``expect`` is None."""
    from dataconv.cli.main import cli

    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    if expect is not None:
        assert result.exit_code == expect, (result.exit_code, result.output, result.stderr)
    return result


def clovaai_tree(root: str) -> dict[str, list[tuple[str, bytes]]]:
    """Read a tree as clovaai does: walk to leaf folders, each one LMDB; keys 1..num-samples."""
    found = {}
    for dirpath, dirnames, _ in os.walk(root + "/"):
        if not dirnames and os.path.exists(os.path.join(dirpath, "data.mdb")):
            found[os.path.relpath(dirpath, root)] = read_lmdb(dirpath)
    return found


def parseq_tree(root: str) -> dict[str, list[tuple[str, bytes]]]:
    """Read a tree as PARSeq does: every folder holding a data.mdb, found by glob."""
    paths = glob.glob(os.path.join(root, "**", "data.mdb"), recursive=True)
    return {os.path.relpath(os.path.dirname(p), root): read_lmdb(os.path.dirname(p)) for p in paths}


def read_lmdb(path: str) -> list[tuple[str, bytes]]:
    env = lmdb.open(path, readonly=True, lock=False, readahead=False)
    with env.begin() as txn:
        n = int(txn.get(b"num-samples").decode("ascii"))
        samples = [(txn.get(b"label-%09d" % i).decode("utf-8"), txn.get(b"image-%09d" % i))
                   for i in range(1, n + 1)]
        # no stray keys: exactly num-samples, 2 per sample, and dataconv- extras only
        keys = [k for k, _ in txn.cursor()]
    env.close()
    extra = [k for k in keys if not (k == b"num-samples" or k.startswith((b"image-", b"label-", b"dataconv-")))]
    assert not extra, extra
    assert len([k for k in keys if k.startswith((b"image-", b"label-"))]) == 2 * n
    return samples


def write_lmdb(path: str, samples: list[tuple[str | bytes, bytes]]) -> str:
    """One LMDB in the clovaai layout (``num-samples``, ``label-%09d``, ``image-%09d``); a
    label given as bytes is stored as they are (not UTF-8, as another tool may)."""
    env = lmdb.open(path, map_size=1 << 26)
    with env.begin(write=True) as txn:
        txn.put(b"num-samples", str(len(samples)).encode())
        for i, (label, image) in enumerate(samples, 1):
            txn.put(b"label-%09d" % i, label if isinstance(label, bytes) else label.encode("utf-8"))
            txn.put(b"image-%09d" % i, image)
    env.close()
    return path


def load_json(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def rejects_of(out: str) -> list[dict]:
    with open(os.path.join(out, "rejects.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def with_defaults(args: tuple[str, ...]) -> list[str]:
    """A conversion's arguments for tests: everything to train on one worker, quiet, unless
    ``args`` say otherwise (an option given twice is a usage error)."""
    defaults = [a for flag, value in (("--workers", "1"), ("--split", "none")) if flag not in args
                for a in (flag, value)]
    return ["-q", *defaults, *args]


def assert_accounted(out: str) -> dict:
    """counts.input == written + rejected, rejects.jsonl agrees, shards (or, for a detection
    dataset, samples.parquet's pages) hold 'written'."""
    card = load_json(os.path.join(out, "manifest.json"))
    counts = card["counts"]
    assert counts["input"] == counts["written"] + counts["rejected"]
    rows = [r for r in rejects_of(out) if r.get("level", "sample") == "sample"]
    assert len(rows) == counts["rejected"] == sum(card["rejects"].values())
    if card.get("task") == "det":
        import pandas as pd

        assert len(pd.read_parquet(os.path.join(out, "samples.parquet"))) == counts["written"]
    else:
        assert sum(len(v) for v in clovaai_tree(out).values()) == counts["written"]
    assert sum(counts["splits"].values()) == counts["written"]
    return card


@contextlib.contextmanager
def torch_threads(count: int = 2) -> Iterator[None]:
    """Training in a test uses at most ``count`` of torch's threads (CI has 2 cores), its
    share of the cores when pytest-xdist runs several test processes (two trainings of 2
    threads each on 2 cores spin against each other: 5-10x slower), and leaves torch's
    setting as it found it."""
    import torch

    threads = torch.get_num_threads()
    processes = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    torch.set_num_threads(max(1, min(count, (os.cpu_count() or 1) // processes)))
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def save_checkpoint(model, path: str) -> dict:
    """``model`` saved as a training checkpoint, with no training: the keys dataconv reads,
    completed by the model's ``on_save_checkpoint`` hook as Lightning does when it saves."""
    import torch

    checkpoint = {"hyper_parameters": dict(model.hparams),
                  "state_dict": {k: v.clone() for k, v in model.state_dict().items()}}
    model.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, path)
    return checkpoint


AS_CAP = 6 << 30  # address space of a measured run: an unbounded allocation fails, not the machine
_PARENT = f"""
import resource, subprocess, sys
resource.setrlimit(resource.RLIMIT_AS, ({AS_CAP}, {AS_CAP}))
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
sys.stderr.buffer.write(rc.stderr)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, rc.returncode)
"""


def peak_rss(*args: object) -> tuple[int, int, str]:
    """(peak RSS in MB, exit code, stderr) of ``dataconv ARGS`` in a fresh process."""
    import subprocess
    import sys

    cmd = [sys.executable, "-c", _PARENT, sys.executable, "-m", "dataconv", *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    rss_mb, code = (int(v) for v in done.stdout.split())
    return rss_mb, code, done.stderr


def array_png(img: Any, orientation: int | None = None) -> bytes:
    """The pixels of ``img`` (a numpy array) as a PNG, with an EXIF orientation if given."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    Image.fromarray(img).save(buf, "PNG", exif=exif)
    return buf.getvalue()


def pixels(data: bytes) -> Any:
    """An encoded image's pixels as an RGB numpy array."""
    import io

    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def memory_root(files: dict[str, bytes]) -> str:
    """A fresh ``memory://`` prefix (fsspec's in-process store) holding ``files``."""
    import uuid

    import fsspec

    url = f"memory://mutants-{uuid.uuid4().hex}/src"
    fs = fsspec.filesystem("memory")
    for rel, data in files.items():
        fs.pipe(f"{url[len('memory://'):]}/{rel}", data)
    return url

