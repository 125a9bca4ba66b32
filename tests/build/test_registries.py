"""The trainer and executor registries: a new trainer simulation or a new executor is one
module (or one registered class) and nothing else changes. A toy trainer dropped into the
trainers package shows up in ``validate --for`` with its switch and runs on a real LMDB; a
toy executor found by name runs a whole conversion whose output is byte-identical to
``--workers 1``."""
from __future__ import annotations

import importlib
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner

import dataconv.validators.trainers as trainers_pkg
from helpers import clovaai_tree, run_cli
from dataconv.build.executors import base as executors_base
from dataconv.build import pipeline
from dataconv.build.executors import bounded_ordered, executors, open_executor, register
from dataconv.build.pipeline import Config
from dataconv.cli.commands import validate as validate_cli
from dataconv.converters import base as converters
from dataconv.errors import DataconvError
from dataconv.fixtures.ocr_mix import make_ocr_mix
from dataconv.outputs.lmdb_writer import ShardWriter
from dataconv.validators.trainers import base as trainers_base
from dataconv.validators.trainers import trainers
from hostile_util import png

TOY_TRAINER = '''
from dataclasses import dataclass

from dataconv.validators.trainers.base import Switch, Trainer, register


@dataclass(frozen=True)
class ToyOptions:
    shout: bool = False


@register
class Toy(Trainer):
    name = "toy"
    Options = ToyOptions
    switches = (Switch("--shout", "shout", "upper-cases every label."),)
    default_max_length = 4
    length_key = "toy.max_len"

    def read_charset(self, raw, cs):
        return tuple(raw.decode("utf-8").strip())

    def steps(self, t, image):
        if self.o.shout:
            t.apply(t.label.upper(), "uppercased")
        t.limit(self.max_length)

    def covered_chars(self):
        return ""

    def fixes(self, needed, missing, alterations):
        return [f"toy.max_len={needed}"] if needed > self.max_length else []
'''
TOY_MODULE = "dataconv.validators.trainers.toy"


@pytest.fixture
def toy_trainer(tmp_path, monkeypatch):
    """toy.py in a folder added to the trainers package's path, a registry of its own."""
    folder = tmp_path / "more_trainers"
    folder.mkdir()
    (folder / "toy.py").write_text(TOY_TRAINER, "utf-8")
    monkeypatch.setattr(trainers_base, "_REGISTRY", trainers())  # every module imported first
    monkeypatch.setattr(trainers_pkg, "__path__", [*trainers_pkg.__path__, str(folder)])
    importlib.invalidate_caches()
    yield
    sys.modules.pop(TOY_MODULE, None)


@pytest.fixture
def lmdb_tree(tmp_path) -> str:
    root = tmp_path / "tree"
    with ShardWriter(str(root / "train" / "shard-00000")) as w:
        for label in ("ab", "cd", "toolong"):
            w.add(label, png())
    return str(root)


