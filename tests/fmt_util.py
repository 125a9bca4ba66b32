"""Helpers of the source-format tests: run one conversion, read what it wrote."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pandas as pd

from helpers import assert_accounted, clovaai_tree, run_cli, with_defaults
from dataconv.fixtures.base import fixtures


def make_fixture(name: str, dest, **kw) -> dict:
    return fixtures()[name][0](str(dest), **kw)


def convert(fmt: str, src, out, *args, expect_written: bool = True) -> dict:
    """Run ``dataconv FMT -i SRC -o OUT ARGS`` (everything to train, one worker, unless ARGS
    say otherwise: an option given twice is a usage error) and check the accounting."""
    run_cli(fmt, "-i", src, "-o", out, *with_defaults(args))
    card = assert_accounted(str(out))
    assert card["counts"]["written"] > 0 or not expect_written
    return card


def written(out) -> list[tuple[str, str, bytes]]:
    """(source id, label, image bytes) of every written sample, read back from the LMDBs."""
    table = pd.read_parquet(os.path.join(out, "samples.parquet"))
    shards = clovaai_tree(str(out))
    return [(row.source_id, *shards[row.shard][row.index - 1]) for row in table.itertuples()]


def labels(out) -> dict[str, str]:
    return {sid: label for sid, label, _ in written(out)}


def reasons(card: dict) -> dict[str, int]:
    return card["rejects"]


def decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None and image.size > 0
    return image
