"""``dataconv build RECIPE.yaml``: three formats into one dataset, read back as clovaai and
PARSeq read it, with the per-source counts reconciled against the LMDBs, samples.parquet
and rejects.jsonl; sampling; the mixing settings; a bad recipe is a located one-line error."""
from __future__ import annotations

import os
from collections import Counter

import pandas as pd
import pytest

from helpers import assert_accounted, clovaai_tree, parseq_tree, rejects_of, run_cli
from fmt_util import make_fixture
from hostile_util import assert_one_line_error

RECIPE = """\
output: mixed
split: "0.8,0.1,0.1"
layout: {layout}
per_source_folders: true
options:
  max_label_length: 25
sources:
  - {{name: tiw, format: aihub-tiw, input: tiw, options: {{kind: [word], pad: 0.05}}, weight: 0.5}}
  - {{name: lm, format: labelme, input: lm, cap: 5}}
  - {{name: ic, format: icdar2015, input: ic, ratio: 0.5}}
"""


@pytest.fixture
def sources(tmp_path):
    truth = {name: make_fixture(fixture, tmp_path / name)
             for name, fixture in (("tiw", "aihub-tiw"), ("lm", "labelme"), ("ic", "icdar2015"))}
    return tmp_path, truth


def build(root, text: str, expect: int | None = 0):
    (root / "recipe.yaml").write_text(text, encoding="utf-8")
    return run_cli("build", str(root / "recipe.yaml"), "-q", "--workers", "1", expect=expect)


@pytest.mark.parametrize("layout", ["standard", "parseq"])
def test_three_formats_one_dataset_with_per_source_accounting(sources, layout):
    root, truth = sources
    result = build(root, RECIPE.format(layout=layout))
    out = str(root / "mixed")
    card = assert_accounted(out)
    train = "train/real" if layout == "parseq" else "train"
    # every source under its own folder in each split, as both readers see the tree
    for tree in (clovaai_tree(out), parseq_tree(out)):
        per_source = Counter(path.split("/")[-2] for path, records in tree.items() for _ in records)
        assert per_source == Counter({s: card["sources"][s]["written"] for s in ("tiw", "lm", "ic")})
        assert any(path.startswith(f"{train}/tiw/shard-") for path in tree)
    table = pd.read_parquet(os.path.join(out, "samples.parquet"))
    rejects = Counter(row["source"].split(":", 1)[0] for row in rejects_of(out))
    for name, counts in card["sources"].items():
        expected = truth[name]["expected"]
        assert counts["input"] == expected["input"]
        assert counts["written"] == int(table.source_id.str.startswith(f"{name}/").sum())
        assert counts["rejected"] == rejects[name]
        assert counts["input"] == counts["written"] + counts["rejected"]
        own = {k: v for k, v in counts["rejects"].items() if k != "sampled_out"}
        assert own == expected["rejects"]  # sampling takes only samples the format itself kept
    assert card["sources"]["lm"]["written"] == 5  # cap
    assert card["sources"]["lm"]["rejects"]["sampled_out"] == truth["lm"]["expected"]["input"] - 5 \
        - sum(truth["lm"]["expected"]["rejects"].values())
    ic = card["sources"]["ic"]
    kept_by_fixture = ic["input"] - sum(truth["ic"]["expected"]["rejects"].values())
    assert 0 < ic["written"] < kept_by_fixture and ic["written"] + ic["rejects"]["sampled_out"] == kept_by_fixture
    mixing = card["mixing"]
    assert mixing["share"]["tiw"] == 0.5
    assert mixing["share"]["lm"] + mixing["share"]["ic"] == pytest.approx(0.5, abs=1e-3)
    assert f"--train_data OUT/{train} --select_data tiw-lm-ic --batch_ratio 0.5-" in mixing["clovaai"]
    assert mixing["paddleocr"]["data_dir"] == [f"OUT/{train}/{s}" for s in ("tiw", "lm", "ic")]
    assert "ConcatDataset" in mixing["mmocr"] and "--select_data tiw-lm-ic" in result.output


def test_the_same_recipe_gives_the_same_manifest(sources):
    root, _ = sources
    build(root, RECIPE.format(layout="standard"))
    first = (root / "mixed" / "manifest.json").read_bytes()
    build(root, RECIPE.format(layout="standard").replace("output: mixed", "output: mixed\noverwrite: true"))
    assert (root / "mixed" / "manifest.json").read_bytes() == first


