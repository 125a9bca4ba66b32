"""Shards, map growth, splits and determinism, on real LMDB files."""
from __future__ import annotations

import os

import lmdb
import pytest

from helpers import assert_accounted, clovaai_tree, load_json, read_lmdb, run_cli
from dataconv.outputs import mapsize
from dataconv.outputs import lmdb_writer as writer
from dataconv.fixtures.aihub import make_aihub
from dataconv.build import splits as splitter


def test_shard_writer_keys_in_order_from_one(tmp_path):
    path = str(tmp_path / "shard")
    samples = [(f"label {i} 한글", os.urandom(100 + i)) for i in range(2500)]
    with writer.ShardWriter(path) as w:
        indices = [w.add(label, data) for label, data in samples]
    assert indices == list(range(1, 2501))
    assert read_lmdb(path) == samples


def test_map_grows_from_a_small_map(tmp_path):
    path = str(tmp_path / "shard")
    samples = [(str(i), os.urandom(64 * 1024)) for i in range(300)]  # ~19 MiB into a 1 MiB map
    w = writer.ShardWriter(path, map_size=1024 * 1024)
    for label, data in samples:
        w.add(label, data)
    digest = w.close()
    assert w.map_size > 1024 * 1024
    assert read_lmdb(path) == samples
    assert digest == writer.content_digest(path)  # hashed while writing == read back


def test_rotation_by_bytes(tmp_path):
    rot = writer.RotatingWriter(str(tmp_path), "t", max_bytes=10_000)
    placed = [rot.add("x", b"\0" * 3000) for _ in range(10)]
    shards = rot.close()
    assert [count for _, count, _ in shards] == [3, 3, 3, 1]
    assert placed[3] == ("t-001", 1)


def test_shard_size_and_byte_cap_on_the_cli(tmp_path):
    src = str(tmp_path / "src")
    make_aihub(src, n=60, faults=False)
    out = str(tmp_path / "out")
    run_cli("aihub", "-i", src, "-o", out, "-q", "--split", "none", "--shard-size", "25")
    card = assert_accounted(out)
    assert [(s["path"], s["count"]) for s in card["shards"]] == [
        ("train/shard-00000", 25), ("train/shard-00001", 25), ("train/shard-00002", 10)]
    assert [s["sha256"] for s in card["shards"]] == [
        writer.content_digest(os.path.join(out, s["path"])) for s in card["shards"]]
    out2 = str(tmp_path / "out2")
    run_cli("aihub", "-i", src, "-o", out2, "-q", "--split", "none", "--shard-bytes", "20KB")
    card2 = assert_accounted(out2)
    assert len(card2["shards"]) > 3
    assert all(sum(len(d) for _, d in shard) <= 20 * 1024 or len(shard) == 1
               for shard in clovaai_tree(out2).values())


def test_parseq_layout(tmp_path):
    src = str(tmp_path / "src")
    make_aihub(src, n=40, faults=False)
    out = str(tmp_path / "out")
    run_cli("aihub", "-i", src, "-o", out, "-q", "--layout", "parseq")
    assert os.path.exists(os.path.join(out, "train", "real", "shard-00000", "data.mdb"))
    assert os.path.exists(os.path.join(out, "val", "shard-00000", "data.mdb"))
    assert_accounted(out)


def _files(out: str) -> dict[str, bytes]:
    names = ["manifest.json", "rejects.jsonl", "samples.parquet", "charset.txt"]
    return {n: open(os.path.join(out, n), "rb").read() for n in names}


def test_same_input_same_output(tmp_path):
    src = str(tmp_path / "src")
    make_aihub(src, n=50)
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    run_cli("aihub", "-i", src, "-o", a, "-q", "--workers", "1")
    run_cli("aihub", "-i", src, "-o", b, "-q", "--workers", "2")
    assert _files(a) == _files(b)
    assert clovaai_tree(a) == clovaai_tree(b)