def test_a_toy_trainer_module_is_a_validate_choice_with_its_switch(toy_trainer, lmdb_tree):
    assert "toy" in trainers() and set(trainers()) >= {"clovaai", "mmocr", "paddleocr", "parseq"}
    command = validate_cli.build_command()
    runner = CliRunner()

    choices = next(p.type.choices for p in command.params if p.name == "trainer")
    assert "toy" in choices and "clovaai" in choices
    help_text = runner.invoke(command, ["--help"]).output
    assert "--shout" in help_text and "toy upper-cases every label." in help_text
    assert "toy toy.max_len" in help_text and "toy 4]" in help_text

    result = runner.invoke(command, [lmdb_tree, "--for", "toy", "--shout", "-q"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == ("toy: 3 samples, kept 2, dropped 1, altered 2 "
                                             "(length limit 4, longest label 7)")
    assert "dropped too_long: 1" in result.output and "altered uppercased: 2" in result.output
    assert "  toy.max_len=7" in result.output

    result = runner.invoke(command, [lmdb_tree, "--for", "clovaai", "--shout", "-q"])
    assert result.exit_code == 2 and "--for clovaai has no switch for shout" in result.output
    result = runner.invoke(command, [lmdb_tree, "--for", "toy", "--sensitive", "-q"])
    assert result.exit_code == 2 and "--for toy has no switch for sensitive" in result.output


def test_the_toy_trainer_leaves_no_trace_after_its_test():
    assert "toy" not in trainers() and TOY_MODULE not in sys.modules
    run_cli("validate", ".", "--for", "toy", expect=2)


class ThreadedToy:
    """Work on two threads in tiny chunks, results in order through the shared window."""

    name = "toy-threads"
    chunk_samples = 3
    used: list[str] = []

    def __init__(self, settings: executors_base.ExecutorSettings) -> None:
        self.pool = ThreadPoolExecutor(max_workers=2)

    def map_ordered(self, fn, items):
        def run(item):
            ThreadedToy.used.append(threading.current_thread().name)
            return fn(item)

        return bounded_ordered(lambda item: self.pool.submit(run, item), items, window=4)

    def close(self, abort: bool = False) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture
def toy_executor(monkeypatch):
    monkeypatch.setattr(executors_base, "_REGISTRY", executors())  # every module imported first
    register(ThreadedToy)
    ThreadedToy.used.clear()
    return ThreadedToy


def output_of(out: str) -> dict[str, object]:
    """Every file dataconv writes, and every LMDB's records read back."""
    found: dict[str, object] = {name: open(os.path.join(out, name), "rb").read()
                                for name in ("manifest.json", "samples.parquet", "rejects.jsonl", "charset.txt")}
    found["lmdb"] = clovaai_tree(out)
    return found


def test_a_toy_executor_by_name_converts_exactly_as_workers_1(toy_executor, tmp_path, monkeypatch):
    assert set(executors()) == {"dask", "inprocess", "local", "toy-threads"}
    with open_executor(name="toy-threads") as executor:
        assert isinstance(executor, ThreadedToy)
        assert list(executor.map_ordered(lambda n: n * n, range(50))) == [n * n for n in range(50)]

    src = str(tmp_path / "src")
    make_ocr_mix(src, n=60, lines=6, corrupt=3, seed=2)
    args = ["gt-txt", "-i", src, "-q", "--shard-size", "15"]
    run_cli(*args, "-o", tmp_path / "w1", "--workers", "1")
    ThreadedToy.used.clear()
    # the CLI's choice for --workers 1 is looked up by name: here it names the toy
    monkeypatch.setattr(executors_base, "chosen_name", lambda workers, dask: "toy-threads")
    run_cli(*args, "-o", tmp_path / "toy", "--workers", "1")
    assert ThreadedToy.used and all(name.startswith("ThreadPoolExecutor") for name in ThreadedToy.used)
    one, toy = output_of(str(tmp_path / "w1")), output_of(str(tmp_path / "toy"))
    assert len(one["lmdb"]) >= 4 and toy == one


def test_a_run_names_its_executor_in_its_config(toy_executor, tmp_path):
    """The Python API: ``Config.executor`` picks an executor by name for the whole run."""
    src = str(tmp_path / "src")
    make_ocr_mix(src, n=30, lines=3, corrupt=2, seed=3)
    info = converters.load("gt-txt")
    outputs = {}
    for name in ("inprocess", "toy-threads"):
        out = str(tmp_path / name)
        config = Config(src=src, out=out, shard_size=10, executor=name, progress=False)
        card = pipeline.run(info.cls(src, info.cls.Options()), config)
        assert card["counts"]["input"] == card["counts"]["written"] + card["counts"]["rejected"]
        outputs[name] = output_of(out)
    assert ThreadedToy.used and outputs["toy-threads"] == outputs["inprocess"]


def test_an_unknown_executor_name_is_one_line():
    with pytest.raises(DataconvError, match=r"unknown executor 'ray' \(known: dask, inprocess, local\)"):
        with open_executor(name="ray"):
            pass
