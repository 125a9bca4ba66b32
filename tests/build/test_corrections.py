"""``--corrections FILE`` (validators/corrections.py, the file format in dataconv/io/corrections.py):
a rebuild changes exactly the decided samples, read back from the LMDBs, samples.parquet,
rejects.jsonl and the manifest's counts; corrections come before the label rules; an unknown
id or a wrong line is a located one-line error; the same file gives the same bytes; recipes
and the Python API take it; a run that writes no recognition samples refuses it."""
from __future__ import annotations

import os
from collections import Counter

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from dataconv.build.collect import collect
from dataconv.errors import DataconvError
from dataconv.io import corrections as corrections_file
from dataconv.io.corrections import Decision, format_line, parse_line
from dataconv.sample import Reject, Sample
from dataconv.validators.corrections import COUNTED, Corrections
from helpers import assert_accounted, load_json, read_lmdb, rejects_of, run_cli
from hostile_util import assert_one_line_error, convert, gt_source, png

LABELS = {f"{i}.png": f"l{i}" for i in range(12)}
SPLIT = ("--split", "0.5,0.25,0.25")


@pytest.fixture
def src(tmp_path) -> str:
    gt = "".join(f"{name}\t{label}\n" for name, label in LABELS.items()).encode()
    return gt_source(str(tmp_path / "src"), gt, {name: png(i) for i, name in enumerate(LABELS)})