def test_adding_samples_never_moves_existing_ones(tmp_path):
    small, big = str(tmp_path / "small"), str(tmp_path / "big")
    make_aihub(small, n=80, faults=False, seed=1)
    make_aihub(big, n=160, faults=False, seed=1)
    out_small, out_big = str(tmp_path / "o1"), str(tmp_path / "o2")
    run_cli("aihub", "-i", small, "-o", out_small, "-q")
    run_cli("aihub", "-i", big, "-o", out_big, "-q")
    import pandas as pd
    a = pd.read_parquet(os.path.join(out_small, "samples.parquet")).set_index("source_id")["split"]
    b = pd.read_parquet(os.path.join(out_big, "samples.parquet")).set_index("source_id")["split"]
    assert (b.loc[a.index] == a).all()


def test_seed_changes_the_split_and_none_keeps_all_in_train(tmp_path):
    src = str(tmp_path / "src")
    make_aihub(src, n=60, faults=False)
    out0, out1, outn = (str(tmp_path / n) for n in ("s0", "s1", "none"))
    run_cli("aihub", "-i", src, "-o", out0, "-q", "--seed", "0")
    run_cli("aihub", "-i", src, "-o", out1, "-q", "--seed", "1")
    run_cli("aihub", "-i", src, "-o", outn, "-q", "--split", "none")
    assert load_json(out0 + "/manifest.json")["shards"] != load_json(out1 + "/manifest.json")["shards"]
    assert load_json(outn + "/manifest.json")["counts"]["splits"] == {"train": 60}
    assert sorted(os.listdir(outn)) == ["charset.txt", "manifest.json", "rejects.jsonl",
                                        "samples.parquet", "train"]


def test_split_ratios_hold():
    ratios = (0.9, 0.05, 0.05)
    got = [splitter.assign(f"id-{i}", ratios, 0) for i in range(10_000)]
    assert abs(got.count("train") / 10_000 - 0.9) < 0.01
    assert abs(got.count("val") / 10_000 - 0.05) < 0.01


@pytest.mark.parametrize("text", ["0.9,0.1", "a,b,c", "0.5,0.5,0.5", "-1,1,1"])
def test_bad_split_option_exits_1(tmp_path, text):
    src = str(tmp_path / "src")
    make_aihub(src, n=3, faults=False)
    result = run_cli("aihub", "-i", src, "-o", str(tmp_path / "out"), "--split", text, expect=1)
    assert "--split" in result.stderr


def test_normalize_nfc_composes_hangul(tmp_path):
    import unicodedata
    src = str(tmp_path / "src")
    make_aihub(src, n=6, faults=False)
    path = os.path.join(src, "handwriting_data_info1.json")
    doc = load_json(path)
    doc["annotations"][0]["text"] = unicodedata.normalize("NFD", "한글")
    import json
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    for form, expected in (("nfc", "한글"), ("none", unicodedata.normalize("NFD", "한글"))):
        out = str(tmp_path / form)
        run_cli("aihub", "-i", src, "-o", out, "-q", "--split", "none", "--normalize", form)
        labels = {label for label, _ in clovaai_tree(out)["train/shard-00000"]}
        assert expected in labels


def test_lmdb_open_by_trainers_needs_no_lock(tmp_path):
    src = str(tmp_path / "src")
    make_aihub(src, n=5, faults=False)
    out = str(tmp_path / "out")
    run_cli("aihub", "-i", src, "-o", out, "-q", "--split", "none")
    env = lmdb.open(out + "/train/shard-00000", readonly=True, lock=False, readahead=False, meminit=False)
    with env.begin(write=False) as txn:
        assert int(txn.get("num-samples".encode())) == 5


@pytest.mark.parametrize("kind,values", [
    ("int", [3, None, 0, -1, 2**40]), ("int", []), ("int", [None, None]),
    ("str", ["a", None, "", "한글 이름", "x" * 300]), ("str", []), ("str", [None])])
def test_arrow_columns_equal_pyarrows_own(kind, values):
    import pyarrow as pa

    from dataconv.outputs.samples_table import arrow_array

    arrow_type = pa.int64() if kind == "int" else pa.large_string()
    built = arrow_array(values, arrow_type)
    built.validate(full=True)
    assert built.equals(pa.array(values, type=arrow_type))
