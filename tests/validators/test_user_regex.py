"""Every regex a user writes runs in linear time (RE2), or is refused in one line naming
where it came from: label-rule drops, --group-regex, lmdb --label-regex."""
from __future__ import annotations

import json
import os
import time

import pytest
from hypothesis import given, settings, strategies as st

from dataconv import charsets
from dataconv.errors import DataconvError
from dataconv.io.userregex import compile_user
from helpers import run_cli
from hostile_util import assert_one_line_error, convert, png, write_files

NESTED = ["(a+)+$", "(a*)*$", "(a|aa)+$", "(a|a?)+$", "(.*a){12}$", "^(\\w+\\s?)*$"]


@pytest.mark.parametrize("pattern", NESTED)
def test_backtracking_shapes_match_in_linear_time(pattern):
    regex = compile_user(pattern, "test")
    started = time.perf_counter()
    for n in (31, 1_000, 100_000):
        regex.search("a" * n + "!")
    assert time.perf_counter() - started < 1.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["a", "a+", "a*", "(", ")", "|", "?", "+", "*", "\\1", "(?=a)", "[a-z]",
                                 "{2,}", "."]), min_size=1, max_size=12))
def test_any_pattern_compiles_for_linear_time_or_is_one_clear_error(parts):
    pattern = "".join(parts)
    try:
        regex = compile_user(pattern, "rules.yaml: drop[0].pattern")
    except DataconvError as e:
        assert str(e).startswith("rules.yaml: drop[0].pattern: ") and "\n" not in str(e)
        return
    started = time.perf_counter()
    regex.search("a" * 20_000 + "!")
    assert time.perf_counter() - started < 1.0


def gt_source(tmp_path, label: str) -> str:
    return write_files(str(tmp_path / "src"), {"gt.txt": f"a.png\t{label}\nb.png\tkeep\n".encode(),
                                               "a.png": png(0), "b.png": png(1)})


def test_nested_quantifier_rule_on_a_31_character_label_finishes_at_once(tmp_path):
    src = gt_source(tmp_path, "a" * 31 + "!")
    rules = tmp_path / "rules.yaml"
    rules.write_text("drop:\n  - {pattern: '(a+)+$', name: stall}\n", encoding="utf-8")
    started = time.perf_counter()
    convert("gt-txt", src, str(tmp_path / "out"), "--label-rules", str(rules))
    assert time.perf_counter() - started < 20  # the whole run; the match itself is microseconds


@pytest.mark.parametrize("option", ["--label-rules", "--group-regex"])
def test_backreference_is_refused_in_one_line_naming_its_place(tmp_path, option):
    src = gt_source(tmp_path, "abab")
    value = "(ab)\\1"
    if option == "--label-rules":
        rules = tmp_path / "rules.yaml"
        rules.write_text("drop:\n  - {pattern: '(ab)\\1'}\n", encoding="utf-8")
        value, where = str(rules), "drop[0].pattern"
    else:
        where = "--group-regex"
    result = convert("gt-txt", src, str(tmp_path / "out"), option, value, "--split", "0.5,0.25,0.25",
                     expect=1)
    err = assert_one_line_error(result, where, "backreferences and lookarounds are not supported")
    assert "re2.cc" not in result.stderr
    assert not os.path.exists(tmp_path / "out"), err


# --- Python's meaning, on RE2: \d \s \w are Unicode, {,n} is {0,n} ---------------------------

TOKENS = ["a", "A", "s", "k", "가", "1", "_", " ", "\\w", "\\W", "\\d", "\\D", "\\s", "\\S", "[\\w-]", "[^\\d\\s]",
          "[a-z]", "[]a]", ".", "+", "*", "?", "{,2}", "{1,2}", "(", ")", "|", "^", "$", "\\\\", "\\.", "\\Z", "(?i)"]