def write(path, text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


def table(out: str) -> pd.DataFrame:
    return pd.read_parquet(os.path.join(out, "samples.parquet")).set_index("source_id")


def lmdb_labels(out: str) -> dict[str, str]:
    """source_id -> the label in the LMDB shard samples.parquet points at."""
    rows = table(out)
    shards = {shard: read_lmdb(os.path.join(out, shard)) for shard in set(rows["shard"])}
    return {sid: shards[r["shard"]][r["index"] - 1][0] for sid, r in rows.iterrows()}


DECISIONS = ("0.png\trelabel\tnew 0\n"
             "1.png\tdrop\n"
             "2.png\tkeep\n"
             "3.png\trelabel\tfirst\n"
             "\n"
             "4.png\trelabel\tl4\n"  # the label it has: a keep
             "3.png\trelabel\tsecond\n")


def test_a_rebuild_changes_exactly_the_decided_samples(src, tmp_path):
    base = str(tmp_path / "base")
    convert("gt-txt", src, base, "--gt", os.path.join(src, "gt.txt"), *SPLIT)
    fixes = write(tmp_path / "fixes.tsv", DECISIONS)
    outs = [str(tmp_path / name) for name in ("fixed", "again")]
    for out in outs:
        result = convert("gt-txt", src, out, "--gt", os.path.join(src, "gt.txt"), "--corrections", fixes, *SPLIT)
    assert "corrections: 2 relabelled, 1 dropped, 2 kept, 1 overridden, 0 unknown, 0 already rejected" \
        in result.output

    card = assert_accounted(outs[0])
    assert card["corrections"] == {"relabelled": 2, "dropped": 1, "kept": 2, "overridden": 1, "unknown": 0,
                                   "already_rejected": 0}
    assert card["rejects"] == {"correction_drop": 1} and card["options"]["corrections"] == "fixes.tsv"
    assert rejects_of(outs[0]) == [{"detail": "fixes.tsv:2", "id": "1.png", "reason": "correction_drop",
                                    "source": "gt.txt:2"}]
    expected = {**LABELS, "0.png": "new 0", "3.png": "second"}
    del expected["1.png"]
    assert lmdb_labels(outs[0]) == expected
    before, after = table(base), table(outs[0])
    assert (after["split"] == before.loc[after.index, "split"]).all()  # nobody changed split
    assert set(before["split"]) == {"train", "val", "test"}

    # the same file again: the same manifest, the same shard bytes, the same table
    assert load_json(os.path.join(outs[1], "manifest.json")) == card
    pd.testing.assert_frame_equal(table(outs[1]), after)


def test_corrections_come_before_the_label_rules(src, tmp_path):
    rules = write(tmp_path / "rules.yaml", "case: upper\ndrop: [{pattern: '^X', name: starts-x}]\n")
    fixes = write(tmp_path / "fixes.tsv", "0.png\trelabel\tabc\n1.png\trelabel\txyz\n")
    out = str(tmp_path / "out")
    convert("gt-txt", src, out, "--gt", os.path.join(src, "gt.txt"), "--corrections", fixes, "--label-rules", rules)
    card = assert_accounted(out)
    assert lmdb_labels(out)["0.png"] == "ABC"  # the corrected text went through the rules
    assert {r["id"]: r["reason"] for r in rejects_of(out)} == {"1.png": "label_rule"}
    assert card["corrections"]["relabelled"] == 2
    assert card["label_rules"] == {"changed": {"case": len(LABELS)}, "dropped": {"starts-x": 1}}


def test_an_unknown_id_is_an_error_naming_its_line_or_a_counted_warning(src, tmp_path):
    fixes = write(tmp_path / "fixes.tsv", "0.png\tkeep\nnope.png\tdrop\nalso-nope\tkeep\n")
    out = str(tmp_path / "out")
    failed = convert("gt-txt", src, out, "--gt", os.path.join(src, "gt.txt"), "--corrections", fixes, expect=None)
    assert_one_line_error(failed, f"{fixes}:2: 'nope.png' names no sample", "--corrections-unknown warn")
    assert not os.path.exists(out)

    warned = convert("gt-txt", src, out, "--gt", os.path.join(src, "gt.txt"), "--corrections", fixes,
                     "--corrections-unknown", "warn")
    assert f"warning: 2 id(s) of --corrections name no sample of the source; the first: {fixes}:2" in warned.stderr
    card = assert_accounted(out)
    assert (card["corrections"]["unknown"], card["corrections"]["kept"], card["counts"]["written"]) == (2, 1, 12)


@pytest.mark.parametrize("text,says", [
    ("0.png\n", "got nothing after the id"),
    ("\tdrop\n", "no sample id"),
    ("0.png\trelabel\n", "relabel needs the new text"),
    ("0.png\trelabel\t\n", "relabel needs the new text"),
    ("0.png\tdrop\tplease\n", "drop takes no text"),
    ("0.png\tDROP\n", "got 'DROP'"),
    (b"0.png\trelabel\t\xff\n", "not valid utf-8"),
])
def test_a_wrong_line_is_a_one_line_error_naming_it(src, tmp_path, text, says):
    fixes = write(tmp_path / "fixes.tsv", "1.png\tkeep\n" + text if isinstance(text, str) else b"1.png\tkeep\n" + text)
    out = str(tmp_path / "out")
    result = convert("gt-txt", src, out, "--gt", os.path.join(src, "gt.txt"), "--corrections", fixes, expect=None)
    assert_one_line_error(result, f"{fixes}:2:", says)
    assert not os.path.exists(out)


def test_an_empty_file_decides_nothing(src, tmp_path):
    out = str(tmp_path / "out")
    convert("gt-txt", src, out, "--gt", os.path.join(src, "gt.txt"), "--corrections", write(tmp_path / "e.tsv", ""))
    assert assert_accounted(out)["corrections"] == dict.fromkeys(COUNTED, 0)


def test_a_recipe_and_the_python_api_take_corrections(src, tmp_path):
    write(tmp_path / "fixes.tsv", "a/0.png\trelabel\tfrom recipe\na/1.png\tdrop\n")
    write(tmp_path / "recipe.yaml", "output: mixed\nsplit: none\noptions: {corrections: fixes.tsv}\n"
                                    "sources:\n  - {name: a, format: gt-txt, input: src, options: {gt: src/gt.txt}}\n")
    run_cli("build", str(tmp_path / "recipe.yaml"), "-q", "--workers", "1")
    mixed = str(tmp_path / "mixed")
    assert lmdb_labels(mixed)["a/0.png"] == "from recipe" and "a/1.png" not in lmdb_labels(mixed)
    assert assert_accounted(mixed)["corrections"]["dropped"] == 1

    import dataconv

    card = dataconv.convert("gt-txt", src, tmp_path / "api", gt=os.path.join(src, "gt.txt"), workers=1,
                            split="none", quiet=True, corrections=write(tmp_path / "api.tsv", "2.png\tdrop\n"))
    assert card["corrections"]["dropped"] == 1 and card["rejects"] == {"correction_drop": 1}


def test_a_run_writing_no_recognition_samples_refuses_corrections(tmp_path):
    run_cli("fixture", "icdar2015", "-n", "3", "-o", tmp_path / "ic")
    fixes = write(tmp_path / "fixes.tsv", "x\tkeep\n")
    result = run_cli("icdar2015", "-i", tmp_path / "ic", "--task", "det", "--corrections", fixes,
                     "-o", tmp_path / "det", "-q", "--workers", "1", expect=2)
    assert "--corrections applies to recognition samples" in result.output and "--task det" in result.output
    assert not os.path.exists(tmp_path / "det")


# --- the mechanism, on generated inputs ------------------------------------------------------

ids = st.sampled_from([f"s{i}" for i in range(8)])
texts = st.text(min_size=1, max_size=6).filter(lambda t: "\r" not in t and "\n" not in t)
decisions = st.one_of(st.builds(Decision, st.just("relabel"), texts),
                      st.builds(Decision, st.sampled_from(["drop", "keep"])))


@settings(max_examples=200, deadline=None)
@given(items=st.lists(st.tuples(ids, st.booleans(), texts), max_size=12),
       lines=st.lists(st.tuples(st.one_of(ids, st.just("ghost")), decisions), max_size=12))
def test_every_line_is_counted_once_and_the_last_one_wins(tmp_path_factory, items, lines):
    """Parsed samples and parser rejects with repeated ids, and decision lines for some of
    them: each line lands in exactly one count, a sample's label is its last decision's."""
    path = str(tmp_path_factory.mktemp("c") / "c.tsv")
    write(path, "".join(format_line(i, d) for i, d in lines))
    corrections = Corrections(path, "warn", corrections_file.read(path))
    parsed = [Reject(f"src:{n}", "missing_image", "", sid) if rejected else Sample(sid, label, None, f"src:{n}")
              for n, (sid, rejected, label) in enumerate(items)]
    collected = collect(corrections.watch(iter(parsed)), False, corrections.then(None))
    corrections.finish()

    counts = corrections.record()["corrections"]
    assert sum(counts.values()) == len(lines)
    last = dict(lines)
    first_sample = {}
    for item in parsed:
        if isinstance(item, Sample):
            first_sample.setdefault(item.id, item)
    for sid, decision in last.items():
        sample = first_sample.get(sid)
        if sample is None:
            continue
        if decision.action == "drop":
            assert ("correction_drop", sid) in {(r.reason, r.id) for _, r in collected.rejects}
        elif decision.action == "relabel":
            assert sample.label == decision.text
    assert counts["unknown"] == len({s for s in last if s not in {i for i, _, _ in items}})
    assert counts["dropped"] == Counter(r.reason for _, r in collected.rejects)["correction_drop"]


@settings(max_examples=300, deadline=None)
@given(sample_id=st.text(min_size=1, max_size=20), decision=decisions)
def test_a_written_line_reads_back_as_the_same_decision(sample_id, decision):
    try:
        line = format_line(sample_id, decision)
    except ValueError:
        assert any(c in sample_id for c in "\t\r\n") or any(0xD800 <= ord(c) < 0xE000 for c in
                                                           sample_id + (decision.text or ""))
        return
    assert line.endswith("\n") and parse_line(line[:-1]) == (sample_id, decision)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=60))
def test_any_bytes_read_as_decisions_or_a_located_error(tmp_path_factory, data):
    path = write(tmp_path_factory.mktemp("b") / "c.tsv", data)
    try:
        corrections_file.read(path)
    except DataconvError as e:
        assert str(e).startswith(path) and "\n" not in str(e)
