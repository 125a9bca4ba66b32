"""The output seam and the reader seam (issue 14, items 2-4), on real files.

* A second, toy output format (a folder of files per shard) driven by the same
  format-free ``RotatingWriter`` as the LMDB writer cuts the same shards.
* ``dataconv.io.dataset_reader`` returns exactly what a direct ``lmdb`` read returns,
  with the one split table (train, train/real, val and its aliases, test, no split).
* Its per-process handle cache is closed before fork; a forked child reads its own.
* Every run finishes through the one accounting path (LMDB and COCO alike).
* No import circle anywhere in the package.
"""
from __future__ import annotations

import ast
import hashlib
import os
import struct
from collections import Counter

import lmdb
import pytest
from hypothesis import given, settings, strategies as st

from helpers import REPO, assert_accounted, load_json, read_lmdb, rejects_of, run_cli
from dataconv.io import dataset_reader
from dataconv.outputs import lmdb_writer
from dataconv.outputs.shard_writer import RotatingWriter, ShardRecord



class FolderShard:
    """A toy second output format: one file per sample, ``NNNNNNNNN.txt`` holding the label
    and ``NNNNNNNNN.bin`` the bytes; the digest is a sha256 over the files in order."""

    def __init__(self, path: str) -> None:
        os.makedirs(path)
        self.path = path
        self.count = 0
        self.payload_bytes = 0
        self._hash = hashlib.sha256()
        self.aborted = False

    def add(self, label: str, data: bytes) -> int:
        self.count += 1
        encoded = label.encode("utf-8")
        for ext, body in (("txt", encoded), ("bin", data)):
            with open(os.path.join(self.path, f"{self.count:09d}.{ext}"), "wb") as f:
                f.write(body)
            self._hash.update(struct.pack(">Q", len(body)) + body)
        self.payload_bytes += len(encoded) + len(data)
        return self.count

    def close(self) -> str:
        return self._hash.hexdigest()

    def abort(self) -> None:
        self.aborted = True


def read_folder_shard(path: str) -> list[tuple[str, bytes]]:
    names = sorted(n[:-4] for n in os.listdir(path) if n.endswith(".txt"))
    assert names == [f"{i:09d}" for i in range(1, len(names) + 1)]  # 1-based, no gaps
    out = []
    for name in names:
        with open(os.path.join(path, name + ".txt"), "rb") as f, open(os.path.join(path, name + ".bin"), "rb") as g:
            out.append((f.read().decode("utf-8"), g.read()))
    return out


def write_both(tmp_path, samples: list[tuple[str, bytes]], max_bytes: int, max_count: int | None):
    """The same samples through the LMDB writer and the toy writer, same rotation policy."""
    folder = RotatingWriter(str(tmp_path / "folder"), "t", FolderShard, max_bytes, max_count)
    lmdbs = lmdb_writer.RotatingWriter(str(tmp_path / "lmdb"), "t", max_bytes, max_count)
    placed = [(folder.add(label, data), lmdbs.add(label, data)) for label, data in samples]
    return placed, folder.close(), lmdbs.close()


def test_a_second_format_rotates_like_the_lmdb_writer(tmp_path):
    samples = [(f"라벨 {i}", os.urandom(1000 + 37 * i)) for i in range(23)]
    placed, folder, lmdbs = write_both(tmp_path, samples, max_bytes=6000, max_count=None)
    assert [a for a, _ in placed] == [b for _, b in placed]  # same (shard, index) for each sample
    assert [(r.name, r.count) for r in folder] == [(r.name, r.count) for r in lmdbs]
    assert [r.count for r in lmdbs] == [5, 4, 4, 3, 3, 3, 1]
    assert all(isinstance(r, ShardRecord) for r in folder + lmdbs)
    back_folder = [s for r in folder for s in read_folder_shard(str(tmp_path / "folder" / r.name))]
    back_lmdb = [s for r in lmdbs for s in read_lmdb(str(tmp_path / "lmdb" / r.name))]
    assert back_folder == back_lmdb == samples
    for r in lmdbs:  # the LMDB digest is the one the manifest records
        assert r.digest == lmdb_writer.content_digest(str(tmp_path / "lmdb" / r.name))


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(0, 400), min_size=1, max_size=40),
       max_bytes=st.integers(1, 1500), max_count=st.one_of(st.none(), st.integers(1, 7)))
def test_rotation_policy_for_any_sizes(tmp_path_factory, sizes, max_bytes, max_count):
    """Every sample lands once, in order; a shard passes neither limit unless it holds a
    single sample; the policy is the same whatever the format."""
    tmp = tmp_path_factory.mktemp("rot")
    samples = [(str(i), b"x" * n) for i, n in enumerate(sizes)]
    placed, folder, lmdbs = write_both(tmp, samples, max_bytes, max_count)
    assert [a for a, _ in placed] == [b for _, b in placed]
    assert sum(r.count for r in folder) == len(samples)
    assert [(r.name, r.count) for r in folder] == [(r.name, r.count) for r in lmdbs]
    start = 0
    for record in folder:
        shard = samples[start:start + record.count]
        start += record.count
        assert record.count == 1 or sum(len(d) for _, d in shard) <= max_bytes
        assert max_count is None or record.count <= max_count
        assert read_folder_shard(str(tmp / "folder" / record.name)) == shard


