"""The parallel collect: a label file cut into line spans that the workers parse gives the
samples, seqs, rejects and output bytes of the parse in the driver, for any cut."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataconv.build import collect as collecting
from dataconv.build.executors import open_executor
from dataconv.build.sample_index import Builder, ColumnBuilder, SampleIndex
from dataconv.converters.base import Converter, LineFileConverter, formats
from dataconv.converters.pagejson import PerImageJson
from dataconv.converters.gt_txt import GtTxt, GtTxtOptions
from dataconv.errors import DataconvError
from dataconv.fixtures.base import fixtures
from dataconv.io import textfile
from dataconv.io.textfile import line_spans, read_lines
from hostile_util import png
from test_scale import _fingerprint
from test_trust_loud import SOURCES, make_source

# pieces of label files: every line ending, multibyte text, tabs, NUL, blank lines
PIECES = [b"a", b"\n", b"\r", b"\r\n", "\ud55c".encode(), b" ", b"\t", b"\x00", b"img.png\t", b"x"]


def _lines(path: str, spans: list | None) -> list:
    try:
        if spans is None:
            return list(read_lines(path))
        return [line for span in spans for line in read_lines(path, "utf-8", span)]
    except Exception as e:  # noqa: BLE001 - the same error either way is what is compared
        return [repr(e)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.sampled_from(PIECES), max_size=80), bom=st.booleans(),
       part_bytes=st.integers(1, 40), scan_bytes=st.integers(1, 16))
def test_spans_read_the_lines_of_the_whole_file(tmp_path, monkeypatch, pieces, bom, part_bytes, scan_bytes):
    data = (b"\xef\xbb\xbf" if bom else b"") + b"".join(pieces)
    path = str(tmp_path / "gt.txt")
    with open(path, "wb") as f:
        f.write(data)
    monkeypatch.setattr(textfile, "SCAN_BYTES", scan_bytes)
    try:
        spans = line_spans(path, "utf-8", part_bytes)
    except DataconvError as e:  # a file read_lines refuses: with the same message
        assert _lines(path, None) == [repr(e)]
        return
    if spans is None:  # one span: no newline to end a first span before the end
        assert b"\n" not in data[3 * bom:][part_bytes - 1:-1]
        return
    assert spans[0].start == 3 * bom and spans[-1].end == len(data)
    assert all(a.end == b.start and data[a.end - 1:a.end] == b"\n" for a, b in zip(spans, spans[1:]))
    assert all(s.end - s.start >= part_bytes for s in spans[:-1])
    assert _lines(path, spans) == _lines(path, None)


def test_a_file_is_not_cut_where_the_cut_would_change_what_is_read(tmp_path):
    plain = tmp_path / "gt.txt"
    plain.write_bytes(b"a.png\tx\n" * 100)
    assert len(line_spans(str(plain), "utf-8", 80)) == 10
    assert line_spans(str(plain), "utf-16", 80) is None  # newlines of two bytes
    assert line_spans(str(plain), "utf-8", 10_000) is None  # one span
    long = tmp_path / "long.txt"  # a line read_lines refuses, naming it, in its span too
    long.write_bytes(b"a.png\tx\n" * 10 + b"b" * (textfile.MAX_LINE_BYTES + 2) + b"\n" + b"a.png\tx\n" * 10)
    spans = line_spans(str(long), "utf-8", 16)
    assert len(spans) == 11 and _lines(str(long), spans) == _lines(str(long), None)
    assert "long.txt:11: a line longer than" in _lines(str(long), None)[0]
    endless = tmp_path / "endless.txt"  # no newline in sight: not scanned on into memory
    endless.write_bytes(b"a.png\tx\n" * 10 + b"b" * (textfile.MAX_LINE_BYTES + textfile.SCAN_BYTES + 1))
    assert line_spans(str(endless), "utf-8", 16) is None


def test_packing_a_batch_gives_the_bytes_of_each_string():
    column = ColumnBuilder()
    texts = ["ab", None, "", "\ud55c\uae00", "lone \udc80", "x" * 5]
    column.extend(texts[:3])
    column.extend(texts[3:])
    assert list(column.finish()) == texts
    assert list(ColumnBuilder().finish()) == []


def _gt_lines(lines: list[tuple[int, str]]) -> bytes:
    return b"".join(line.encode() + (b"\n", b"\r\n", b"\r")[ending] for ending, line in lines)


LINE = st.one_of(
    st.sampled_from(["a.png\tA", "b.png\tB", "sub/c.png\t\ud55c", "a.png\tagain", "", "  ", "no separator",
                     "nul\x00.png\tx", "d.png\t", "\ud55c.png\tlabel with\ttab"]),
    st.builds(lambda n: f"img{n}.png\tw{n}", st.integers(0, 30)))


@pytest.fixture(scope="module")
def pool():
    with open_executor(2, None, None) as executor:
        yield executor


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.tuples(st.integers(0, 2), LINE), min_size=2, max_size=60),
       part_bytes=st.integers(1, 64))
def test_parts_parsed_on_workers_collect_what_the_driver_collects(tmp_path, pool, lines, part_bytes):
    (tmp_path / "gt.txt").write_bytes(_gt_lines(lines))
    converter = GtTxt(str(tmp_path), GtTxtOptions())
    parts = converter.parts(part_bytes)
    serial = collecting.collect(converter.samples(), False)
    if parts is None:
        return
    parallel = collecting.collect_parts(parts, pool, False)
    assert parallel.samples == serial.samples and list(parallel.samples.seqs) == list(serial.samples.seqs)
    assert parallel.rejects == serial.rejects and parallel.total == serial.total


def test_repeated_ids_are_found_whatever_part_they_are_in(tmp_path, pool):
    rows = [f"img{i % 7}.png\tw{i}\n" for i in range(40)]
    (tmp_path / "gt.txt").write_text("".join(rows))
    converter = GtTxt(str(tmp_path), GtTxtOptions())
    collected = collecting.collect_parts(converter.parts(30), pool, False)
    assert [sample.id for _, sample in collected.samples] == [f"img{i}.png" for i in range(7)]
    assert len(collected.rejects) == 33
    seq, reject = collected.rejects[-1]
    assert (seq, reject.reason, reject.detail) == (39, "duplicate_id", "id 'img4.png' already used at gt.txt:5")


def test_ids_with_one_hash_are_told_apart_by_their_text():
    """Only where two hashes are equal are the ids compared: equal hashes of different
    ids (a collision) reject nothing."""
    builder = Builder()
    for seq, sample_id in enumerate(["x", "y", "x", "z"]):
        builder.add(seq, _sample(sample_id))
    index = builder.finish()
    import numpy as np

    assert collecting.repeated_ids(index, np.zeros(4, np.uint64)) == {2: 0}
    assert collecting.repeated_ids(index, np.arange(4, dtype=np.uint64)) == {}


def _sample(sample_id: str):
    from dataconv.sample import FileImage, Sample

    return Sample(id=sample_id, label="w", image=FileImage("/r", sample_id), source=f"gt.txt:{sample_id}")


PART_FORMATS = sorted(name for name, info in formats().items() if info.cls.parts is not Converter.parts)


def test_the_formats_parsed_in_parts_are_the_line_files_and_the_json_per_image_sets():
    line_files = sorted(n for n, info in formats().items() if issubclass(info.cls, LineFileConverter))
    per_image = sorted(n for n, info in formats().items() if issubclass(info.cls, PerImageJson))
    assert line_files == ["gt-txt", "icdar2015-rec", "mjsynth", "paddle-rec"]
    assert per_image == ["aihub-admin", "aihub-forms", "aihub-nia", "aihub-outdoor", "labelme"]
    assert PART_FORMATS == sorted(line_files + per_image)


@pytest.mark.parametrize("fmt", PART_FORMATS)
def test_every_format_in_parts_writes_the_bytes_of_the_parse_in_the_driver(tmp_path, monkeypatch, fmt):
    fixture, extra = SOURCES[fmt]
    src = str(tmp_path / "src")
    fixtures()[fixture][0](src, n=24, seed=3)
    args = [a.format(src=src) for a in extra]

    def convert(out: str, *more: str) -> dict:
        from helpers import run_cli

        run_cli(fmt, "-i", src, "-o", out, "-q", "--shard-size", "7", *args, *more)
        return _fingerprint(out)

    one = convert(str(tmp_path / "w1"), "--workers", "1")
    monkeypatch.setenv("DATACONV_PART_BYTES", "97")
    info = formats()[fmt]
    converter = info.cls(src, info.cls.Options(**({"labels": args[-1]} if args else {})))
    assert len(converter.parts(97)) >= 5  # the path under test is the parallel one
    assert convert(str(tmp_path / "w2"), "--workers", "2") == one
    monkeypatch.delenv("DATACONV_PART_BYTES")
    none = convert(str(tmp_path / "w1none"), "--workers", "1", "--split", "none")
    monkeypatch.setenv("DATACONV_PART_BYTES", "97")
    assert convert(str(tmp_path / "w2none"), "--workers", "2", "--split", "none") == none


def test_the_command_parses_in_parts_with_forked_workers_and_dask(tmp_path, monkeypatch):
    src = str(tmp_path / "src")
    fixtures()["ocr-mix"][0](src, n=120, seed=2)
    with open(os.path.join(src, "gt.txt"), "a", encoding="utf-8") as f:
        f.write("words/absent.jpg\tx\nno separator\n" + open(os.path.join(src, "gt.txt")).readline())
    run = [sys.executable, "-m", "dataconv", "gt-txt", "-i", src, "-q", "--shard-size", "30"]
    subprocess.run(run + ["-o", str(tmp_path / "w1"), "--workers", "1"], check=True)
    one = _fingerprint(str(tmp_path / "w1"))
    env = dict(os.environ, DATACONV_PART_BYTES="200")
    subprocess.run(run + ["-o", str(tmp_path / "w2"), "--workers", "2"], check=True, env=env)
    assert _fingerprint(str(tmp_path / "w2")) == one
    subprocess.run(run + ["-o", str(tmp_path / "dask"), "--workers", "2", "--dask", "local"], check=True, env=env)
    assert _fingerprint(str(tmp_path / "dask")) == one


@pytest.mark.parametrize("bad, message", [
    (b"\xff\xfe broken\tx\n", "gt.txt:{line}: not valid utf-8 (byte 0xff at column 1)"),
    (b"b" * (textfile.MAX_LINE_BYTES + 1) + b"\n", "gt.txt:{line}: a line longer than"),
])
def test_a_fault_in_a_later_part_is_the_error_the_driver_gives(tmp_path, bad, message):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.png").write_bytes(png())
    (src / "gt.txt").write_bytes(b"a.png\tx\n" * 300 + bad + b"a.png\ty\n" * 10)
    for workers in ("1", "2"):
        result = subprocess.run([sys.executable, "-m", "dataconv", "gt-txt", "-i", str(src), "-o",
                                 str(tmp_path / f"out{workers}"), "-q", "--workers", workers],
                                capture_output=True, text=True, env=dict(os.environ, DATACONV_PART_BYTES="100"))
        assert result.returncode == 1 and message.format(line=301) in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and not (tmp_path / f"out{workers}").exists()


def test_a_part_size_that_is_no_whole_number_is_one_line(tmp_path):
    src = make_source("gt-txt", tmp_path / "src")[0]
    result = subprocess.run([sys.executable, "-m", "dataconv", "gt-txt", "-i", src, "-o", str(tmp_path / "o")],
                            capture_output=True, text=True, env=dict(os.environ, DATACONV_PART_BYTES="0"))
    assert result.returncode == 1 and "DATACONV_PART_BYTES='0': expected a whole number" in result.stderr


def test_concat_keeps_every_kind_of_sample(tmp_path):
    from dataconv.sample import BytesImage, FileImage, Sample

    first = [(0, Sample("a", "A", FileImage("/r", "a.png"), "s:1", meta={"k": 1})),
             (1, Sample("b", "B", BytesImage(b"x"), "s:2", group="g"))]
    second = [(0, Sample("c", "C", FileImage("/r", "c.png"), "s:3", page="p")), (1, "not a sample")]
    joined = SampleIndex.concat([SampleIndex.of(first), SampleIndex.of(second)], [0, 10])
    assert list(joined) == first + [(10, second[0][1]), (11, "not a sample")]
    other_root = [(0, Sample("d", "D", FileImage("/elsewhere", "d.png"), "s:4"))]
    joined = SampleIndex.concat([SampleIndex.of(first), SampleIndex.of(other_root)], [0, 5])
    assert list(joined) == first + [(5, other_root[0][1])]
    assert list(SampleIndex.concat([], [])) == []
