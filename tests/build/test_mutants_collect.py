"""Gaps that mutation testing of the parallel collect (collect.py, the line spans of
textfile.py, the packed index, the split from the workers' hashes) found untested."""
from __future__ import annotations

import re
import zipfile

import numpy as np
import pytest

from dataconv.build import collect as collecting
from dataconv.build import splits as splitter
from dataconv.build.sample_index import ColumnBuilder, SampleIndex, TextColumn
from dataconv.converters.base import formats
from dataconv.converters.pagejson import JSON_BYTES, json_files
from dataconv.errors import DataconvError
from dataconv.fixtures.base import fixtures
from dataconv.io import corrections as corrections_file
from dataconv.io import textfile
from dataconv.io.corrections import Decision, format_line
from dataconv.io.safeopen import InputFile
from dataconv.io.source import SourceRoot
from dataconv.io.textfile import line_spans, read_lines
from dataconv.sample import BytesImage, FileImage, Reject, Sample
from dataconv.validators.corrections import Corrections


def _sample(sample_id: str, source: str) -> Sample:
    return Sample(id=sample_id, label="w", image=FileImage("/r", f"{sample_id}.png"), source=source)


# --- collect.py ---------------------------------------------------------------------------

def test_nothing_parsed_is_a_total_of_nothing():
    assert collecting.collect(iter([]), False).total == 0
    assert collecting.parse_part(lambda: iter([])).total == 0


def test_a_repeat_of_a_dropped_id_names_the_source_of_the_dropped_one(tmp_path):
    """A sample the corrections drop still claims its id: a later sample with it is a
    duplicate of the dropped one, whose source the reject names."""
    path = tmp_path / "c.tsv"
    path.write_text(format_line("s1", Decision("drop")), encoding="utf-8")
    corrections = Corrections(str(path), "warn", corrections_file.read(str(path)))
    items = [_sample("s1", "gt.txt:1"), _sample("s1", "gt.txt:2")]
    collected = collecting.collect(iter(items), False, corrections.then(None))
    assert [(seq, r.reason, r.detail) for seq, r in collected.rejects] == [
        (0, "correction_drop", "c.tsv:1"), (1, "duplicate_id", "id 's1' already used at gt.txt:1")]


def test_the_progress_bar_names_what_it_counts(capsys):
    collecting.collect(iter([_sample("a", "gt.txt:1"), Reject("gt.txt:2", "missing_image", "", "b")]), True)
    assert re.search(r"(^|\r)reading annotations: 2 samples ", capsys.readouterr().err)


def test_an_id_of_a_lone_surrogate_is_hashed_like_any_other():
    """Ids of undecodable file names carry lone surrogates (surrogateescape)."""
    parsed = collecting.parse_part(lambda: iter([_sample("lone \udc80", "gt.txt:1"), _sample("x", "gt.txt:2")]))
    assert parsed.total == 2 and len(parsed.id_hashes) == 16
    assert parsed.id_hashes[:8] == collecting.id_hash("lone \udc80") != collecting.id_hash("lone ")


# --- textfile.py --------------------------------------------------------------------------

def test_an_empty_label_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_bytes(b"")
    with pytest.raises(DataconvError) as e:
        list(read_lines(str(path)))
    assert str(e.value) == f"{path}: empty label file"


def test_a_file_in_a_folder_is_cut_and_one_in_an_archive_is_not(tmp_path):
    """A folder's file is opened where it lies and seeks cheaply; an archive's member is
    streamed, so it is read whole."""
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "gt.txt").write_bytes(b"a.png\tx\n" * 100)
    spans = line_spans(InputFile.inside(str(folder), "gt.txt"), "utf-8", 80)
    assert spans is not None and len(spans) == 10
    packed = str(tmp_path / "src.zip")
    with zipfile.ZipFile(packed, "w") as z:
        z.write(folder / "gt.txt", "gt.txt")
    member = InputFile.inside(SourceRoot.of(packed), "gt.txt")
    assert line_spans(member, "utf-8", 80) is None
    assert list(read_lines(member)) == [(n, "a.png\tx") for n in range(1, 101)]


def test_a_last_line_of_exactly_the_longest_length_is_still_cut_and_read(tmp_path, monkeypatch):
    """MAX_LINE_BYTES without a newline is a line read_lines reads (it refuses more), so
    the file is still cut."""
    monkeypatch.setattr(textfile, "MAX_LINE_BYTES", 32)
    monkeypatch.setattr(textfile, "SCAN_BYTES", 8)
    path = tmp_path / "gt.txt"
    path.write_bytes(b"a.png\tx\n" * 10 + b"b" * 32)
    spans = line_spans(str(path), "utf-8", 16)
    assert spans is not None and spans[-1] == (80, 112, 11)
    assert [line for span in spans for line in read_lines(str(path), "utf-8", span)] == list(read_lines(str(path)))
    assert list(read_lines(str(path)))[-1] == (11, "b" * 32)


# --- splits.py ----------------------------------------------------------------------------

def test_a_sample_keeps_the_split_earlier_versions_gave_it():
    """The split of a key under a seed is stable across versions (the values 3500d1a
    gave), whether the driver hashes it or the workers do (``Grouping.hashes``)."""
    keys = [f"s{i}" for i in range(12)] + ["\ud55c", "lone \udc80"]
    want = ["train", "train", "val", "train", "train", "test", "train", "val", "train", "val", "train", "train",
            "test", "train"]
    samples = SampleIndex.of((n, Sample(k, "w", BytesImage(b"x"), f"s:{n}")) for n, k in enumerate(keys))
    ratios = (0.5, 0.25, 0.25)
    assert list(splitter.assign_splits(samples, ratios, 7).values()) == want
    grouping = splitter.Grouping(7)
    hashes = np.frombuffer(b"".join(grouping.hashes(s) for _, s in samples), np.uint8).reshape(-1, splitter.GROUP_HASH)
    assert [splitter.SPLITS[n] for n in splitter.assign_hashed(samples, ratios, grouping, {}, hashes)] == want
    assert splitter.unit_hash(0, "a") == 0.31129886779379917


