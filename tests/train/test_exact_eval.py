"""Every figure ``dataconv eval`` shows, against figures computed here with a plain edit
distance written in this file: eval.parquet's ``cer``/``exact``/``label_length`` per row, the
accuracy and CER of the summary line and manifest.json, the per-split table of eval.html, the
suspected label errors' order (page and summary), and the per-group/per-source breakdown.

Predictions are generated (hypothesis) from each label: unchanged, empty, the NFD form of an
NFC label, substitutions, insertions and deletions, or unrelated text; confidences are drawn
from a few values (ties) or left out. No model is involved: ``eval --predictions``.
"""
from __future__ import annotations

import html
import json
import os
import re
import time
import unicodedata

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from PIL import Image

from helpers import peak_rss, run_cli
from dataconv.export.evaluate import score_row, total_cer
from dataconv.reporting.eval_page import align, breakdown, confusions

LABELS = ["abc", "héllo", "가나다", "x", "hello world", "abcd", "q1", "café au lait", "日本語", "ab",
          "Ωmega", "a b", "zzzz", "e", "한국어 문장", "99", "tést", "ok"]
ALPHABET = "abcxyzé가나 e\u0301日"
PARQUET_COLUMNS = ["key", "source_id", "label", "prediction", "confidence", "cer", "exact", "label_length",
                   "source", "group"]


def distance(a: str, b: str) -> int:
    """Levenshtein distance by the full table (unit costs)."""
    table = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1,
                              table[i - 1][j - 1] + (0 if a[i - 1] == b[j - 1] else 1))
    return table[-1][-1]


def test_the_distance_written_here():
    assert distance("", "") == 0 and distance("", "abc") == 3 and distance("abc", "") == 3
    assert distance("kitten", "sitting") == 3 and distance("é", "e\u0301") == 2
    assert distance("abcd", "acbd") == 2  # a transposition is two edits


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    src = tmp_path_factory.mktemp("src")
    lines = []
    for i, label in enumerate(LABELS):
        Image.new("L", (20 + i, 12), i * 9).save(src / f"{i}.png")
        lines.append(f"{i}.png\t{label}\n")
    (src / "gt.txt").write_text("".join(lines), "utf-8")
    out = tmp_path_factory.mktemp("out") / "data"
    run_cli("gt-txt", "-i", src, "--gt", src / "gt.txt", "-o", out, "--split", "0.5,0.25,0.25", "--workers", "1",
            "-q")
    return str(out)


def keys_and_labels(data: str) -> list[tuple[str, str, str]]:
    """(split, SHARD:INDEX, label) of every sample, the label from the source's own list."""
    table = pd.read_parquet(os.path.join(data, "samples.parquet"))
    return [(r.split, f"{r.shard}:{r.index}", LABELS[int(r.source_id.split(".")[0])]) for r in table.itertuples()]


@st.composite
def prediction(draw, label: str) -> str:
    kind = draw(st.sampled_from(["same", "empty", "nfd", "edits", "other"]))
    if kind == "same":
        return label
    if kind == "empty":
        return ""
    if kind == "nfd":
        return unicodedata.normalize("NFD", label)
    if kind == "other":
        return draw(st.text(st.sampled_from(ALPHABET), max_size=8))
    text = list(label)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["sub", "ins", "del"]))
        at = draw(st.integers(0, len(text)))
        ch = draw(st.sampled_from(ALPHABET))
        if op == "ins":
            text.insert(at, ch)
        elif text:
            text[min(at, len(text) - 1):min(at, len(text) - 1) + 1] = [ch] if op == "sub" else []
    return "".join(text)


CONFIDENCE = st.sampled_from([None, 0.0, 0.25, 0.5, 0.9, 1.0])


def suspects(rows: list[dict]) -> list[str]:
    """Wrong rows: the most confident first, no confidence last; ties: the larger CER first,
    then file order."""
    wrong = [r for r in rows if r["prediction"] != r["label"]]
    ranked = sorted(enumerate(wrong), key=lambda p: (-(p[1]["confidence"] if p[1]["confidence"] is not None
                                                       else -1.0), -p[1]["cer"], p[0]))
    return [r["key"] for _, r in ranked]


def page_table(page: str, title: str) -> list[list[str]]:
    body = page.split(f"<h3>{title}</h3>", 1)[1].split("</table>", 1)[0]
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1])]


def pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def breakdown_rows(rows: list[dict], key) -> list[list[str]]:
    """[value, samples, accuracy, CER] for each value of ``key``, in text order."""
    table = []
    for value in sorted({key(r) for r in rows}):
        part = [r for r in rows if key(r) == value]
        table.append([value, str(len(part)), pct(sum(r["prediction"] == r["label"] for r in part) / len(part)),
                      pct(sum(r["edits"] for r in part) / sum(len(r["label"]) for r in part))])
    return table


def is_subsequence(part: str, text: str) -> bool:
    """part's characters appear in text in order (the label characters an edit script touches)."""
    chars = iter(text)
    return all(ch in chars for ch in part)