def test_abort_reaches_the_format_writer(tmp_path):
    rot = RotatingWriter(str(tmp_path), "t", FolderShard, max_bytes=10)
    rot.add("a", b"12345678")
    current = rot._current
    rot.abort()
    assert current.aborted and rot.close() == []


# -- the reader ---------------------------------------------------------------------------

TREE = {"train/shard-00000": 3, "train/real/shard-00000": 2, "val/shard-00000": 2,
        "valid/x": 1, "validation/y": 1, "test/shard-00000": 4, "other/z": 2}
SPLIT_OF = {"train/shard-00000": "train", "train/real/shard-00000": "train", "val/shard-00000": "val",
            "valid/x": "val", "validation/y": "val", "test/shard-00000": "test", "other/z": None}


def make_tree(root) -> dict[str, list[tuple[str, bytes]]]:
    written = {}
    for rel, n in TREE.items():
        samples = [(f"{rel}-{i}", os.urandom(50 + i)) for i in range(n)]
        with lmdb_writer.ShardWriter(os.path.join(root, rel)) as w:
            for label, data in samples:
                w.add(label, data)
        written[rel] = samples
    return written


def test_reader_returns_what_lmdb_holds_with_one_split_table(tmp_path):
    root = str(tmp_path / "tree")
    make_tree(root)
    dataset = dataset_reader.open_dataset(root)
    assert [s.rel for s in dataset.shards] == sorted(TREE)
    assert {s.rel: s.split for s in dataset.shards} == SPLIT_OF
    for shard in dataset.shards:
        direct = read_lmdb(shard.path)  # the plain lmdb package, no dataconv code
        assert [(r.label, r.image) for r in shard.records()] == direct
        assert shard.count() == len(direct)
        assert [(r.label, r.image) for r in shard.read([len(direct), 1])] == [direct[-1], direct[0]]
    assert {s: [sh.rel for sh in shards] for s, shards in dataset.splits().items()} == {
        "train": ["train/real/shard-00000", "train/shard-00000"],
        "val": ["val/shard-00000", "valid/x", "validation/y"], "test": ["test/shard-00000"]}


def test_reads_while_this_process_holds_a_handle(tmp_path):
    """A training run or a random-access read leaves a handle open in this process, and
    LMDB refuses a second environment on the same file: every read borrows that handle,
    and a read with none open leaves none behind."""
    root = str(tmp_path / "tree")
    written = make_tree(root)
    shard = dataset_reader.open_dataset(root).shards[0]
    expected = [(label.encode(), data) for label, data in written[shard.rel]]
    assert [(r.label_bytes, r.image) for r in shard.records()] == expected
    assert (os.getpid(), shard.path) not in dataset_reader._HANDLES
    dataset_reader.handle(shard.path)
    try:
        assert [(r.label_bytes, r.image) for r in shard.records()] == expected
        assert shard.count() == len(expected)
        assert [r.image for r in shard.read([1])] == [expected[0][1]]
    finally:
        dataset_reader.close_handles()


def test_every_reading_command_uses_the_same_splits(tmp_path):
    """charset and validate read an LMDB under no split folder as train, the report shows
    it as 'all', train leaves it out; each from the same table."""
    from dataconv.cli.commands.charset import count_chars
    from dataconv.reporting.dataset import walk_lmdbs
    from dataconv.train.lmdb_dataset import find_splits
    from dataconv.validators.trainer_report import samples as validate_samples

    root = str(tmp_path / "tree")
    written = make_tree(root)
    expected = {rel: SPLIT_OF[rel] or "train" for rel in TREE}
    by_key = {key.split(":")[0]: split for key, split, _, _ in validate_samples(root)}
    assert by_key == expected
    chars = count_chars(root)
    for split in ("train", "val", "test"):
        labels = "".join(label for rel, samples in written.items() if expected[rel] == split
                         for label, _ in samples)
        assert dict(chars[split]) == dict(Counter(labels))
    frame, total = walk_lmdbs(root, cap=1000)
    assert total == sum(TREE.values())
    assert dict(zip(frame["shard"], frame["split"])) == {rel: SPLIT_OF[rel] or "all" for rel in TREE}
    assert {s: sorted(os.path.relpath(p, root) for p in paths) for s, paths in find_splits(root).items()} == {
        "train": ["train/real/shard-00000", "train/shard-00000"],
        "val": ["val/shard-00000", "valid/x", "validation/y"], "test": ["test/shard-00000"]}