# --- pagejson.py --------------------------------------------------------------------------

def test_json_per_image_parts_hold_part_bytes_worth_of_label_files(tmp_path):
    """A part is ``part_bytes // JSON_BYTES`` label JSONs (at least one); a source that
    fits in one part is parsed whole (None); the parts' items, part after part, are the
    items of the parse in the driver."""
    src = str(tmp_path / "src")
    fixtures()["aihub-admin"][0](src, n=10, seed=3)
    info = formats()["aihub-admin"]
    converter = info.cls(src, info.cls.Options())
    files = len(json_files(converter.src))
    assert files >= 4
    cuts = (1, JSON_BYTES * 3 - 1, JSON_BYTES * 3, JSON_BYTES * (files - 1), JSON_BYTES * files)
    sizes = {part_bytes: [len(p.args[1]) for p in converter.parts(part_bytes) or []] for part_bytes in cuts}
    assert sizes[1] == [1] * files
    assert sizes[JSON_BYTES * 3 - 1] == [2] * (files // 2) + [1] * (files % 2)
    assert sizes[JSON_BYTES * 3] == [3] * (files // 3) + [files % 3] * (files % 3 > 0)
    assert sizes[JSON_BYTES * (files - 1)] == [files - 1, 1]
    assert sizes[JSON_BYTES * files] == []
    whole = [(s.id, s.label, s.source) for s in converter.samples() if isinstance(s, Sample)]
    again = info.cls(src, info.cls.Options())
    parted = [(s.id, s.label, s.source) for part in again.parts(JSON_BYTES * 3) for s in part()
              if isinstance(s, Sample)]
    assert parted == whole and len(whole) > files


def test_a_worker_builds_its_image_index_once_a_run_and_again_for_the_next(tmp_path):
    """The parts of one run share the process's image index; a later run over the same
    folder walks it again (its images may have changed in between)."""
    src = str(tmp_path / "src")
    fixtures()["aihub-admin"][0](src, n=6, seed=3)
    info = formats()["aihub-admin"]
    converter = info.cls(src, info.cls.Options())
    first, second = converter.parts(1)[:2]
    assert any(isinstance(item, Sample) for item in first())
    index = converter.index
    list(second())
    assert converter.index is index
    for image in [p for p in (tmp_path / "src").rglob("*") if p.is_file() and p.suffix != ".json"]:
        image.unlink()
    later = info.cls(src, info.cls.Options())
    items = [(type(item).__name__, item.id) for part in later.parts(1) for item in part()]
    assert items == [(type(item).__name__, item.id) for item in info.cls(src, info.cls.Options()).samples()]
    assert {kind for kind, _ in items} == {"Reject"}


def test_a_hash_exactly_at_the_second_cut_is_test_as_the_driver_gives_it():
    """u == train + val ratio is not below the cut: test, not val (as ``assign``)."""
    samples = SampleIndex.of([(0, Sample("a", "x", BytesImage(b"1"), "s:1"))])
    cut = splitter.unit_hash(0, "a")
    ratios = (0.0, cut, 1.0 - cut)
    grouping = splitter.Grouping(0)
    hashes = np.frombuffer(grouping.hashes(samples[0][1]), np.uint8).reshape(1, -1)
    assert splitter.assign_hashed(samples, ratios, grouping, {}, hashes).tolist() == [2]
    assert splitter.assign_splits(samples, ratios, 0) == {0: "test"}


# --- sample_index.py ----------------------------------------------------------------------

def _column(texts: list) -> TextColumn:
    builder = ColumnBuilder()
    builder.extend(texts)
    return builder.finish()


def test_joined_columns_hold_the_rows_of_each_and_no_more():
    first, second = ["ab", None, "\ud55c"], ["x" * 70, "", "lone \udc80"]
    joined = TextColumn.concat([_column(first), _column(second)])
    assert len(joined) == 6 and list(joined) == first + second
    assert [joined.at(i) for i in range(6)] == first + second
    assert list(TextColumn.concat([])) == []


def test_joined_columns_keep_offsets_of_four_bytes_under_4_gib():
    joined = TextColumn.concat([_column(["a" * 100] * 3), _column(["b" * 100] * 3)])
    assert joined.ends.itemsize == 4 and list(joined) == ["a" * 100] * 3 + ["b" * 100] * 3


def test_a_none_takes_no_bytes_of_its_column():
    column = _column([None, "a", None, "\ud55c", None])
    assert bytes(column.data) == "a\ud55c".encode() and list(column) == [None, "a", None, "\ud55c", None]


def test_an_image_under_an_equal_root_is_kept_as_a_name():
    """Roots equal but not the same object (as after a pickle) still hold the image as
    its name under the root, not as an object of its own."""
    roots = ["".join(["/sr", "c"]) for _ in range(3)]
    samples = [(n, Sample(f"s{n}", "w", FileImage(root, f"{n}.png"), f"gt.txt:{n}")) for n, root in enumerate(roots)]
    assert roots[0] is not roots[1]
    index = SampleIndex.of(samples)
    assert index.objects == {} and list(index) == samples
