"""``--label-rules`` against a reference written here from the documented rules: full-width
ASCII, then replacements (from the left, the longest key starting at each place, the scan
going on after it), then whitespace, then case, then drops on the result; each rule counted
once per label it changed. Overlapping keys over a two-letter alphabet (hypothesis) make
every tie of the replacement scan appear; one conversion checks each step's place in the
order through the CLI, the written labels and the manifest's counts.
"""
from __future__ import annotations

import json
import os
import re

import pytest
from hypothesis import given, settings, strategies as st

from helpers import load_json, read_lmdb, rejects_of, run_cli
from hostile_util import png, write_files
from dataconv.errors import DataconvError
from dataconv.validators.label_rules import load_rules


def replaced(label: str, pairs: dict[str, str]) -> str:
    """Leftmost-longest replacement, one place at a time."""
    out, i = [], 0
    while i < len(label):
        keys = [k for k in pairs if label.startswith(k, i)]
        if keys:
            key = max(keys, key=len)
            out.append(pairs[key])
            i += len(key)
        else:
            out.append(label[i])
            i += 1
    return "".join(out)


def reference(label: str, rules: dict) -> tuple[str, list[str]]:
    """The label after the rules, and the names of the rules that changed it."""
    changed = []
    steps = [("fullwidth_ascii", lambda s: "".join(chr(ord(c) - 0xFEE0) if "\uff01" <= c <= "\uff5e" else c
                                                   for c in s) if rules.get("fullwidth_ascii") else s),
             ("replace", lambda s: replaced(s, rules.get("replace", {}))),
             ("whitespace", lambda s: {"collapse": " ".join(s.split()), "strip": s.strip()}.get(
                 rules.get("whitespace"), s)),
             ("case", lambda s: {"lower": s.lower(), "upper": s.upper(), "casefold": s.casefold()}.get(
                 rules.get("case"), s))]
    for name, step in steps:
        new = step(label)
        if new != label:
            changed.append(name)
            label = new
    return label, changed


def test_the_reference_on_hand_worked_cases():
    pairs = {"a": "1", "ab": "2", "abc": "3", "bc": "4", "c": "5"}
    assert replaced("abcab", pairs) == "32"  # abc at 0 (longest), ab at 3
    assert replaced("aabcx", pairs) == "13x"  # a at 0, then abc at 1
    assert replaced("bcab", pairs) == "42"
    assert replaced("xyz", pairs) == "xyz"
    assert replaced("aaa", {"aa": "b"}) == "ba"  # no overlap reused after a match


def write_rules(tmp_path, rules: dict) -> str:
    path = os.path.join(str(tmp_path), "rules.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(rules, f, ensure_ascii=False)
    return path


KEYS = st.text(st.sampled_from("ab"), min_size=1, max_size=4)
VALUES = st.text(st.sampled_from("ab Ｂ x"), max_size=3)


@settings(max_examples=300, deadline=None)
@given(pairs=st.dictionaries(KEYS, VALUES, min_size=1, max_size=6),
       labels=st.lists(st.text(st.sampled_from("abＡｂ \t\u3000x"), max_size=12), min_size=1, max_size=8),
       fullwidth=st.booleans(), whitespace=st.sampled_from(["keep", "strip", "collapse"]),
       case=st.sampled_from(["keep", "lower", "upper", "casefold"]))
def test_rewrites_equal_the_reference(tmp_path_factory, pairs, labels, fullwidth, whitespace, case):
    document = {"fullwidth_ascii": fullwidth, "replace": pairs, "whitespace": whitespace, "case": case}
    rules = load_rules(write_rules(tmp_path_factory.mktemp("r"), document))
    expected_counts: dict[str, int] = {}
    for label in labels:
        want, changed = reference(label, document)
        assert rules.rewrite(label) == want, (label, document)
        for name in changed:
            expected_counts[name] = expected_counts.get(name, 0) + 1
    assert rules.counts() == {"changed": dict(sorted(expected_counts.items())), "dropped": {}}


STEPS = {  # label -> what each step makes of it, in the documented order
    "a.png": "Ｆ１ race",  # fullwidth first: replace's "F1" then matches; case last lowers "FORMULA"
    "b.png": "ab_cd",  # "_" replaced by a run of spaces, which collapse then trims into one space
    "c.png": "DROP me",  # replace runs before case: its "DROP" key still sees the upper case
    "d.png": "  X  ",  # whitespace strips to "X"; drop pattern ^x$ matches only after case lower
    "e.png": "abab",  # longest key "aba" first, then "b" is left: "<ABA>b" -> lower
}
RULES = {"fullwidth_ascii": True, "replace": {"F1": "FORMULA 1", "_": "   ", "DROP": "kept", "ab": "[AB]",
                                              "aba": "<ABA>"},
         "whitespace": "collapse", "case": "lower", "drop": [{"pattern": "^x$", "name": "lone_x"}]}


def test_each_step_in_its_place_through_a_conversion(tmp_path):
    src = write_files(str(tmp_path / "src"), {"gt.txt": "".join(f"{k}\t{v}\n" for k, v in STEPS.items()).encode(),
                                              **{k: png(i) for i, k in enumerate(STEPS)}})
    rules = write_rules(tmp_path, RULES)
    out = str(tmp_path / "out")
    run_cli("gt-txt", "-i", src, "--gt", os.path.join(src, "gt.txt"), "-o", out, "--label-rules", rules,
            "--split", "none", "--workers", "1", "-q")
    labels = [label for label, _ in read_lmdb(os.path.join(out, "train", "shard-00000"))]
    assert labels == ["formula 1 race", "[ab] cd", "kept me", "<aba>b"]
    assert [re.sub(r"^.*?: ", "", r["detail"]) for r in rejects_of(out)] == ["'x'"]
    # changed: fullwidth a; replace a, b, c, e; whitespace b ("[AB]   cd"), d ("  X  ");
    # case a, b, d, e (c is "kept me" already)
    assert load_json(os.path.join(out, "manifest.json"))["label_rules"] == {
        "changed": {"case": 4, "fullwidth_ascii": 1, "replace": 4, "whitespace": 2}, "dropped": {"lone_x": 1}}


def test_fullwidth_range_ends_and_defaults(tmp_path):
    """U+FF01 and U+FF5E are the range's ends (to '!' and '~'); U+FF00 and U+FF5F stay; a file
    of nothing but a drop rule rewrites nothing; a drop rule without a name counts under its
    pattern; an empty replacement key is refused."""
    rules = load_rules(write_rules(tmp_path, {"fullwidth_ascii": True}))
    assert rules.rewrite("\uff01\uff5e\uff00\uff5f\uff21") == "!~\uff00\uff5fA"
    plain = load_rules(write_rules(tmp_path, {"drop": [{"pattern": "^[0-9]+$"}]}))
    assert plain.rewrite(" Ｆ１ Ab ") == " Ｆ１ Ab " and plain.counts()["changed"] == {}
    from dataconv.sample import Sample

    rejects = [plain.apply(Sample(id=str(i), source=f"gt.txt:{i}", label=text, image=None))
               for i, text in enumerate(["123", "12a", "4"])]
    assert [(r.reason, r.detail) for r in rejects if r] == [("label_rule", "^[0-9]+$: '123'"),
                                                           ("label_rule", "^[0-9]+$: '4'")]
    assert rejects[1] is None and plain.counts()["dropped"] == {"^[0-9]+$": 2}
    with pytest.raises(DataconvError, match=r"rules.json: replace: an empty text"):
        load_rules(write_rules(tmp_path, {"replace": {"": "x"}}))
