"""dataconv aihub end to end: every label and image byte read back as trainers read them."""
from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from helpers import (assert_accounted, clovaai_tree, load_json, parseq_tree, rejects_of,
                      run_cli)
from dataconv.fixtures.aihub import FAULTS, make_aihub


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    src = str(tmp_path_factory.mktemp("aihub") / "src")
    truth = make_aihub(src, n=90, seed=3)
    out = str(tmp_path_factory.mktemp("aihub") / "out")
    result = run_cli("aihub", "--type", "htr", "-i", src, "-o", out, "-q", "--workers", "1")
    return src, out, truth, result


def test_round_trip_every_label_and_byte(converted):
    src, out, truth, _ = converted
    by_bytes = {t["bytes"]: t["label"] for t in truth["good"].values()}
    for reader in (clovaai_tree, parseq_tree):
        tree = reader(out)
        assert sorted(tree) == ["test/shard-00000", "train/shard-00000", "val/shard-00000"]
        written = [s for shard in tree.values() for s in shard]
        assert len(written) == len(truth["good"]) == 90
        assert sorted(written) == sorted((label, data) for data, label in by_bytes.items())


def test_manifest_counts_and_reject_reasons(converted):
    _, out, truth, _ = converted
    card = assert_accounted(out)
    assert card["counts"]["input"] == 90 + sum(FAULTS.values())
    assert card["rejects"] == FAULTS
    assert card["format"] == "aihub"
    assert sum(s["count"] for s in card["shards"]) == 90
    assert all(len(s["sha256"]) == 64 for s in card["shards"])
    text = json.dumps(card)
    assert os.path.abspath(out) not in text and "/tmp" not in text


def test_rejects_name_where_and_why(converted):
    _, out, _, _ = converted
    rows = {r["reason"]: r for r in rejects_of(out)}
    assert rows["missing_image"]["source"] == "handwriting_data_info1.json:annotations[90]"
    assert "truncated" in rows["undecodable_image"]["detail"]
    assert rows["unknown_image_id"]["id"] == "00000093"
    assert "99999999" in rows["unknown_image_id"]["detail"]
    assert rows["duplicate_id"]["id"] == "00000001"
    assert rows["unannotated_image"]["source"] == "handwriting_data_info1.json:images[92]"


def test_samples_parquet_and_charset(converted):
    _, out, truth, _ = converted
    frame = pd.read_parquet(os.path.join(out, "samples.parquet"))
    assert len(frame) == 90
    assert set(frame["split"]) == {"train", "val", "test"}
    tree = clovaai_tree(out)
    for row in frame.itertuples():
        label, data = tree[row.shard][row.index - 1]
        assert label == row.label == truth["good"][row.source_id]["label"]
        assert len(data) == row.bytes
    with open(os.path.join(out, "charset.txt"), encoding="utf-8") as f:
        charset = [line.rstrip("\n") for line in f]
    assert "".join(charset) == load_json(os.path.join(out, "manifest.json"))["charset"]
    assert set("".join(frame["label"])) == set(charset)
    assert "한" in charset


def test_summary_printed(converted):
    _, _, _, result = converted
    assert "input samples" in result.stdout and "written" in result.stdout
    assert "missing_image" in result.stdout and "charset:" in result.stdout


def test_kind_filter_is_accounted(tmp_path):
    src, out = str(tmp_path / "src"), str(tmp_path / "out")
    make_aihub(src, n=30, faults=False)
    run_cli("aihub", "-i", src, "-o", out, "--kind", "sentence", "-q", "--split", "none")
    card = assert_accounted(out)
    assert card["counts"]["written"] == 10
    assert card["rejects"] == {"excluded_kind": 20}


def test_printed_type_and_labels_option(tmp_path):
    src, out = str(tmp_path / "src"), str(tmp_path / "out")
    make_aihub(src, n=12, faults=False, printed=True)
    run_cli("aihub", "--type", "printed", "-i", src, "-o", out, "-q")
    assert assert_accounted(out)["counts"]["written"] == 12
    out2 = str(tmp_path / "out2")
    run_cli("aihub", "-i", src, "--labels", os.path.join(src, "printed_data_info.json"), "-o", out2, "-q")
    assert load_json(os.path.join(out2, "manifest.json"))["counts"]["written"] == 12


def test_schema_violation_names_json_path(tmp_path):
    src = str(tmp_path / "src")
    make_aihub(src, n=50, faults=False)
    path = os.path.join(src, "handwriting_data_info1.json")
    doc = load_json(path)
    doc["annotations"][41]["text"] = 123
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    result = run_cli("aihub", "-i", src, "-o", str(tmp_path / "out"), expect=1)
    assert "handwriting_data_info1.json: annotations[41].text: expected string" in result.stderr
    assert "Traceback" not in result.output
    assert not os.path.exists(tmp_path / "out")


def test_missing_label_file_is_a_clear_error(tmp_path):
    (tmp_path / "src").mkdir()
    result = run_cli("aihub", "-i", str(tmp_path / "src"), "-o", str(tmp_path / "out"), expect=1)
    assert "handwriting_data_info1.json" in result.stderr and "--labels" in result.stderr
