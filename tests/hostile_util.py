"""Helpers shared by the tests/test_hostile_*.py battery: build small gt-txt and AI Hub
sources from bytes, run the CLI, and assert the two allowed endings of bad input: a
one-line error (exit 1, no traceback) or per-sample rejects whose counts reconcile."""
from __future__ import annotations

import json
import os
import random
from typing import Any

from click.testing import Result

from helpers import assert_accounted, rejects_of, run_cli, with_defaults
from dataconv.fixtures.base import encode, ink_image


def png(seed: int = 0, width: int = 64, height: int = 24) -> bytes:
    return encode(ink_image(width, height, random.Random(seed)), "PNG")


def write_files(root: str, files: dict[str, bytes]) -> str:
    """Write ``{relative path: bytes}`` under ``root``; return ``root``."""
    os.makedirs(root, exist_ok=True)
    for rel, data in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    return root


def gt_source(root: str, gt: bytes, images: dict[str, bytes] | None = None) -> str:
    """A gt-txt folder: ``gt.txt`` holding ``gt`` and the given images."""
    return write_files(root, {"gt.txt": gt, **(images or {})})


def long_source(root: str, n: int) -> str:
    """A gt-txt folder of ``n`` copies of one small PNG (``img/00000.png``...), labelled
    with their numbers: a run long enough for a signal or a second run to land in it."""
    data = png(0, width=32, height=16)
    images = {f"img/{i:05d}.png": data for i in range(n)}
    return gt_source(root, "".join(f"{k}\t{k[4:9]}\n" for k in images).encode(), images)


def aihub_document(pairs: list[tuple[Any, Any, str]], files: dict[Any, str] | None = None) -> dict:
    """``[(annotation id, image_id, text)]`` and ``{image id: file name}`` to AI Hub JSON."""
    files = files if files is not None else {image_id: f"{image_id}.png" for _, image_id, _ in pairs}
    return {"images": [{"id": i, "file_name": name} for i, name in files.items()],
            "annotations": [{"id": a, "image_id": i, "text": t, "attributes": {"type": "단어(어절)"}}
                            for a, i, t in pairs]}


def aihub_source(root: str, document: Any, images: dict[str, bytes] | None = None,
                 raw: bytes | None = None) -> str:
    """An AI Hub folder: ``handwriting_data_info1.json`` (``document`` or ``raw`` bytes)."""
    data = raw if raw is not None else json.dumps(document, ensure_ascii=False).encode("utf-8")
    return write_files(root, {"handwriting_data_info1.json": data, **(images or {})})


def convert(fmt: str, src: str, out: str, *args: str, expect: int | None = 0) -> Result:
    return run_cli(fmt, "-i", src, "-o", out, *with_defaults(args), expect=expect)


def assert_one_line_error(result: Result, *fragments: str, code: int = 1) -> str:
    """Exit ``code``, one ``error:`` line on stderr holding every fragment, no traceback."""
    assert result.exit_code == code, (result.exit_code, result.output)
    err = result.stderr.strip()
    assert "Traceback" not in result.output and "Traceback" not in err
    assert err.startswith("error:") and "\n" not in err, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err


def reasons(out: str) -> dict[str, str]:
    """``{id: reason}`` of every reject (ids are unique in these fixtures)."""
    return {r["id"]: r["reason"] for r in rejects_of(out)}


def written_labels(out: str) -> list[str]:
    from helpers import clovaai_tree

    return [label for shard in clovaai_tree(out).values() for label, _ in shard]


def accounted(out: str) -> dict:
    return assert_accounted(out)
