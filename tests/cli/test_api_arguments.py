"""The Python API checks its arguments (dataconv/api.py ``_check``): a wrong type is a TypeError
naming the argument (a bool is never an int), an unknown option or a refused value the
UsageError the command line gives; ``dataset[i]`` indexes by position (negative from the end,
IndexError past it) as a sequence with ``len()`` and iteration is expected to."""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dataconv
from dataconv.build.conversion import DedupeOptions, RunOptions
from dataconv.converters import base as converters
from dataconv.errors import UsageError
from dataconv.optionspec import switches
from dataconv.validators.base import option_classes
from dataconv.validators.trainers import trainers
from helpers import run_cli
from hostile_util import gt_source, png


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("api")
    images = {f"{i}.png": png(i) for i in range(7)}
    src = gt_source(str(root / "src"), "".join(f"{k}\tl{k[0]}\n" for k in images).encode(), images)
    run_cli("gt-txt", "-i", src, "-o", str(root / "out"), "-q", "--workers", "1", "--split", "0.6,0.2,0.2")
    return str(root / "out")


def test_positional_indexing_follows_iteration(out):
    with dataconv.open(out) as dataset:
        records = list(dataset)
        assert len(records) == len(dataset) == 7
        for position, record in enumerate(records):
            assert dataset[position] == record == dataset[position - len(records)] == dataset[record.key]
        assert dataset[np.int64(2)] == records[2]  # any integer type (operator.index)
        assert dataset.split("val")[0] == next(iter(dataset.split("val")))
        for position in (7, -8, 10**30):
            with pytest.raises(IndexError, match=rf"dataconv.Dataset\[{position}\]: out of range, .* 7 samples"):
                dataset[position]


@pytest.mark.parametrize("key", [True, 1.0, None, b"train/shard-00000:1", slice(0, 2), [0]])
def test_any_other_key_is_a_type_error_naming_the_accepted_keys(out, key):
    with dataconv.open(out) as dataset, pytest.raises(TypeError, match="key must be an int position .*'SHARD:INDEX'"):
        dataset[key]


WRONG = [None, True, 3, 2.5, "text", b"bytes", [1], {"a": 1}, object()]


def takes(value: object, *kinds: type) -> bool:
    return isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)


# (function name, call with one argument set to the value, the types it takes)
CALLS = [
    ("open", "path", lambda v: dataconv.open(v), (str, os.PathLike)),
    ("convert", "format", lambda v: dataconv.convert(v, "src", "out"), (str,)),
    ("convert", "src", lambda v: dataconv.convert("gt-txt", v, "out"), (str, os.PathLike)),
    ("validate", "max_label_length", lambda v: dataconv.validate("x", "parseq", max_label_length=v), (int, type(None))),
    ("validate", "charset", lambda v: dataconv.validate("x", "parseq", charset=v), (str, type(None))),
    ("validate", "quiet", lambda v: dataconv.validate("x", "parseq", quiet=v), (bool,)),
    ("validate", "trainer", lambda v: dataconv.validate("x", v), (str,)),
    ("validate", "sensitive", lambda v: dataconv.validate("x", "clovaai", sensitive=v), (bool,)),
    ("report", "seed", lambda v: dataconv.report("x", "y.html", seed=v), (int,)),
    ("report", "out", lambda v: dataconv.report("x", v), (str, os.PathLike)),
]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(CALLS), st.sampled_from(WRONG))
def test_a_wrong_type_is_a_type_error_naming_the_argument(call, value):
    function, name, invoke, kinds = call
    if takes(value, *kinds):
        return
    with pytest.raises(TypeError, match=rf"^dataconv\.{function}\(\): {name} must be "):
        invoke(value)


def convert_switches() -> list:
    info = converters.load("gt-txt")
    return [s for cls in (RunOptions, info.cls.Options, DedupeOptions, *option_classes()) for s in switches(cls)
            if s.name not in ("src", "out")]


@pytest.mark.parametrize("switch", convert_switches(), ids=lambda s: s.name)
def test_every_option_of_convert_is_checked_by_type(tmp_path, switch):
    wrong = [b"bytes", object(), 1 if switch.is_flag else True]
    for value in wrong:
        with pytest.raises(TypeError, match=rf"^dataconv\.convert\(\): {switch.name} must be "):
            dataconv.convert("gt-txt", str(tmp_path), str(tmp_path / "out"), **{switch.name: value})


def test_every_trainer_switch_of_validate_is_checked_by_type(out):
    checked = 0
    for name, trainer in trainers().items():
        for switch in trainer.switches:
            with pytest.raises(TypeError, match=rf"^dataconv\.validate\(\): {switch.param} must be "):
                dataconv.validate(out, name, **{switch.param: b"bytes"})
            checked += 1
    assert checked >= 5


def test_the_issue_examples(out):
    with dataconv.open(out) as dataset:
        assert dataset[0] == next(iter(dataset))
    with pytest.raises(TypeError, match=r"max_label_length must be an int or None, not bool True"):
        dataconv.validate(out, "parseq", max_label_length=True)
    with pytest.raises(UsageError, match="max_label_length: 0 is not an integer >= 1"):
        dataconv.validate(out, "parseq", max_label_length=0)
    with pytest.raises(UsageError, match="report has no option colour"):
        dataconv.report(out, "r.html", colour=1)