@settings(max_examples=10, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # no shrinking: one eval a second
@given(draw=st.data())
def test_eval_figures_equal_the_ones_computed_here(data, tmp_path_factory, draw):
    samples = keys_and_labels(data)
    rows = []
    for split, key, label in samples:
        pred = draw.draw(prediction(label))
        conf = draw.draw(CONFIDENCE)
        edits = distance(label, pred)
        rows.append({"split": split, "key": key, "label": label, "prediction": pred, "confidence": conf,
                     "edits": edits, "cer": edits / max(len(label), 1)})
    folder = tmp_path_factory.mktemp("eval")
    (folder / "pred.txt").write_text("".join(
        f"{r['key']}\t{r['prediction']}" + ("" if r["confidence"] is None else f"\t{r['confidence']}") + "\n"
        for r in rows), "utf-8")
    result = run_cli("eval", data, "--predictions", folder / "pred.txt", "--split", "all", "-o", folder / "ev")

    frame = pd.read_parquet(folder / "ev" / "eval.parquet")
    assert pq.read_schema(folder / "ev" / "eval.parquet").names == PARQUET_COLUMNS  # no index column
    assert sorted(frame["key"]) == sorted(r["key"] for r in rows)
    order = frame["key"].tolist()
    rows.sort(key=lambda r: order.index(r["key"]))  # eval's reading order: the file order of the ties below
    assert frame["label"].tolist() == [r["label"] for r in rows]
    assert frame["prediction"].tolist() == [r["prediction"] for r in rows]
    assert frame["cer"].tolist() == pytest.approx([r["cer"] for r in rows], abs=1e-12)
    assert frame["exact"].tolist() == [r["prediction"] == r["label"] for r in rows]
    assert frame["label_length"].tolist() == [len(r["label"]) for r in rows]
    assert frame["source_id"].tolist() == [f"{LABELS.index(r['label'])}.png" for r in rows]

    wrong = sum(r["prediction"] != r["label"] for r in rows)
    accuracy = 1 - wrong / len(rows)
    cer = sum(r["edits"] for r in rows) / sum(len(r["label"]) for r in rows)
    lines = result.stdout.splitlines()
    assert lines[0] == f"eval all: {len(rows)} samples, accuracy {accuracy:.4f}, CER {cer:.4f}, {wrong} wrong"
    card = json.loads((folder / "ev" / "manifest.json").read_text("utf-8"))
    assert card["scores"] == pytest.approx({"accuracy": accuracy, "cer": cer}, abs=1e-12)
    assert (card["format"], card["counts"], card["rejects"]) == (
        "eval", {"input": len(rows), "written": len(rows), "rejected": 0}, {})
    assert (card["options"]["split"], card["options"]["as"]) == ("all", None)

    page = (folder / "ev" / "eval.html").read_text("utf-8")
    expected_splits = breakdown_rows(rows, lambda r: r["split"])
    assert page_table(page, "Per split") == expected_splits
    assert page_table(page, "Per label length") == breakdown_rows(rows, lambda r: str(len(r["label"])))
    assert page_table(page, "Per source") == breakdown_rows(rows, lambda r: "gt.txt")
    wrong_rows = [r for r in rows if r["prediction"] != r["label"]]
    assert sum(confusions(frame).values()) == sum(r["edits"] for r in wrong_rows)  # one pair per edit
    for r in wrong_rows:
        pairs = align(r["label"], r["prediction"])
        assert len(pairs) == r["edits"]
        assert is_subsequence("".join(a for a, _ in pairs if a), r["label"])
        assert is_subsequence("".join(b for _, b in pairs if b), r["prediction"])

    ranked = suspects(rows)
    shown = re.findall(r"<td>((?:train|val|test)/shard-\d+:\d+)</td>", page.split('id="suspects"', 1)[1])
    assert shown == ranked[:50]
    assert [line.split(":")[0] + ":" + line.split(":")[1] for line in lines[2:2 + min(5, wrong)]] == \
        ["  " + k for k in ranked[:5]]


def test_per_group_and_per_source_breakdown():
    """Groups and sources as a recipe's samples.parquet holds them; label length 0 counts one."""
    rows = [("a", "a", "g1", "x.txt:1"), ("ab", "", "g1", "x.txt:2"), ("abc", "abd", "g2", "y.json#3"),
            ("", "zz", "g2", "y.json#4"), ("가나", "가나다", None, "x.txt:9")]
    frame = pd.DataFrame([score_row(f"test/shard-00000:{i}", label, pred, float("nan"),
                                    {"group": group, "source": source})
                          for i, (label, pred, group, source) in enumerate(rows, 1)])
    by_group = breakdown(frame, frame["group"])
    # g1: 1 of 2 exact, (0 + 2) / (1 + 2); g2: 0 of 2, (1 + 2) / (3 + 0); (none): 0 of 1, 1 / 2
    assert by_group.to_dict("index") == {
        "(none)": {"samples": 1, "accuracy": "0.0%", "CER": "50.0%"},
        "g1": {"samples": 2, "accuracy": "50.0%", "CER": "66.7%"},
        "g2": {"samples": 2, "accuracy": "0.0%", "CER": "100.0%"}}
    from dataconv.reporting.eval_page import source_file

    by_source = breakdown(frame, frame["source"].map(source_file))
    assert by_source.to_dict("index") == {  # x.txt: a, ab, 가나: 1 exact, (0 + 2 + 1) / (1 + 2 + 2)
        "x.txt": {"samples": 3, "accuracy": "33.3%", "CER": "60.0%"},
        "y.json": {"samples": 2, "accuracy": "0.0%", "CER": "100.0%"}}


def test_one_character_in_all_and_samples_without_a_prediction(data, tmp_path):
    """A split's CER over a single label character; the samples a file does not predict are
    left out and counted, the input being every sample of the split."""
    samples = keys_and_labels(data)
    one = [(key, label) for _, key, label in samples if len(label) == 1]  # 'x' and 'e'
    (tmp_path / "one.txt").write_text(f"{one[0][0]}\tq\n", "utf-8")
    result = run_cli("eval", data, "--predictions", tmp_path / "one.txt", "--split", "all", "-o", tmp_path / "ev")
    assert result.stdout.splitlines()[:2] == [
        "eval all: 1 samples, accuracy 0.0000, CER 1.0000, 1 wrong",
        f"  left out: {len(samples) - 1} (no prediction in the file)"]
    card = json.loads((tmp_path / "ev" / "manifest.json").read_text("utf-8"))
    assert (card["counts"], card["rejects"]) == ({"input": len(samples), "written": 1, "rejected": len(samples) - 1},
                                                 {"no prediction in the file": len(samples) - 1})
    assert total_cer(pd.DataFrame({"cer": [1.0], "label_length": [1]})) == 1.0
    assert total_cer(pd.DataFrame({"cer": [0.5, 0.0], "label_length": [2, 1]})) == pytest.approx(1 / 3)


def test_as_a_trainer_leaves_out_what_it_drops_and_scores_the_rest(data, tmp_path):
    """``--as clovaai --charset`` of the ASCII letters and digits: a label with a character
    outside them is dropped (its filter), the rest are lower-cased; predictions too."""
    samples = keys_and_labels(data)
    charset = "abcdefghijklmnopqrstuvwxyz0123456789"
    kept = [(key, label.lower()) for _, key, label in samples if all(c in charset for c in label.lower())]
    dropped = len(samples) - len(kept)
    assert 0 < dropped < len(samples)
    (tmp_path / "p.txt").write_text("".join(f"{key}\t{label.upper()}X\n" for _, key, label in samples), "utf-8")
    result = run_cli("eval", data, "--predictions", tmp_path / "p.txt", "--split", "all", "--as", "clovaai",
                     "--charset", charset, "-o", tmp_path / "ev")
    frame = pd.read_parquet(tmp_path / "ev" / "eval.parquet")
    assert sorted(zip(frame["key"], frame["label"])) == sorted(kept)
    assert frame["prediction"].tolist() == [label + "x" for label in frame["label"]]
    assert frame["cer"].tolist() == [1 / len(label) for label in frame["label"]]
    assert f"  left out: {dropped} (dropped by clovaai)" in result.stdout.splitlines()


def test_a_five_million_character_prediction_costs_what_a_short_one_does(data, tmp_path):
    """Scored in full (its CER is its true edit distance over the label), in time and memory
    linear in its length: fresh processes, side by side with the same file holding a short
    prediction instead."""
    samples = keys_and_labels(data)
    long_key, long_label = samples[0][1], samples[0][2]
    runs = {}
    for name, long_text in (("short", "q"), ("long", "z" * 5_000_000)):
        lines = [f"{key}\t{long_text if key == long_key else label}\n" for _, key, label in samples]
        (tmp_path / f"{name}.txt").write_text("".join(lines), "utf-8")
        started = time.perf_counter()
        rss, code, err = peak_rss("eval", data, "--predictions", tmp_path / f"{name}.txt", "--split", "all",
                                  "-o", tmp_path / name)
        runs[name] = (time.perf_counter() - started, rss)
        assert code == 0 and "Traceback" not in err, err
    table = pd.read_parquet(tmp_path / "long" / "eval.parquet").set_index("key")
    assert table.loc[long_key, "cer"] == pytest.approx(
        (distance(long_label, "z" * 200) - 200 + 5_000_000) / len(long_label))
    page = (tmp_path / "long" / "eval.html").read_text("utf-8")
    assert "Left out: 1 row(s) with a label or prediction over 1024 characters." in page
    assert "z" * 200 + "… (5,000,000 characters)" in page and "z" * 201 not in page  # clipped where shown
    assert "Left out:" not in (tmp_path / "short" / "eval.html").read_text("utf-8")
    assert runs["long"][0] < runs["short"][0] * 1.5 + 1.0, runs
    assert runs["long"][1] < runs["short"][1] + 100, runs  # MB: the line itself, a few copies of it
