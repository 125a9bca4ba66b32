"""The reject reasons are one closed registry (dataconv/reasons.py): the docs list exactly
its rows, every reason the code names is registered, and an unregistered one is refused."""
from __future__ import annotations

import ast
import os
import random
import re

import pytest

from dataconv.errors import SampleRejected
from dataconv.fixtures.hostile import hostile_images
from dataconv.outputs import hints
from dataconv.reasons import REASONS, STAGES, known
from dataconv.sample import Reject
from helpers import REPO

CODE_ROOTS = ("dataconv", "converters", "validators", "train", "export", "fixtures")
GUARANTEES = os.path.join(REPO, "docs", "guarantees.md")
# Constructors of a rejection, and the position of the reason among their arguments.
REASON_ARG = {"SampleRejected": 0, "Rejected": 0, "Reject": 1}
REASON_WORD = re.compile(r"^[a-z]+(_[a-z]+)*$")


def docs_table() -> dict[str, tuple[str, str, str]]:
    """The rows of guarantees.md's "Reject reasons" table: reason -> (meaning, stage, formats)."""
    with open(GUARANTEES, encoding="utf-8") as f:
        text = f.read()
    section = text.split("\n## Reject reasons\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[str, str, str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        name = cells[0].strip("`")
        assert name not in rows, f"{name} has two rows in docs/guarantees.md"
        rows[name] = (cells[1], cells[2], cells[3])
    return rows


def test_docs_list_exactly_the_registry_with_the_same_meaning():
    expected = {r.name: (r.meaning, ", ".join(r.stages), r.formats) for r in REASONS.values()}
    documented = docs_table()
    assert sorted(documented) == sorted(expected)
    for name, row in expected.items():
        assert documented[name] == row, f"docs/guarantees.md row of {name}: expected {row}"


def test_registry_entries_are_well_formed():
    for reason in REASONS.values():
        assert REASON_WORD.match(reason.name), reason.name
        assert reason.stages and set(reason.stages) <= set(STAGES), reason
        assert reason.meaning and "\n" not in reason.meaning and "|" not in reason.meaning


def python_files() -> list[str]:
    found = []
    for root in CODE_ROOTS:
        for folder, _, names in os.walk(os.path.join(REPO, root)):
            found += [os.path.join(folder, n) for n in names if n.endswith(".py")]
    return sorted(found)


def _callee(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _call_reasons(node: ast.Call) -> list[str]:
    """Reason literals passed to a call: at the reason position of a rejection's constructor,
    as ``reason=``, or as a reason word given to a helper named ``*reject*``."""
    name = _callee(node)
    found = [_literal(k.value) for k in node.keywords if k.arg == "reason"]
    if name in REASON_ARG and len(node.args) > REASON_ARG[name]:
        found.append(_literal(node.args[REASON_ARG[name]]))
    elif "reject" in name.lower():
        found += [v for v in map(_literal, node.args) if v and REASON_WORD.match(v)]
    return [v for v in found if v is not None]


def _compared_reasons(node: ast.Compare) -> list[str]:
    """Literals compared with a ``.reason`` attribute (``e.reason == "missing_image"``)."""
    sides = [node.left, *node.comparators]
    if not any(isinstance(s, ast.Attribute) and s.attr == "reason" for s in sides):
        return []
    values = []
    for side in sides:
        items = side.elts if isinstance(side, (ast.Tuple, ast.Set, ast.List)) else [side]
        values += [v for v in map(_literal, items) if v is not None]
    return values


def reasons_in_code() -> dict[str, list[str]]:
    """Every reject reason string literal in the package's code -> where it occurs."""
    used: dict[str, list[str]] = {}
    for path in python_files():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                values = _call_reasons(node)
            elif isinstance(node, ast.Compare):
                values = _compared_reasons(node)
            else:
                continue
            for value in values:
                used.setdefault(value, []).append(f"{os.path.relpath(path, REPO)}:{node.lineno}")
    return used


def test_every_reason_in_the_code_is_registered_and_every_registered_one_is_used():
    used = reasons_in_code()
    unregistered = {r: where for r, where in used.items() if r not in REASONS}
    assert unregistered == {}
    assert sorted(set(REASONS) - set(used)) == []


def test_reasons_in_tables_and_fixtures_are_registered():
    assert set(hints.ADVICE) <= set(REASONS)
    assert hints.SELECTIONS <= set(REASONS)
    expected = {case.reason for case in hostile_images(random.Random(0)).values()} - {None}
    assert expected and expected <= set(REASONS)


@pytest.mark.parametrize("make", [lambda r: SampleRejected(r, "x"), lambda r: Reject("gt.txt:1", r)])
def test_an_unregistered_reason_is_refused(make):
    with pytest.raises(ValueError, match="unregistered reject reason 'missing_imgae'"):
        make("missing_imgae")
    assert make("missing_image").reason == "missing_image"
    assert known("duplicate_id") == "duplicate_id"
