"""Recipes and label-rules files are inputs like any annotation file: aliases never expand,
keys are text, numbers are finite, unknown keys get a "did you mean", and every fault is one
line naming the file and the key path (never a traceback, never NaN in a manifest)."""
from __future__ import annotations

import copy
import json
import math
import os
import shutil
import subprocess
import sys

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from dataconv.build.recipe import load_recipe
from dataconv.errors import DataconvError, UsageError
from dataconv.validators.label_rules import load_rules
from helpers import run_cli
from hostile_util import gt_source, png


def laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
    return "\n".join(lines) + "\n"


LOADERS = {"rules": "from dataconv.validators.label_rules import load_rules as load",
           "recipe": "from dataconv.build.recipe import load_recipe as load",
           "charset": "from dataconv.charsets import load"}  # a PARSeq charset YAML


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_billion_laughs_is_refused_at_once_in_little_memory(tmp_path, kind):
    path = tmp_path / f"{kind}.yaml"
    body = laughs() + ("model:\n  charset_train: *i\n" if kind == "charset" else "")
    if kind == "recipe":
        body = "output: out\nsources:\n  - name: s\n    format: gt-txt\n    input: .\n    options:\n" + \
               "".join(f"      {line}\n" for line in laughs().splitlines())
    path.write_text(body)
    assert len(body) < 1200
    code = ("import resource, sys, time; from dataconv.errors import DataconvError\n"
            f"{LOADERS[kind]}\n"
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
DROPS = st.lists(st.one_of(SCALARS, st.fixed_dictionaries({"pattern": st.one_of(SCALARS, st.sampled_from(
    ["(a+)+$", "(ab)\\1", "(?=a)", "[", "x"]))}, optional={"name": SCALARS, "nmae": SCALARS})), max_size=2)
RULES = st.dictionaries(RULE_KEYS, st.one_of(SCALARS, DROPS, st.dictionaries(
    st.one_of(st.text(max_size=3), st.integers()), SCALARS, max_size=3)), max_size=4)
# option names as written (command-line names, field names, near misses) and values of any type
OPTIONS = st.dictionaries(st.sampled_from(["max_label_length", "max_lable_length", "normalize", "charset",
                                           "charset_policy", "label_rules", "kind", "pad", "gt", "sep",
                                           "encoding", "max_pixels"]), SCALARS, max_size=3)
SPLITS = st.sampled_from(["0.8,0.1,0.1", "none", "nan,0.5,0.5", "inf,0,0", "1_0,0,0", "0.5,0.5", ""])
SOURCE = st.fixed_dictionaries(
    {"name": st.one_of(st.just("a"), SCALARS), "format": st.one_of(st.just("gt-txt"), SCALARS),
     "input": st.one_of(st.just("src"), SCALARS)},
    optional={"ratio": SCALARS, "cap": SCALARS, "weight": SCALARS, "options": st.one_of(SCALARS, OPTIONS),
              "ratoi": SCALARS})
RECIPE = st.fixed_dictionaries(
    {"output": st.one_of(st.just("out"), SCALARS), "sources": st.one_of(st.lists(SOURCE, min_size=1, max_size=2),
                                                                        SCALARS)},
    optional={"split": st.one_of(SPLITS, SCALARS), "seed": SCALARS, "layout": SCALARS, "overwrite": SCALARS,
              "dedupe": SCALARS, "options": st.one_of(SCALARS, OPTIONS), "per_source_fodlers": SCALARS})


def dumped(document: dict, alias: bool) -> str:
    """YAML of ``document``; with ``alias`` one of its containers appears twice, which the
    dumper writes as an anchor and an alias (``&id001`` ... ``*id001``) where it sits."""
    if alias:
        inner = next((v for v in document.values() if isinstance(v, (dict, list))), ["lol"])
        document = {**document, "again": inner}
    return yaml.safe_dump(document, allow_unicode=True)


def assert_one_line_or_loads(load, path: str) -> None:
    try:
        load(path)
    except (DataconvError, UsageError) as e:
        assert "\n" not in str(e), str(e)
        assert str(e).startswith((path, os.path.basename(path))), str(e)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(RULES, st.booleans())
def test_generated_rules_files_load_or_fail_in_one_line(tmp_path, document, alias):
    text = dumped(document, alias)
    assert_one_line_or_loads(load_rules, write(tmp_path, text, "rules.yaml"))
    if "*id" in text:
        with pytest.raises(DataconvError, match="aliases"):
            load_rules(str(tmp_path / "rules.yaml"))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(RECIPE, st.booleans())
def test_generated_recipes_load_or_fail_in_one_line(tmp_path, document, alias):
    (tmp_path / "src").mkdir(exist_ok=True)
    text = dumped(document, alias)
    assert_one_line_or_loads(load_recipe, write(tmp_path, text, "recipe.yaml"))
    if "*id" in text:
        with pytest.raises(DataconvError, match="aliases"):
            load_recipe(str(tmp_path / "recipe.yaml"))


def set_at(document: dict, path: tuple, value: object) -> None:
    """``value`` at ``path`` in ``document`` when its parent is there and of the right kind."""
    parent = document
    for key in path[:-1]:
        if not holds(parent, key):
            return
        parent = parent[key]
    if isinstance(parent, dict) or holds(parent, path[-1]):
        parent[path[-1]] = value


def holds(container: object, key: object) -> bool:
    return (isinstance(container, dict) and key in container) or (
        isinstance(container, list) and isinstance(key, int) and key < len(container))


RECIPE_PATHS = [("output",), ("split",), ("seed",), ("layout",), ("overwrite",), ("dedupe",),
                ("per_source_folders",), ("per_source_fodlers",), ("options",), ("options", "max_label_length"),
                ("options", "max_lable_length"), ("options", "normalize"), ("options", "charset"),
                ("options", "label_rules"), ("sources",), ("sources", 0), ("sources", 0, "name"),
                ("sources", 0, "format"), ("sources", 0, "input"), ("sources", 0, "ratio"), ("sources", 0, "cap"),
                ("sources", 0, "weight"), ("sources", 0, "ratoi"), ("sources", 0, "options"),
                ("sources", 0, "options", "gt"), ("sources", 0, "options", "sep"),
                ("sources", 0, "options", "encoding"), ("sources", 1)]
RULES_PATHS = [("replace",), ("replace", "l"), ("replace", 3), ("replce",), ("drop",), ("drop", 0),
               ("drop", 0, "pattern"), ("drop", 0, "name"), ("drop", 0, "nmae"), ("whitespace",), ("case",),
               ("fullwidth_ascii",)]
VALUES = st.one_of(SCALARS, SPLITS, st.sampled_from(["(a+)+$", "src", "src/gt.txt", "rules.yaml", "nfkc"]),
                   st.floats(0.01, 1), st.integers(1, 1000))


def mutated(base: dict, paths: list[tuple]) -> st.SearchStrategy[dict]:
    """``base`` (a valid document) with zero to two of ``paths`` set to any value."""
    def apply(changes: list[tuple[tuple, object]]) -> dict:
        document = copy.deepcopy(base)
        for path, value in changes:
            set_at(document, path, value)
        return document
    return st.lists(st.tuples(st.sampled_from(paths), VALUES), max_size=2).map(apply)


GOOD_RECIPE = {"output": "out", "split": "0.8,0.1,0.1", "options": {"label_rules": "rules.yaml"},
               "sources": [{"name": "a", "format": "gt-txt", "input": "src", "options": {"gt": "src/gt.txt"}},
                           {"name": "b", "format": "gt-txt", "input": "src", "ratio": 0.5}]}
GOOD_RULES = {"replace": {"l": "L"}, "drop": [{"pattern": "x", "name": "x"}], "whitespace": "strip"}


@pytest.fixture(scope="module")
def recipe_home(tmp_path_factory):
    root = tmp_path_factory.mktemp("recipes")
    images = {f"{i}.png": png(i) for i in range(3)}
    gt_source(str(root / "src"), "".join(f"{k}\tl{k[0]}\n" for k in images).encode(), images)
    return root


@settings(max_examples=40, deadline=None)
@given(mutated(GOOD_RECIPE, RECIPE_PATHS), mutated(GOOD_RULES, RULES_PATHS), st.booleans())
def test_generated_recipes_and_rules_run_or_end_in_one_line(recipe_home, recipe, rules, alias):
    """Through ``dataconv build``: exit 0, or exit 1/2 with one line (never a traceback,
    which CliRunner would raise here), and no manifest holding NaN or infinity."""
    for entry in os.listdir(recipe_home):  # what an earlier example wrote (its output may be any name)
        if entry not in ("src", "rules.yaml", "recipe.yaml"):
            path = recipe_home / entry
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    (recipe_home / "rules.yaml").write_text(dumped(rules, False), encoding="utf-8")
    (recipe_home / "recipe.yaml").write_text(dumped(recipe, alias), encoding="utf-8")
    result = run_cli("build", str(recipe_home / "recipe.yaml"), "-q", "--workers", "1", expect=None)
    assert result.exit_code in (0, 1, 2), result.output
    if result.exit_code == 0:
        out = recipe_home / str(recipe["output"])
        json.loads((out / "manifest.json").read_text(), parse_constant=pytest.fail)
    elif result.exit_code == 1:
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
    else:
        assert result.stderr.strip().splitlines()[-1].startswith("Error: "), result.stderr
