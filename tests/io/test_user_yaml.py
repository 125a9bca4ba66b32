"""Recipes and label-rules files are inputs like any annotation file: aliases never expand,
keys are text, numbers are finite, unknown keys get a "did you mean", and every fault is one
line naming the file and the key path (never a traceback, never NaN in a manifest)."""
from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from dataconv.build.recipe import load_recipe
from dataconv.errors import DataconvError
from dataconv.validators.label_rules import load_rules


def laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("kind", ["rules", "recipe"])
def test_billion_laughs_is_refused_at_once_in_little_memory(tmp_path, kind):
    path = tmp_path / f"{kind}.yaml"
    body = laughs()
    if kind == "recipe":
        body = "output: out\nsources:\n  - name: s\n    format: gt-txt\n    input: .\n    options:\n" + \
               "".join(f"      {line}\n" for line in laughs().splitlines())
    path.write_text(body)
    assert len(body) < 1200
    code = ("import resource, sys, time; from dataconv.errors import DataconvError\n"
            f"from dataconv.{'validators.label_rules import load_rules as load' if kind == 'rules' else 'build.recipe import load_recipe as load'}\n"
            "t = time.perf_counter()\n"
            f"try: load({str(path)!r})\nexcept DataconvError as e: print(e)\n"
            "peak = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1]\n"
            "print(time.perf_counter() - t, peak)")  # VmHWM: this process image (ru_maxrss keeps pytest's)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    message, figures = done.stdout.strip().splitlines()
    seconds, peak_kb = figures.split()
    assert "aliases (*name) are not accepted" in message and str(path) in message
    assert float(seconds) < 1.0 and int(peak_kb) < 200 * 1024


def write(tmp_path, text: str, name: str = "f.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_an_integer_key_under_replace_names_its_line(tmp_path):
    with pytest.raises(DataconvError, match=r"f\.yaml:2:3: .*a key must be text, not integer '1'"):
        load_rules(write(tmp_path, "replace:\n  1: one\n"))


@pytest.mark.parametrize("field,value", [("weight", ".nan"), ("ratio", ".nan"), ("weight", ".inf"),
                                         ("ratio", "-.inf")])
def test_non_finite_recipe_numbers_name_the_key(tmp_path, field, value):
    text = f"output: out\nsources:\n  - {{name: a, format: gt-txt, input: ., {field}: {value}}}\n"
    with pytest.raises(DataconvError, match=rf"f\.yaml: sources\[0\]\.{field}: .*(is not a finite number|"
                                            r"less than or equal to the minimum)"):
        load_recipe(write(tmp_path, text))


def test_an_unknown_key_gets_a_did_you_mean(tmp_path):
    with pytest.raises(DataconvError, match=r"did you mean 'ratio'\?"):
        load_recipe(write(tmp_path, "output: out\nsources:\n  - {name: a, format: gt-txt, input: ., ratoi: 1}\n"))
    with pytest.raises(DataconvError, match=r"did you mean 'replace'\?"):
        load_rules(write(tmp_path, "replce: {a: b}\n"))


def test_the_manifest_writer_refuses_non_finite_numbers(tmp_path):
    from dataconv.outputs import manifest

    with pytest.raises(DataconvError, match=r"mixing\.x would be nan"):
        manifest.write(str(tmp_path), {"mixing": {"x": math.nan}})
    assert not (tmp_path / "manifest.json").exists()


# --- generated files: wrong types, non-finite numbers, unknown keys, aliases ------------

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=5), st.lists(st.integers(), max_size=2))
RULE_KEYS = st.sampled_from(["fullwidth_ascii", "replace", "whitespace", "case", "drop", "replce", "Drop"])
RECIPE_SOURCE_KEYS = st.sampled_from(["name", "format", "input", "ratio", "cap", "weight", "options", "ratoi"])


def dumped(document: object, alias: bool) -> str:
    text = yaml.safe_dump(document, allow_unicode=True)
    return text + ("extra: &x [1]\nmore: *x\n" if alias else "")


def assert_one_line_or_loads(load, path: str) -> None:
    try:
        load(path)
    except DataconvError as e:
        assert "\n" not in str(e), str(e)
        assert str(e).startswith((path, os.path.basename(path))), str(e)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(RULE_KEYS, st.one_of(SCALARS, st.dictionaries(st.one_of(st.text(max_size=3), st.integers()),
                                                                     SCALARS, max_size=3)), max_size=4),
       st.booleans())
def test_generated_rules_files_load_or_fail_in_one_line(tmp_path, document, alias):
    assert_one_line_or_loads(load_rules, write(tmp_path, dumped(document, alias), "rules.yaml"))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.dictionaries(RECIPE_SOURCE_KEYS, SCALARS, max_size=6), min_size=1, max_size=2), st.booleans())
def test_generated_recipes_load_or_fail_in_one_line(tmp_path, sources, alias):
    assert_one_line_or_loads(load_recipe, write(tmp_path, dumped({"output": "o", "sources": sources}, alias),
                                                "recipe.yaml"))
