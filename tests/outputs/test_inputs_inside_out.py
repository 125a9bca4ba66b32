"""``--overwrite`` never removes an input of the run (dataconv/outputs/atomic.py ``check_target``,
the one rule): every kind of input placed inside an OUT being replaced (the source, gt and
label files, label rules, a charset file, a list file, an `--also` tree, eval's model and
predictions, dump's data; in a recipe also the recipe itself and each source's option
files) is refused with exit 2, and OUT and the file are left exactly as they were. The
inputs are found from the parameters and options objects, so the loops below cover a new
format's path options without naming them."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import click
import pytest

from helpers import run_cli
from dataconv.cli.main import cli
from dataconv.converters import MODULES, base as converters
from dataconv.optionspec import Path as PathType, switches
from dataconv.validators.base import option_classes
from hostile_util import gt_source, png

TEXT_FILE_SWITCHES = {"charset_file", "list_file"}  # text options the run reads as a file


def digest(folder: str) -> str:
    """Every path and byte under ``folder``."""
    h = hashlib.sha256()
    for here, dirs, files in sorted(os.walk(folder)):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(here, name)
            h.update(os.path.relpath(path, folder).encode())
            with open(path, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, str]:
    """A previous dataconv output OUT holding a file and a folder of the user's, and a
    source, files and a folder outside it (for the options that are not under test)."""
    root = tmp_path_factory.mktemp("inside")
    images = {f"{i}.png": png(i) for i in range(3)}
    src = gt_source(str(root / "src"), "".join(f"{k}\tl{k[0]}\n" for k in images).encode(), images)
    out = str(root / "out")
    run_cli("gt-txt", "-i", src, "-o", out, "-q", "--workers", "1", "--split", "none")
    for where in (out, str(root)):
        Path(where, "mine.txt").write_text("0.png\tkept\n")
        Path(where, "mine").mkdir()
        Path(where, "mine", "x.txt").write_text("kept")
    return {"root": str(root), "src": src, "out": out, "file": str(root / "mine.txt"),
            "folder": str(root / "mine")}


def path_value(world: dict[str, str], param: click.Parameter, inside: bool) -> str:
    """A file or folder (as the parameter takes) inside OUT or outside it."""
    folder = isinstance(param.type, click.Path) and not param.type.file_okay
    name = "mine" if folder else "mine.txt"
    return os.path.join(world["out"] if inside else world["root"], name)


def cli_cases() -> list[tuple[str, str]]:
    """(command, parameter) for every input parameter of every command that writes a
    dataset folder with --overwrite."""
    ctx = click.Context(cli)
    cases = []
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        params = {p.name for p in command.params}
        if "overwrite" not in params:
            continue
        cases += [(name, p.name) for p in command.params
                  if p.name != "out" and (isinstance(p.type, click.Path) or p.name in TEXT_FILE_SWITCHES)]
    return cases


def args_for(world: dict[str, str], command: click.Command, under_test: str) -> list[str]:
    """The command line with ``under_test`` inside OUT and every other required input
    outside it (eval needs --model or --predictions: the other one when one is tested)."""
    needed = {p.name for p in command.params if p.required} | {under_test}
    if command.name == "eval" and under_test not in ("model", "predictions"):
        needed.add("predictions")
    args: list[str] = []
    for p in command.params:
        if p.name not in needed or p.name == "out":
            continue
        value = path_value(world, p, p.name == under_test)
        if p.name in ("src", "data") and p.name != under_test:
            value = world["src"] if p.name == "src" else world["out"]
        if isinstance(p.type, click.Choice):
            value = p.type.choices[0]
        args += [value] if isinstance(p, click.Argument) else [p.opts[-1], value]
    return args + ["-o", world["out"], "--overwrite"]


@pytest.mark.parametrize("command_name,param", cli_cases())
def test_an_input_inside_out_is_refused_for_every_command(world, command_name, param):
    command = cli.get_command(click.Context(cli), command_name)
    before = digest(world["out"])
    result = run_cli(command_name, *args_for(world, command, param), expect=2)
    assert "contains the source" in result.output or "is or contains" in result.output, result.output
    assert digest(world["out"]) == before


def test_the_cli_cases_cover_every_kind_of_input():
    params = {p for _, p in cli_cases()}
    assert {"src", "also_input", "gt", "labels", "export", "also", "label_rules", "charset_file",
            "list_file", "data", "model", "predictions"} <= params


# --- recipes ---------------------------------------------------------------------------------

def recipe_cases() -> list[tuple[str, str]]:
    """(format, switch) for every path switch of every format's options, the source's input,
    and the shared options' files."""
    cases = [("gt-txt", "input"), ("gt-txt", "recipe")]
    cases += [("gt-txt", f"options.{s.name}") for cls in option_classes() for s in switches(cls)
              if isinstance(s.spec.type, PathType) or s.name in TEXT_FILE_SWITCHES]
    for fmt in sorted(MODULES):
        cls = converters.load(fmt).cls.Options
        cases += [(fmt, f"source.{s.name}") for s in switches(cls)
                  if isinstance(s.spec.type, PathType) or s.name in TEXT_FILE_SWITCHES]
    return cases


