"""The Python API: dataconv.convert / open / validate / report give what the commands give,
from a plain script without a main guard (fork and fork-server workers), and the README's
example runs as written."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import pytest

import dataconv
from helpers import REPO, load_json, read_lmdb, run_cli
from dataconv.errors import DataconvError, UsageError
from dataconv.fixtures.base import fixtures

PYTHON = sys.executable


def readme_example() -> str:
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        text = f.read()
    return text.split("<!-- api-example")[1].split("```python\n", 1)[1].split("```", 1)[0]


def run_script(tmp_path, code: str) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    return subprocess.run([PYTHON, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture
def src(tmp_path) -> str:
    fixtures()["paddle-rec"][0](str(tmp_path / "src"), n=30)
    return str(tmp_path / "src")


def test_readme_example_runs_as_a_script(tmp_path):
    done = run_script(tmp_path, readme_example())
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    card = load_json(str(tmp_path / "rec_lmdb" / "manifest.json"))
    written, splits = lines[0].split(" ", 1)
    assert written == "40" and ast.literal_eval(splits) == card["counts"]["splits"]
    assert lines[1] == f"40 {[s for s in ('train', 'val', 'test') if s in card['counts']['splits']]}"
    assert sum(line.startswith("test/shard-00000:") for line in lines) == card["counts"]["splits"]["test"]
    assert lines[-1] == f"refused: {tmp_path / 'rec_lmdb'} already exists; pass --overwrite to replace it (in a recipe: overwrite: true)"
    assert (tmp_path / "rec_report.html").stat().st_size > 10_000
    assert "BrokenProcessPool" not in done.stderr and "Traceback" not in done.stderr


def test_convert_gives_what_the_command_gives(tmp_path, src):
    labels = os.path.join(src, "rec_gt_train.txt")
    card = dataconv.convert("paddle-rec", src, tmp_path / "api", labels=labels, workers=1, quiet=True,
                            shard_size=7, shard_bytes="1MB", seed=5, dedupe=True, max_label_length=12)
    run_cli("paddle-rec", "-i", src, "--labels", labels, "-o", tmp_path / "cli", "--workers", "1", "-q",
            "--shard-size", "7", "--shard-bytes", "1MB", "--seed", "5", "--dedupe", "--max-label-length", "12")
    assert card == load_json(str(tmp_path / "cli" / "manifest.json")) == load_json(str(tmp_path / "api" / "manifest.json"))
    assert card["counts"]["rejected"] > 0 and len(card["shards"]) > 3
    for shard in card["shards"]:
        assert read_lmdb(str(tmp_path / "api" / shard["path"])) == read_lmdb(str(tmp_path / "cli" / shard["path"]))


def test_convert_refuses_as_the_command_does(tmp_path, src):
    labels = os.path.join(src, "rec_gt_train.txt")
    with pytest.raises(UsageError, match="unknown format 'nope'"):
        dataconv.convert("nope", src, tmp_path / "o")
    with pytest.raises(UsageError, match="dataconv paddle-rec has no option shardsize"):
        dataconv.convert("paddle-rec", src, tmp_path / "o", labels=labels, shardsize=3)
    with pytest.raises(UsageError, match="option shard_size: 0 is out of range"):
        dataconv.convert("paddle-rec", src, tmp_path / "o", labels=labels, shard_size=0)
    with pytest.raises(DataconvError, match="--split 'a,b': expected three numbers"):  # exit 1 there too
        dataconv.convert("paddle-rec", src, tmp_path / "o", labels=labels, split="a,b")
    with pytest.raises(UsageError, match="option labels: .*missing.txt: no such file or folder"):
        dataconv.convert("paddle-rec", src, tmp_path / "o", labels=os.path.join(src, "missing.txt"))
    with pytest.raises(UsageError, match="option labels is required"):
        dataconv.convert("paddle-rec", src, tmp_path / "o")
    with pytest.raises(UsageError, match="lies inside the source"):
        dataconv.convert("paddle-rec", src, os.path.join(src, "o"), labels=labels)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"train/word_1.png\tok\n" + b"\xff\xfe\n")
    message = run_cli("paddle-rec", "-i", src, "--labels", bad, "-o", tmp_path / "c", "-q", expect=1).stderr
    with pytest.raises(DataconvError) as caught:
        dataconv.convert("paddle-rec", src, tmp_path / "o", labels=str(bad), quiet=True, workers=1)
    assert f"error: {caught.value}" == message.strip()
    assert not os.path.exists(tmp_path / "o")


def test_open_validate_report(tmp_path, src):
    out = str(tmp_path / "out")
    run_cli("paddle-rec", "-i", src, "--labels", os.path.join(src, "rec_gt_train.txt"), "-o", out, "-q",
            "--workers", "1", "--split", "0.6,0.2,0.2")
    card = load_json(os.path.join(out, "manifest.json"))
    with dataconv.open(out) as dataset:
        assert len(dataset) == card["counts"]["written"]
        assert {s: len(d) for s, d in dataset.splits().items()} == card["counts"]["splits"]
        records = list(dataset.split("val"))
        one = dataset["val/shard-00000:2"]
        by_source = dataset[one.metadata["source"]]
    assert [(r.label, r.image) for r in records] == read_lmdb(os.path.join(out, "val", "shard-00000"))
    assert by_source == one and one.key == "val/shard-00000:2" and one.split == "val"
    assert set(one.metadata) == {"source_id", "source", "group"} and one.metadata["source_id"].startswith("train/")
    with pytest.raises(DataconvError, match="no such sample"):
        dataconv.open(out)["nothing"]

    given = dataconv.validate(out, "clovaai", sensitive=True, max_label_length=10)
    printed = run_cli("validate", out, "--for", "clovaai", "--sensitive", "--max-label-length", "10", "--json", "-q")
    assert given == json.loads(printed.stdout) and given["dropped"] > 0
    with pytest.raises(UsageError, match="validate for parseq has no switch sensitive"):
        dataconv.validate(out, "parseq", sensitive=True)

    figures = dataconv.report(out, tmp_path / "r.html")
    assert figures["samples"] == card["counts"]["written"] and (tmp_path / "r.html").stat().st_size == figures["bytes"]


GUARDLESS = """
import sys, threading, time
{threads}
import dataconv
import dataconv.build.pipeline  # what a conversion imports (NumPy, OpenCV) before its pool starts
from dataconv.build.executors import local
method = local.pool_start_method()
card = dataconv.convert("paddle-rec", {src!r}, "out", labels={labels!r}, workers=2, quiet=True)
print(method, card["counts"]["written"])
"""


@pytest.mark.parametrize("threads,method", [("", "fork"), ("threading.Thread(target=time.sleep, args=(60,), daemon=True).start()", "forkserver")])
def test_script_without_main_guard_uses_worker_processes(tmp_path, src, threads, method):
    """A notebook (a process with threads) gets a fork server, whose workers would run the
    script again if they were told about it; they are not."""
    code = GUARDLESS.format(threads=threads, src=src, labels=os.path.join(src, "rec_gt_train.txt"))
    env_threads = "" if threads else "import os; os.environ['OPENBLAS_NUM_THREADS'] = '1'\n"
    done = run_script(tmp_path, env_threads + code)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == [method, "30"]
    assert "BrokenProcessPool" not in done.stderr


def test_import_dataconv_loads_no_converter_and_no_cv2():
    code = ("import sys, dataconv; dataconv.open; dataconv.convert; "
            "print(sorted(m for m in sys.modules if m.startswith('dataconv.converters') or m in ('cv2', 'numpy')))")
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
