"""Issue 26, mutation run of dataconv/build/pipeline.py: the survivors that meant a wrong
answer (docs/DEVELOPING.md). Real gt-txt sources converted through the CLI, the outputs
read back: a source of no samples is a one-line error (one sample is not), the progress
bars follow -q, a repeated id's reject names where the id was first used, charset.txt
holds the characters of every task, a recipe gets the CLI's shard byte cap, and the
manifests of --task det and --task rec,det."""
from __future__ import annotations

import os

from helpers import assert_accounted, load_json, read_lmdb, rejects_of, run_cli
from hostile_util import assert_one_line_error, png, write_files


def test_a_source_of_blank_lines_is_no_samples_and_one_sample_converts(tmp_path):
    src = write_files(str(tmp_path / "blank"), {"gt.txt": b"\n\n\n"})
    result = run_cli("gt-txt", "-i", src, "-o", str(tmp_path / "o0"), "-q", expect=None)
    assert_one_line_error(result, "no samples found")
    assert not (tmp_path / "o0").exists()
    one = write_files(str(tmp_path / "one"), {"gt.txt": b"a.png\tA\n", "a.png": png(1)})
    run_cli("gt-txt", "-i", one, "-o", str(tmp_path / "o1"), "-q", "--workers", "1")
    card = assert_accounted(str(tmp_path / "o1"))
    assert card["counts"]["input"] == card["counts"]["written"] == 1


def test_progress_bars_are_shown_unless_quiet(tmp_path):
    src = write_files(str(tmp_path / "src"), {"gt.txt": b"a.png\tA\nb.png\tB\n", "a.png": png(1), "b.png": png(2)})
    loud = run_cli("gt-txt", "-i", src, "-o", str(tmp_path / "loud"), "--workers", "1")
    assert "reading annotations" in loud.stderr and "writing" in loud.stderr
    quiet = run_cli("gt-txt", "-i", src, "-o", str(tmp_path / "quiet"), "-q", "--workers", "1")
    assert quiet.stderr == ""


def test_a_repeated_id_names_the_line_that_first_used_it(tmp_path):
    """Also when the first sample of that id was dropped by a label rule."""
    src = write_files(str(tmp_path / "src"), {
        "gt.txt": b"a.png\tA\nb.png\tB\na.png\tC\nc.png\t123\nc.png\tD\n",
        "a.png": png(1), "b.png": png(2), "c.png": png(3)})
    (tmp_path / "rules.yaml").write_text("drop: [{pattern: '^[0-9]+$', name: digits}]\n", encoding="utf-8")
    out = str(tmp_path / "out")
    run_cli("gt-txt", "-i", src, "-o", out, "-q", "--workers", "1", "--split", "none",
            "--label-rules", str(tmp_path / "rules.yaml"))
    assert_accounted(out)
    rows = [(r["source"], r["reason"], r["id"], r["detail"]) for r in rejects_of(out)]
    assert [row[:3] for row in rows] == [("gt.txt:3", "duplicate_id", "a.png"), ("gt.txt:4", "label_rule", "c.png"),
                                         ("gt.txt:5", "duplicate_id", "c.png")]
    assert rows[0][3].endswith("already used at gt.txt:1") and rows[2][3].endswith("already used at gt.txt:4")
    assert read_lmdb(str(tmp_path / "out" / "train" / "shard-00000")) == [("A", png(1)), ("B", png(2))]


def test_charset_txt_holds_every_written_label_character_of_every_task(tmp_path):
    """Six shard tasks (three splits, --shard-size 2) whose labels share no character."""
    labels = ["ab", "cd", "ef", "가나", "xy", "z1", "23", "45", "한", "!?", "é", "ü"]
    files = {f"{k}.png": png(k) for k in range(len(labels))}
    gt = "".join(f"{k}.png\t{label}\n" for k, label in enumerate(labels)).encode()
    src = write_files(str(tmp_path / "src"), {**files, "gt.txt": gt})
    out = str(tmp_path / "out")
    run_cli("gt-txt", "-i", src, "-o", out, "-q", "--workers", "1", "--shard-size", "2", "--split", "0.34,0.33,0.33")
    card = assert_accounted(out)
    assert len(card["shards"]) >= 6 and len(card["counts"]["splits"]) == 3
    chars = sorted(set("".join(labels)))
    with open(os.path.join(out, "charset.txt"), encoding="utf-8") as f:
        assert f.read() == "".join(ch + "\n" for ch in chars)


def test_a_recipe_gets_the_command_lines_shard_byte_cap():
    """``dataconv build`` leaves shard_bytes (and follow_symlinks) to Config's defaults:
    they are the command line's (2 GiB, not followed)."""
    from dataconv.build.conversion import RunOptions
    from dataconv.build.pipeline import Config

    config = Config(src="s", out="o")
    assert config.shard_bytes == RunOptions.__dataclass_fields__["shard_bytes"].default == 2 * 1024**3
    assert config.follow_symlinks is False


def test_det_alone_and_rec_det_manifests(tmp_path):
    """--task det writes the detection dataset's own manifest; --task rec,det records where
    the detection dataset is and its counts and boxes."""
    from dataconv.fixtures.base import fixtures

    src = str(tmp_path / "src")
    fixtures()["labelme"][0](src)
    det = str(tmp_path / "det")
    run_cli("labelme", "-i", src, "--task", "det", "-o", det, "-q", "--split", "none")
    card = assert_accounted(det)
    assert card["task"] == "det" and card["counts"]["written"] > 0
    both = str(tmp_path / "both")
    run_cli("labelme", "-i", src, "--task", "rec,det", "-o", both, "-q", "--split", "none")
    det_card = load_json(os.path.join(both, "det", "manifest.json"))
    rec_card = assert_accounted(both)
    assert rec_card["det"] == {"path": "det", "counts": det_card["counts"], "boxes": det_card["boxes"]}
    assert det_card["counts"] == card["counts"] and det_card["boxes"] == card["boxes"]


NO_THREAD = """
import threading
from dataconv.build import pipeline
with pipeline._bar(pipeline.Config(src="s", out="o", progress=True), 3, "checking") as bar:
    bar.update(1)
    print(sorted(type(t).__name__ for t in threading.enumerate()))
"""


def test_a_progress_bar_starts_no_thread_that_a_forking_pool_would_copy():
    """tqdm's monitor thread is kept off: a local pool forks the driver while bars are
    shown, and a thread running at a fork can leave a lock held in the child."""
    import subprocess
    import sys

    shown = subprocess.run([sys.executable, "-c", NO_THREAD], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "['_MainThread']", shown.stdout + shown.stderr