@pytest.mark.parametrize("text, fragments", [
    ("output: x\nsources: []\n", ("recipe.yaml", "sources", "should be non-empty")),
    ("output: x\nsources:\n  - {name: a, format: labelme, input: lm, cap: 0}\n", ("sources[0].cap", "minimum")),
    ("output: x\nsources:\n  - {name: a, format: nosuch, input: lm}\n", ("sources[0].format", "nosuch")),
    ("output: x\nsources:\n  - {name: a, format: labelme, input: lm, options: {colour: red}}\n",
     ("sources[0].options.colour", "no such option")),
    ("output: x\nsources:\n  - {name: a, format: labelme, input: lm, options: {pad: 9}}\n",
     ("sources[0].options", "pad")),
    ("output: x\nsources:\n  - {name: a, format: labelme, input: lm, weight: 0.7}\n"
     "  - {name: b, format: labelme, input: lm, weight: 0.6}\n", ("weights add up to 1.3",)),
    ("output: x\nsources:\n  - {name: a, format: labelme, input: lm}\n  - {name: a, format: labelme, input: lm}\n",
     ("name 'a' is used twice",)),
    ("output: x\nsources: [\n", ("recipe.yaml:", "not YAML")),
    ("output: x\ncolour: red\nsources:\n  - {name: a, format: labelme, input: lm}\n", ("colour",)),
])
def test_a_bad_recipe_is_one_located_line(sources, text, fragments):
    root, _ = sources
    result = build(root, text, expect=None)
    assert_one_line_error(result, *fragments)
    assert not (root / "x").exists()


# --- --label-rules (a switch of every conversion, and a recipe option) ---------------------

RULES = """\
fullwidth_ascii: true
replace: {"‘": "'", "’": "'"}
whitespace: collapse
case: lower
drop:
  - {pattern: "^[0-9]+$", name: digits_only}
"""
LABELS = {"a.png": "Ｆ１ Ｒａｃｅ", "b.png": "  hello   world ", "c.png": "12345", "d.png": "‘Quoted’",
          "e.png": "한글ＡＢ　가"}  # full-width letters (to ASCII, Hangul kept), an ideographic space


def gt_folder(root) -> str:
    from hostile_util import png, write_files

    gt = "".join(f"{name}\t{label}\n" for name, label in LABELS.items())
    return write_files(str(root), {"gt.txt": gt.encode(), **{name: png(k) for k, name in enumerate(LABELS)}})


def test_label_rules_rewrite_count_and_drop(tmp_path):
    src = gt_folder(tmp_path / "src")
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    run_cli("gt-txt", "-i", src, "-o", str(tmp_path / "out"), "-q", "--workers", "1", "--split", "none",
            "--label-rules", str(tmp_path / "rules.yaml"))
    card = assert_accounted(str(tmp_path / "out"))
    written = sorted(label for shard in clovaai_tree(str(tmp_path / "out")).values() for label, _ in shard)
    assert written == sorted(["f1 race", "hello world", "'quoted'", "한글ab 가"])  # U+3000 is whitespace: collapsed
    assert card["label_rules"] == {"changed": {"case": 3, "fullwidth_ascii": 2, "replace": 1, "whitespace": 2},
                                   "dropped": {"digits_only": 1}}
    [row] = rejects_of(str(tmp_path / "out"))
    assert row["reason"] == "label_rule" and row["detail"].startswith("digits_only: '12345'")


def test_label_rules_in_a_recipe_and_a_bad_rules_file(tmp_path):
    gt_folder(tmp_path / "src")
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    build(tmp_path, "output: out\nsplit: none\noptions: {label_rules: rules.yaml}\n"
                    "sources:\n  - {name: g, format: gt-txt, input: src}\n")
    card = assert_accounted(str(tmp_path / "out"))
    assert card["label_rules"]["dropped"] == {"digits_only": 1}
    assert card["sources"]["g"]["rejects"] == {"label_rule": 1}
    (tmp_path / "bad.yaml").write_text("case: title\n", encoding="utf-8")
    result = run_cli("gt-txt", "-q", "-i", str(tmp_path / "src"), "-o", str(tmp_path / "o2"),
                     "--label-rules", str(tmp_path / "bad.yaml"), expect=None)
    assert_one_line_error(result, "bad.yaml", "case", "'title' is not one of")
    (tmp_path / "bad.yaml").write_text("drop: [{pattern: '('}]\n", encoding="utf-8")
    result = run_cli("gt-txt", "-q", "-i", str(tmp_path / "src"), "-o", str(tmp_path / "o2"),
                     "--label-rules", str(tmp_path / "bad.yaml"), expect=None)
    assert_one_line_error(result, "bad.yaml", "drop[0].pattern", "not a regular expression")
