"""``dataconv ls`` and ``dataconv show`` on dataconv outputs and on LMDB trees other tools wrote."""
from __future__ import annotations

import base64
import json
import os
import unicodedata

import lmdb

from helpers import load_json, read_lmdb, run_cli
from hostile_util import assert_one_line_error, convert, png, write_files


def write_tree(root: str, shards: dict[str, list[tuple[bytes | None, bytes | None]]]) -> str:
    """LMDBs as another tool writes them: ``{folder: [(raw label, image)]}``; None leaves
    that key out."""
    for rel, samples in shards.items():
        os.makedirs(os.path.join(root, rel), exist_ok=True)
        env = lmdb.open(os.path.join(root, rel), map_size=1 << 24)
        with env.begin(write=True) as txn:
            txn.put(b"num-samples", str(len(samples)).encode())
            for i, (label, image) in enumerate(samples, 1):
                if label is not None:
                    txn.put(b"label-%09d" % i, label)
                if image is not None:
                    txn.put(b"image-%09d" % i, image)
        env.close()
    return root


def gt_dataset(tmp_path, n: int = 12) -> str:
    lines = "".join(f"img{i}.png\tword{i}\n" for i in range(n)).encode()
    src = write_files(str(tmp_path / "src"), {"gt.txt": lines, **{f"img{i}.png": png(i) for i in range(n)}})
    out = str(tmp_path / "out")
    convert("gt-txt", src, out, "--gt", os.path.join(src, "gt.txt"), "--split", "0.5,0.25,0.25")
    return out


def test_ls_dataconv_output_matches_manifest(tmp_path):
    out = gt_dataset(tmp_path)
    card = load_json(os.path.join(out, "manifest.json"))
    listing = json.loads(run_cli("ls", out, "--json").stdout)
    assert {s: v["count"] for s, v in listing["splits"].items()} == card["counts"]["splits"]
    assert listing["count"] == 12
    assert listing["charset_size"] == len(card["charset"]) == len(set("".join(f"word{i}" for i in range(12))))
    assert listing["dataconv_output"] is True
    text = run_cli("ls", out).stdout
    assert "total          12 samples; 14 distinct label characters (from manifest.json)" in text
    assert "  train/shard-00000" in text


def test_ls_any_tree_reads_splits_and_charset_from_labels(tmp_path):
    root = write_tree(str(tmp_path / "tree"), {
        "train/real/a": [(b"ab", png(0)), (b"cd", png(1))],
        "valid/x": [("가".encode(), png(2))],
        "extra": [(b"zz", png(3)), (None, png(4)), (b"q", None)],
    })
    listing = json.loads(run_cli("ls", root, "--json").stdout)
    assert listing["splits"] == {
        "train": {"count": 2, "shards": [{"count": 2, "path": "train/real/a"}]},
        "val": {"count": 1, "shards": [{"count": 1, "path": "valid/x"}]},
        "none": {"count": 3, "shards": [{"count": 3, "path": "extra"}]},
    }
    assert listing["count"] == 6 and listing["dataconv_output"] is False
    assert listing["charset_size"] == len(set("abcd가zq"))


def test_ls_errors_are_one_line(tmp_path):
    empty = str(tmp_path / "empty")
    os.makedirs(empty)
    assert_one_line_error(run_cli("ls", empty, expect=None), "no LMDB dataset (no data.mdb) found")
    bad = write_tree(str(tmp_path / "bad"), {"train": [(b"a", png(0))]})
    env = lmdb.open(os.path.join(bad, "train"))
    with env.begin(write=True) as txn:
        txn.put(b"num-samples", b"1000000")
    env.close()
    assert_one_line_error(run_cli("ls", bad, expect=None), "'num-samples' is 1000000")


def test_show_prints_label_size_source_and_saves_exact_bytes(tmp_path):
    out = gt_dataset(tmp_path)
    record = read_lmdb(os.path.join(out, "test", "shard-00000"))[0]
    result = run_cli("show", out, "test/shard-00000:1", "--save", str(tmp_path / "imgs"), "--no-inline")
    lines = result.stdout.splitlines()
    assert lines[0] == "test/shard-00000:1  (split test)"
    assert lines[1] == f"  label: {record[0]!r} ({len(record[0])} characters)"
    assert lines[2] == f"  image: 64x24 PNG, {len(record[1]):,} bytes"
    number = int(record[0][4:])
    assert lines[3] == f"  source_id: img{number}.png, source: gt.txt:{number + 1}"
    assert not any("warning" in line for line in lines)
    saved = tmp_path / "imgs" / "test_shard-00000_1.png"
    assert lines[4] == f"  saved: {saved}"
    assert saved.read_bytes() == record[1]
    # the same sample by its id and by its source line
    assert run_cli("show", out, f"img{number}.png").stdout.splitlines()[:4] == lines[:4]
    assert run_cli("show", out, f"gt.txt:{number + 1}").stdout.splitlines()[:4] == lines[:4]


def test_show_warns_as_a_conversion_would_reject(tmp_path):
    nfd = unicodedata.normalize("NFD", "café").encode()
    root = write_tree(str(tmp_path / "tree"), {"test": [
        (b"\xff\xfeab", png(0)), (b"ok", None), (None, png(1)), (b" ", png(2)[:40]), (nfd, png(3)),
    ]})
    text = run_cli("show", root, *(f"test:{i}" for i in range(1, 6))).stdout
    blocks = text.split("test:")[1:]
    assert "warning: undecodable_label: not UTF-8 (invalid start byte at byte 0)" in blocks[0]
    assert "warning: missing_image: no image- key" in blocks[1]
    assert "warning: missing_label: no label- key" in blocks[2]
    assert "warning: empty_label" in blocks[3] and "warning: undecodable_image" in blocks[3]
    assert "warning: not NFC" in blocks[4]
    assert [b.count("warning") for b in blocks] == [1, 1, 1, 2, 1]


def test_show_inline_draws_the_image_bytes(tmp_path):
    root = write_tree(str(tmp_path / "tree"), {"train": [(b"hi", png(5))]})
    text = run_cli("show", root, "train:1", "--inline").stdout
    assert f"\033]1337;File=inline=1;size={len(png(5))};preserveAspectRatio=1:" \
           f"{base64.b64encode(png(5)).decode()}\a" in text


def test_show_unknown_keys_are_one_line_errors(tmp_path):
    root = write_tree(str(tmp_path / "tree"), {"train": [(b"hi", png(5))]})
    assert_one_line_error(run_cli("show", root, "train:2", expect=None), "train:2: train holds samples 1..1")
    assert_one_line_error(run_cli("show", root, "train:x1", expect=None), "train:x1: train holds samples 1..1")
    assert_one_line_error(run_cli("show", root, "nothing", expect=None), "nothing: no such sample")
    inside = run_cli("show", root, "train:1", "--save", os.path.join(root, "imgs"), expect=2)
    assert "lies inside the source" in inside.stderr and not os.path.exists(os.path.join(root, "imgs"))
    on_file = run_cli("show", root, "train:1", "--save", os.path.join(root, "train", "data.mdb"), expect=2)
    assert "is a file" in on_file.stderr
