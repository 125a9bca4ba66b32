"""The packed sample index: every sample comes back equal (any text, lone surrogates and
escaped file names included, every image kind, meta, groups, pages), in any selection and
order, through pickle; and it costs a small part of what the objects cost."""
from __future__ import annotations

import os
import pickle
import tracemalloc

from hypothesis import given, settings, strategies as st

from dataconv.build.collect import collect
from dataconv.build.sample_index import SampleIndex
from dataconv.converters.base import formats
from dataconv.sample import BytesImage, FileImage, Sample

ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=6)  # surrogates too
OPTIONAL = st.none() | ANY_TEXT
SAMPLE = st.builds(
    Sample, id=ANY_TEXT, label=ANY_TEXT, source=ANY_TEXT, group=OPTIONAL, page=OPTIONAL,
    image=st.one_of(st.builds(FileImage, root=st.sampled_from(["/a", "/b"]), rel=ANY_TEXT),
                    st.builds(BytesImage, data=st.binary(max_size=8))),
    meta=st.dictionaries(ANY_TEXT, st.integers() | ANY_TEXT, max_size=2))
# what no converter should yield, but the index must give back as it came
ODD = st.builds(Sample, id=st.integers() | ANY_TEXT, label=st.none() | st.integers(), source=ANY_TEXT,
                group=st.integers(), image=st.builds(FileImage, root=st.just("/a"), rel=st.integers()),
                meta=st.none())
SAMPLES = st.lists(st.tuples(st.integers(0, 2**62), SAMPLE | ODD), max_size=12)


@settings(max_examples=200, deadline=None)
@given(samples=SAMPLES, data=st.data())
def test_every_sample_comes_back_equal_in_any_selection(samples, data) -> None:
    index = SampleIndex.of(samples)
    assert list(index) == samples and len(index) == len(samples)
    for column in index.text.values():
        assert [column.at(i) for i in range(len(column))] == list(column)
    rows = data.draw(st.lists(st.integers(0, len(samples) - 1), max_size=20) if samples else st.just([]))
    assert list(index.take(rows)) == [samples[i] for i in rows]
    back = pickle.loads(pickle.dumps(index.take(rows)))
    assert list(back) == [samples[i] for i in rows]
    assert [type(s.image) for _, s in back] == [type(samples[i][1].image) for i in rows]
    start, stop, step = data.draw(st.tuples(st.integers(-15, 15), st.integers(-15, 15),
                                            st.integers(1, 3) | st.integers(-3, -1)))
    assert list(index[start:stop:step]) == samples[start:stop:step]
    if samples:
        at = data.draw(st.integers(-len(samples), len(samples) - 1))
        assert index[at] == samples[at]


def test_an_escaped_file_name_and_a_lone_surrogate_label() -> None:
    name = b"\xff\xfe.png".decode("utf-8", "surrogateescape")
    samples = [(7, Sample(name, "\ud800x", FileImage("/src", name), "gt.txt:1", page="p\udfff"))]
    assert list(pickle.loads(pickle.dumps(SampleIndex.of(samples)))) == samples


def test_the_index_of_a_parse_costs_under_a_quarter_of_the_objects(tmp_path) -> None:
    """20,000 gt.txt lines: the packed index the driver keeps, against the same samples
    as (seq, Sample) objects (about 600 bytes a sample, measured before the index)."""
    src = tmp_path / "src"
    os.makedirs(src)
    (src / "gt.txt").write_text("".join(f"words/{i:07d}.jpg\t단어{i % 97}\n" for i in range(20_000)),
                                encoding="utf-8")
    cls = formats()["gt-txt"].cls
    sizes = {}
    for name, keep in (("index", lambda c: collect(c.samples(), False).samples),
                       ("objects", lambda c: list(enumerate(c.samples())))):
        tracemalloc.start()
        kept = keep(cls(str(src), cls.Options()))
        sizes[name] = tracemalloc.get_traced_memory()[0] / len(kept)
        tracemalloc.stop()
        del kept
    assert sizes["index"] < 0.25 * sizes["objects"], sizes


def test_offsets_take_four_bytes_while_a_field_holds_under_4_gib() -> None:
    samples = [(i, Sample(f"id{i}", "라벨" * 20, FileImage("/src", f"{i}.png"), f"gt.txt:{i}")) for i in range(100)]
    index = SampleIndex.of(samples)
    assert {column.ends.itemsize for column in index.text.values()} == {4}
    assert {column.ends.itemsize for column in index.take([5, 1]).text.values()} == {4}


@settings(max_examples=25, deadline=None)
@given(texts=st.lists(st.one_of(st.none(), st.text(max_size=4), st.sampled_from(["a", "\ud55c", "\udc80", ""])),
                      min_size=1, max_size=30),
       extra=st.integers(1, 60))
def test_columns_read_in_batches_across_batch_edges(texts, extra) -> None:
    """Rows are decoded ROWS_AT_ONCE at a time, cut by character offsets: every string
    comes back, ASCII or not, before, across and after a batch's edge."""
    from dataconv.build.sample_index import ROWS_AT_ONCE, ColumnBuilder

    rows = (texts * (ROWS_AT_ONCE // len(texts) + 61))[:ROWS_AT_ONCE + extra]
    builder = ColumnBuilder()
    builder.extend(rows)
    column = builder.finish()
    assert list(column) == rows
    assert column.strings(ROWS_AT_ONCE - 1, len(rows)) == rows[ROWS_AT_ONCE - 1:]
    assert [column.at(i) for i in (0, ROWS_AT_ONCE - 1, ROWS_AT_ONCE, len(rows) - 1)] == \
        [rows[0], rows[ROWS_AT_ONCE - 1], rows[ROWS_AT_ONCE], rows[-1]]
