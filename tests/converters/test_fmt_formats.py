"""`dataconv formats` lists every source format with a one-line help and an example."""
from __future__ import annotations

from helpers import run_cli
from dataconv.converters.base import formats
from dataconv.fixtures.base import fixtures

NEW = ["minhon", "icdar2015", "icdar2015-rec", "paddle-det", "paddle-rec", "mjsynth",
       "coco-text", "textocr", "lmdb", "ndl-layout"]


def test_every_format_listed_with_help_and_example():
    lines = run_cli("formats").output.splitlines()
    for info in formats().values():
        row = next(i for i, line in enumerate(lines) if line.split()[0] == info.name)
        assert info.help in lines[row] and "\n" not in info.help
        assert lines[row + 1].strip() == f"e.g. {info.example}"
        assert info.example.startswith(f"dataconv {info.name} ")
    assert set(NEW) <= set(formats())


def test_every_new_format_has_a_fixture_and_help_page():
    assert set(NEW) <= set(fixtures())
    for name in NEW:
        assert "Example:" in run_cli(name, "--help").output