LABEL_CHARS = "aAbZ_1٣９가ㄱ漢ß ſK\u3000\u00a0\u2028\t\u0301é.-\\"  # Arabic-Indic and full-width digits, odd spaces


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=8), st.text(LABEL_CHARS, max_size=12))
def test_a_pattern_matches_what_pythons_re_matches(parts, label):
    """Wherever Python's ``re`` and dataconv both accept a pattern, they find the same match
    (labels without a newline: there Python's ``$`` also matches before a final newline)."""
    import re
    import warnings

    pattern = "".join(parts)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = re.search(pattern, label)
        ours = compile_user(pattern, "test")
    except (re.error, DataconvError):
        return
    found = ours.search(label)
    assert (found and found.group()) == (expected and expected.group()), (pattern, label, ours.pattern)


def test_unicode_classes_and_open_quantifiers_keep_pythons_meaning():
    assert compile_user(r"^\w+$", "t").search("한국어_2")
    assert compile_user(r"^\d+$", "t").search("٣９")
    assert compile_user(r"\s", "t").search("a\u3000b")
    assert not compile_user(r"^[^\W\d]+$", "t").search("가1")
    assert compile_user("^a{,2}$", "t").search("aa")
    assert compile_user("^a{,2}$", "t").pattern == "^a{,2}$"  # as written, for messages


@pytest.mark.parametrize("pattern", [r"\bword", r"x\B"])
def test_word_boundaries_are_refused_naming_the_place(pattern):
    with pytest.raises(DataconvError, match=r"^rules\.yaml: drop\[0\]\.pattern: .*word boundary"):
        compile_user(pattern, "rules.yaml: drop[0].pattern")


# --- validate --for clovaai: the --character filter is the user's text too -----------------

def test_a_charset_crafted_as_a_nested_quantifier_validates_at_once(tmp_path):
    """clovaai builds '[^' + character + ']' unescaped: 'a](x+)+y[b' makes it
    '[^a](x+)+y[b]', which Python's re needs about 2^23 steps for on this 25-character label."""
    src = gt_source(tmp_path, "a" + "x" * 23 + "z")
    out = str(tmp_path / "out")
    convert("gt-txt", src, out)
    (tmp_path / "cs.txt").write_text("a](x+)+y[bkep", "utf-8")
    started = time.perf_counter()
    result = run_cli("validate", out, "--for", "clovaai", "--charset", tmp_path / "cs.txt", "--json", "-q",
                     expect=1)
    assert time.perf_counter() - started < 5
    report = json.loads(result.stdout)
    # the crafted filter matches no label (it wants a 'y'): 'keep' trains, and the 'z' outside
    # the charset reaches clovaai's character lookup, which raises, as clovaai itself would
    assert (report["kept"], report["reasons"]) == (1, {"crash:KeyError_char_not_in_character": 1})


def test_a_charset_that_makes_a_backreference_is_fatal_in_one_line(tmp_path):
    src = gt_source(tmp_path, "abab")
    out = str(tmp_path / "out")
    convert("gt-txt", src, out)
    (tmp_path / "cs.txt").write_text("a](x)\\1[b", "utf-8")
    result = run_cli("validate", out, "--for", "clovaai", "--charset", tmp_path / "cs.txt", "-q", expect=1)
    assert "backreferences and lookarounds are not supported" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@settings(max_examples=200, deadline=None)
@given(chars=st.text(st.sampled_from("ab]^-\\[(x+)*?.|$z가\udcb0\udca1"), min_size=1, max_size=8),
       label=st.text(st.sampled_from("ab]^-\\[(x+)*?.|$z가\n\udcb0\udca1"), max_size=10))
def test_the_linear_filter_finds_and_removes_what_pythons_re_does(chars, label):
    """Over generated --character strings full of regex syntax (and the lone surrogates a
    charset file read as clovaai's shell reads it can hold): wherever Python's re reads
    '[^chars]' (clovaai's filter), the RE2 filter validate runs matches and removes the same."""
    from dataconv.validators.trainers.base import Settings
    from dataconv.validators.trainers.clovaai import Clovaai, compile_quietly

    pattern = f"[^{chars}]"
    regex, error, _ = compile_quietly(pattern)
    if regex is None:
        return
    sim = Clovaai(Settings(charset=charsets.Charset(tuple(chars), "literal", "literal")))
    if sim.regex is None:
        assert "not supported" in sim.fatal(), sim.fatal()
        return
    assert bool(sim.regex.search(label)) == bool(regex.search(label)), (pattern, label)
    assert sim.removed(label) == regex.sub("", label), (pattern, label)