def test_parseq_layout_is_read_back_as_train(tmp_path):
    from dataconv.fixtures.aihub import make_aihub

    src, out = str(tmp_path / "src"), str(tmp_path / "out")
    make_aihub(src, n=40, faults=False)
    run_cli("aihub", "-i", src, "-o", out, "-q", "--layout", "parseq")
    card = assert_accounted(out)
    shards = dataset_reader.open_dataset(out).shards
    assert [(s.rel, s.split, s.count()) for s in shards] == sorted(
        (e["path"], e["split"], e["count"]) for e in card["shards"])
    assert any(s.rel.startswith("train/real/") for s in shards)


def test_handles_are_per_process_and_closed_before_fork(tmp_path):
    root = str(tmp_path / "tree")
    written = make_tree(root)
    path = os.path.join(root, "val/shard-00000")
    assert dataset_reader.read_sample(path, 2) == (written["val/shard-00000"][1][1],
                                                   written["val/shard-00000"][1][0].encode())
    assert (os.getpid(), path) in dataset_reader._HANDLES
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own handle, opened on its first read
        try:
            fresh = (os.getpid(), path) not in dataset_reader._HANDLES and not dataset_reader._HANDLES
            image, label = dataset_reader.read_sample(path, 1)
            os.write(write_end, bytes([fresh]) + label + b"\0" + image)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        got = f.read()
    os.waitpid(pid, 0)
    fresh, rest = got[0], got[1:]
    label, image = rest.split(b"\0", 1)
    assert fresh == 1 and (label.decode(), image) == written["val/shard-00000"][0]
    assert dataset_reader._HANDLES == {}  # the parent closed its own before the fork
    assert dataset_reader.read_sample(path, 1)[0] == image  # and reopens on its next read
    dataset_reader.close_handles()


def test_lmdb_open_is_only_the_checked_one():
    """Every LMDB the package reads is opened by lmdb_tree.open_readonly; the other opens
    are the shard writer's and the fixture generator's, which write."""
    found = []
    for module, path in package_modules():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "open" and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "lmdb"):
                found.append(module)
    assert sorted(found) == ["dataconv.fixtures.lmdb_source", "dataconv.io.lmdb_tree",
                             "dataconv.outputs.lmdb_writer"]


# -- one run function, one accounting path ----------------------------------------------

def test_lmdb_and_coco_outputs_finish_through_one_accounting_path(tmp_path):
    from dataconv.fixtures.ndl_layout import make
    from dataconv.fixtures.aihub import make_aihub

    make(str(tmp_path / "ndl"))
    make_aihub(str(tmp_path / "ai"), n=30)
    for fmt, src in (("ndl-layout", "ndl"), ("aihub", "ai")):
        out = str(tmp_path / f"out-{fmt}")
        run_cli(fmt, "-i", str(tmp_path / src), "-o", out, "-q")
        card = load_json(os.path.join(out, "manifest.json"))
        counts = card["counts"]
        assert counts["input"] == counts["written"] + counts["rejected"] > 0
        rows = rejects_of(out)
        assert len(rows) == counts["rejected"] == sum(card["rejects"].values())
        assert all(set(r) == {"source", "reason", "detail", "id"} for r in rows)
        assert card["format"] == fmt and set(card) >= {"options", "dataconv_version", "shards", "charset"}


def test_the_cli_runs_every_format_through_pipeline_run():
    """No converter carries a run of its own: the CLI calls pipeline.run for every format."""
    from dataconv.build import pipeline
    from dataconv.converters.base import Converter, formats

    assert not hasattr(Converter, "build")
    for info in formats().values():
        assert "build" not in vars(info.cls), info.name
        assert info.cls.output in pipeline.OUTPUTS, info.name


# -- no import circles --------------------------------------------------------------------

FOLDERS = {"dataconv": "dataconv", "converters": "dataconv.converters", "validators": "dataconv.validators",
           "train": "dataconv.train", "export": "dataconv.export", "fixtures": "dataconv.fixtures"}


def package_modules() -> list[tuple[str, str]]:
    """(module name, file) of every Python file of the installed package."""
    found = []
    for folder, name in FOLDERS.items():
        for here, dirs, files in os.walk(os.path.join(REPO, folder)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for file in (f for f in files if f.endswith(".py")):
                rel = os.path.relpath(os.path.join(here, file), os.path.join(REPO, folder))[:-3]
                parts = [p for p in rel.split(os.sep) if p != "__init__"]
                found.append((".".join([name, *parts]), os.path.join(here, file)))
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports anywhere in its file (module level, inside
    functions, under TYPE_CHECKING). An import of one of its own parent packages is left
    out: the parent is always initialised first, and registries import their package only
    to list its modules."""
    modules = dict(package_modules())
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        is_package = path.endswith("__init__.py")
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = module.split(".")[: len(module.split(".")) - node.level + is_package]
                    base = ".".join(anchor + ([base] if base else []))
                targets.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                               for a in node.names)
        graph[module] = {t for t in targets if t in modules and t != module
                         and not module.startswith(t + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_no_import_circles():
    graph = import_graph()
    assert {"dataconv.build.pipeline", "dataconv.build.shards", "dataconv.io.dataset_reader"} <= set(graph)
    assert "dataconv.build.shards" in graph["dataconv.build.pipeline"]
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
