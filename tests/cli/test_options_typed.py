"""Typed options at the boundary (issue 14 item 7): every format, check and run declares a
frozen options dataclass; the CLI alone imports click and builds the switches from those
classes; subcommands load lazily; the report rebuilds a converter from manifest.json with
the classes' own defaults."""
from __future__ import annotations

import ast
import dataclasses
import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import REPO, load_json, rejects_of, run_cli
from hostile_util import assert_one_line_error, convert, gt_source, png
from dataconv.cli import options
from dataconv.cli.main import cli
from dataconv.converters import MODULES
from dataconv.converters import base as converters
from dataconv.converters.gt_txt import GtTxtOptions
from dataconv.converters.minhon import MinhonOptions
from dataconv.errors import DataconvError
from dataconv.io.crop import CropSpec
from dataconv.optionspec import from_values, switches, values
from dataconv.reporting.reject_images import converter_from_card
from dataconv.validators.base import factories, option_classes
from dataconv.validators.image import DecodeOptions

PACKAGE_FOLDERS = ("dataconv", "converters", "validators", "train", "export", "fixtures", "schemas")


def _imports_click(path: str) -> list[int]:
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    lines = []
    for node in ast.walk(tree):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
        if any(n == "click" or n.startswith("click.") for n in names):
            lines.append(node.lineno)
    return lines


def test_no_module_outside_the_cli_imports_click():
    offenders, scanned = [], 0
    for folder in PACKAGE_FOLDERS:
        for root, dirs, files in os.walk(os.path.join(REPO, folder)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            rel_root = os.path.relpath(root, REPO)
            if rel_root == os.path.join("dataconv", "cli") or rel_root.startswith(os.path.join("dataconv", "cli") + os.sep):
                continue
            for name in (f for f in files if f.endswith(".py")):
                scanned += 1
                offenders += [f"{rel_root}/{name}:{line}" for line in _imports_click(os.path.join(root, name))]
    assert scanned > 80
    assert offenders == []


def _modules_after(*argv: str) -> dict:
    code = ("import sys, json, contextlib, io\n"
            f"sys.argv = ['dataconv', *{list(argv)!r}]\n"
            "from dataconv.cli.launch import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        main()\n    except SystemExit as e:\n        code = e.code\n"
            "mods = sorted(sys.modules)\n"
            "print(json.dumps({'code': code, 'cv2': 'cv2' in mods,"
            " 'converters': [m for m in mods if m.startswith('dataconv.converters.')]}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [("--version",), ("validate", "--help")])
def test_version_and_validate_import_no_converter_and_no_opencv(argv):
    seen = _modules_after(*argv)
    assert seen == {"code": 0, "cv2": False, "converters": []}


def test_a_format_command_imports_only_its_own_converter():
    seen = _modules_after("gt-txt", "--help")
    assert seen["code"] == 0
    assert seen["converters"] == ["dataconv.converters.base", "dataconv.converters.gt_txt"]


def test_the_module_table_is_exactly_the_registry():
    assert set(MODULES) == set(converters.formats())
    for name in MODULES:
        assert converters.load(name).name == name
    assert converters.load("no-such-format") is None


def test_every_command_is_listed_without_loading_and_each_command_module_is_named_for_it():
    names = list(cli.commands)
    assert set(MODULES) <= set(names)
    assert {"validate", "charset", "report", "train", "export", "formats", "fixture", "predict"} <= set(names)
    for name in names:
        assert cli.commands[name].name == name


def test_switches_and_defaults_come_from_the_options_classes():
    """Each conversion command's parameters are, in order, the run's, the format's, --dedupe
    and every check's switches, with the classes' defaults."""
    for name in MODULES:
        info = converters.load(name)
        classes = [options.RunOptions, info.cls.Options, options.DedupeOptions, *option_classes()]
        expected = [s for cls in classes for s in switches(cls)]
        params = [p for p in cli.commands[name].params if p.name != "help"]
        assert [p.name for p in params] == [s.name for s in expected], name
        for param, switch in zip(params, expected):
            assert param.required == switch.required, (name, switch.name)
            if not switch.required and switch.name != "shard_bytes":  # shown as 2GB, read as bytes
                assert param.default == switch.default, (name, switch.name)


def test_click_values_become_the_typed_objects_with_the_same_values():
    ctx = cli.commands["minhon"].make_context("minhon", ["-i", REPO, "-o", "x", "--pad", "0.25",
                                                         "--ideographic-space", "space", "--max-height", "7"])
    got = options.from_kwargs(MinhonOptions, ctx.params)
    assert got == MinhonOptions(crop=CropSpec(pad=0.25, vertical_ratio=1.0, max_height=7),
                                ideographic_space="space")
    assert values(got) == {"pad": 0.25, "rotate_vertical": False, "vertical_ratio": 1.0, "max_height": 7,
                           "crop_format": "png", "task": "rec", "on_bad_box": "ignore",
                            "ideographic_space": "space", "encoding": "utf-8"}
    assert "[default: 1.0; x>=1.0]" in " ".join(run_cli("minhon", "--help").output.split())


def test_the_manifest_records_every_switch_by_its_name(tmp_path):
    src = gt_source(str(tmp_path / "src"), b"a.png\tone\nb.png\ttwo\n", {"a.png": png(1), "b.png": png(2)})
    out = str(tmp_path / "out")
    convert("gt-txt", src, out, "--sep", "tab", "--min-width", "3")
    recorded = load_json(os.path.join(out, "manifest.json"))["options"]
    run_only = options.RUN_ONLY
    expected = {s.name for cls in (options.RunOptions, GtTxtOptions, options.DedupeOptions, *option_classes())
                for s in switches(cls)} - run_only
    assert set(recorded) == expected
    assert (recorded["min_width"], recorded["sep"], recorded["shard_bytes"], recorded["split"]) == (3, "tab", 2 * 1024**3, "none")


def test_dedupe_is_a_pipeline_option_not_a_check(tmp_path):
    assert "dedupe" not in {f.name for f in factories()}
    same = png(5)
    src = gt_source(str(tmp_path / "src"), b"a.png\tone\nb.png\ttwo\nc.png\tthree\n",
                    {"a.png": same, "b.png": same, "c.png": png(6)})
    convert("gt-txt", src, str(tmp_path / "out"), "--dedupe")
    assert [(r["id"], r["reason"]) for r in rejects_of(str(tmp_path / "out"))] == [("b.png", "duplicate_image")]
    assert load_json(str(tmp_path / "out" / "manifest.json"))["counts"]["written"] == 2


def test_a_usage_error_raised_outside_the_cli_reads_as_clicks_own(tmp_path):
    src = gt_source(str(tmp_path / "src"), b"a.png\tone\n", {"a.png": png(1)})
    result = run_cli("gt-txt", "-i", src, "-o", str(tmp_path / "out"), "-q", "--workers", "1",
                     "--group-by", "meta:book", expect=2)
    assert result.output.startswith("Usage: dataconv gt-txt [OPTIONS]\nTry 'dataconv gt-txt --help' for help.\n")
    assert "Error: --group-by meta:book: no sample has a 'book' attribute" in result.output
    assert not (tmp_path / "out").exists()


def test_the_report_rebuilds_a_converter_with_the_classes_defaults(tmp_path):
    src = gt_source(str(tmp_path / "src"), b"a b.png\tx\n", {})
    converter = converter_from_card({"format": "gt-txt", "options": {"sep": "space", "gt": "gt.txt"}}, src)
    assert converter.options == GtTxtOptions(gt=os.path.join(src, "gt.txt"), sep="space")
    bare = converter_from_card({"format": "minhon"}, src)
    assert bare.options == MinhonOptions() and bare.options.crop.vertical_ratio == 1.0


@pytest.mark.parametrize("card, fragment", [
    ({"format": "gt-txt", "options": {"sep": "comma"}}, "option sep: 'comma' is not one of space, tab"),
    ({"format": "gt-txt", "options": {"encoding": "no-such-codec"}}, "unknown text encoding"),
    ({"format": "minhon", "options": {"max_height": True}}, "option max_height: not an integer"),
    ({"format": "minhon", "options": {"pad": 5}}, "option pad: 5 is out of range"),
    ({"format": "paddle-rec", "options": {}}, "option labels is required"),
    ({"format": ["gt-txt"]}, "unknown format"),
])
def test_a_damaged_manifest_is_a_dataconv_error(tmp_path, card, fragment):
    with pytest.raises(DataconvError) as caught:
        converter_from_card(card, str(tmp_path))
    assert fragment in str(caught.value)


def test_the_report_command_on_a_damaged_manifest_is_one_line(tmp_path):
    src = gt_source(str(tmp_path / "src"), b"a.png\tone\nmissing.png\ttwo\n", {"a.png": png(1)})
    out = str(tmp_path / "out")
    convert("gt-txt", src, out)
    path = os.path.join(out, "manifest.json")
    card = load_json(path)
    card["options"]["sep"] = "comma"
    with open(path, "w", encoding="utf-8") as f:
        json.dump(card, f)
    result = run_cli("report", out, "-o", str(tmp_path / "r.html"), "--source", src, expect=1)
    assert_one_line_error(result, "option sep: 'comma' is not one of space, tab")


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                           lambda inner: st.lists(inner, max_size=3), max_leaves=5)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(MODULES)), st.dictionaries(st.sampled_from(
    ["sep", "type", "kinds", "pad", "max_height", "vertical_ratio", "crop_format", "ideographic_space",
     "classes", "link", "also", "label_regex", "list_file", "sets"]), json_values, max_size=4))