def source_options(world: dict[str, str], fmt: str, under_test: str) -> dict[str, object]:
    """The format's required path switches outside OUT, ``under_test`` inside it."""
    options = {}
    for s in switches(converters.load(fmt).cls.Options):
        if s.name == under_test or (s.required and isinstance(s.spec.type, PathType)):
            inside = s.name == under_test
            folder = isinstance(s.spec.type, PathType) and not s.spec.type.file_okay
            value = os.path.join(world["out"] if inside else world["root"], "mine" if folder else "mine.txt")
            options[s.name] = [value] if s.spec.multiple else value
    return options


def recipe_text(world: dict[str, str], fmt: str, under_test: str) -> str:
    kind, _, name = under_test.partition(".")
    source_input = os.path.join(world["out"], "mine") if kind == "input" else world["src"]
    options = source_options(world, fmt, name) if kind == "source" else {}
    shared = {name: os.path.join(world["out"], "mine.txt")} if kind == "options" else {}
    return (f"output: {world['out']}\noverwrite: true\noptions: {shared}\n"
            f"sources:\n  - {{name: s, format: {fmt}, input: {source_input}, options: {options}}}\n")


@pytest.mark.parametrize("fmt,under_test", recipe_cases())
def test_a_recipe_input_inside_out_is_refused(world, fmt, under_test):
    folder = world["out"] if under_test == "recipe" else world["root"]
    recipe = os.path.join(folder, f"recipe-{fmt}.yaml")
    before = digest(world["out"])
    Path(recipe).write_text(recipe_text(world, fmt, under_test))
    try:
        result = run_cli("build", recipe, "-q", "--workers", "1", expect=2)
    finally:
        os.unlink(recipe)
    assert "is or contains the source" in result.output and "recipe-" in result.output, result.output
    assert digest(world["out"]) == before


def test_the_recipe_cases_cover_every_kind_of_input():
    switches_tested = {case.split(".")[-1] for _, case in recipe_cases()}
    assert {"input", "recipe", "label_rules", "charset_file", "gt", "labels", "export", "also",
            "list_file"} <= switches_tested
    assert {s.name for cls in option_classes() for s in switches(cls)
            if isinstance(s.spec.type, PathType)} <= switches_tested


def test_the_issue_example_a_recipe_naming_files_inside_its_old_out(world):
    """gt and label rules inside the OUT an ``overwrite: true`` recipe would replace: exit 2,
    both files still there."""
    out = world["out"]
    Path(out, "rules.yaml").write_text("replace: {a: b}\n")
    recipe = os.path.join(world["root"], "recipe.yaml")
    Path(recipe).write_text(f"output: out\noverwrite: true\noptions: {{label_rules: out/rules.yaml}}\n"
                            f"sources:\n  - {{name: a, format: gt-txt, input: src, options: {{gt: out/mine.txt}}}}\n")
    try:
        result = run_cli("build", recipe, "-q", "--workers", "1", expect=2)
    finally:
        os.unlink(recipe)
    assert "sources[0].options.gt" in result.output
    assert Path(out, "mine.txt").read_text() == "0.png\tkept\n" and Path(out, "rules.yaml").exists()
    os.unlink(os.path.join(out, "rules.yaml"))


def test_the_python_api_refuses_an_input_inside_out(world):
    import dataconv
    from dataconv.errors import UsageError

    before = digest(world["out"])
    with pytest.raises(UsageError, match=r"contains the source .*mine\.txt \(option label_rules\)"):
        dataconv.convert("gt-txt", world["src"], world["out"], overwrite=True, workers=1,
                         label_rules=os.path.join(world["out"], "mine.txt"))
    assert digest(world["out"]) == before
