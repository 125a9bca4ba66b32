"""Output safety: existing OUT refused, overwrite replaces, failures leave no OUT."""
from __future__ import annotations

import os

from helpers import load_json, run_cli
from dataconv.fixtures.aihub import make_aihub


def test_existing_out_is_refused_with_exit_2(tmp_path):
    src = str(tmp_path / "src")
    make_aihub(src, n=5, faults=False)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = run_cli("aihub", "-i", src, "-o", out, expect=2)
    assert "--overwrite" in result.output
    assert (out / "keep.txt").read_text() == "mine"


def test_overwrite_replaces_atomically(tmp_path):
    src = str(tmp_path / "src")
    make_aihub(src, n=5, faults=False)
    out = tmp_path / "out"
    run_cli("aihub", "-i", src, "-o", out, "-q")  # --overwrite replaces only a dataconv output
    (out / "stale.txt").write_text("old")
    run_cli("aihub", "-i", src, "-o", out, "-q", "--overwrite")
    assert not (out / "stale.txt").exists()
    assert load_json(str(out / "manifest.json"))["counts"]["written"] == 5
    assert [p for p in os.listdir(tmp_path) if p.startswith(".")] == []


def test_failure_midway_leaves_no_out(tmp_path):
    src = str(tmp_path / "src")
    make_aihub(src, n=5, faults=False)
    path = os.path.join(src, "handwriting_data_info1.json")
    with open(path, "a", encoding="utf-8") as f:
        f.write("garbage")
    result = run_cli("aihub", "-i", src, "-o", str(tmp_path / "out"), expect=1)
    assert "invalid JSON" in result.stderr and "handwriting_data_info1.json:1:" in result.stderr
    assert os.listdir(tmp_path) == ["src"]