def test_any_recorded_values_give_options_or_one_dataconv_error(fmt, recorded):
    """Whatever a manifest claims, the options are built within their declared choices and
    ranges, or refused as DataconvError; never another exception."""
    cls = converters.load(fmt).cls.Options
    names = {s.name for s in switches(cls)}
    recorded = {k: v for k, v in recorded.items() if k in names}
    if any(s.required for s in switches(cls)):
        recorded["labels"] = "x.txt"
    try:
        built = from_values(cls, recorded)
    except DataconvError:
        return
    for switch in switches(cls):
        value = values(built)[switch.name]
        kind = switch.spec.type
        if getattr(kind, "values", None) is not None:
            items = value if switch.spec.multiple else (value,)
            assert all(v in kind.values for v in items)
        if getattr(kind, "kind", None) is not None and value is not None:
            assert isinstance(value, kind.kind) and not isinstance(value, bool)


def test_the_check_options_object_reads_defaults_and_is_hashable():
    from dataconv.validators.base import CheckOptions

    given_options = CheckOptions((DecodeOptions(max_pixels=10),))
    assert given_options.of(DecodeOptions).max_pixels == 10
    assert CheckOptions().of(DecodeOptions) == DecodeOptions()
    assert hash(given_options) == hash(CheckOptions((DecodeOptions(max_pixels=10),)))
    assert all(dataclasses.is_dataclass(c) and c.__dataclass_params__.frozen for c in option_classes())
