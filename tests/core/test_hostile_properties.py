"""Property-based tests: every parser, fed arbitrary bytes or JSON, yields Sample/Reject or
raises DataconvError, nothing else; fed valid input generated here, it must accept it and
give exactly the lines, values, samples and counts the generator put in (a refusal of
valid input fails); labels of arbitrary Unicode survive write and read byte-exact
(through the LMDB writer, AI Hub JSON, and gt-txt lines)."""
from __future__ import annotations

import json
import os
import re
import shutil
import unicodedata
from functools import lru_cache
from typing import Callable, Iterable

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from helpers import read_lmdb, run_cli
from dataconv.cli import options
from dataconv.build import splits
from dataconv.io import schema
from dataconv.io import textfile
from dataconv.outputs import lmdb_writer as writer
from dataconv.cli.main import cli
from dataconv.converters import base as converters
from dataconv.converters.aihub import AiHub, AiHubOptions
from dataconv.converters.gt_txt import label_file_samples, split_line
from dataconv.errors import DataconvError, SampleRejected, UsageError
from dataconv.fixtures.base import fixtures
from dataconv.sample import Reject, Sample
from dataconv.validators.base import Candidate as CheckItem
from dataconv.validators.label import reject_unwritable_text
from hostile_util import (accounted, aihub_document, aihub_source, assert_one_line_error, convert,
                          gt_source, png, written_labels)

# HOSTILE_EXAMPLES=2000 pytest tests/core/test_hostile_properties.py for a deep local run.
EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "60"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
SLOW = settings(SETTINGS, max_examples=max(1, EXAMPLES // 3))

# Tokens that break parsers more often than random bytes do.
TOKENS = [b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\r", b"\n", b"\t", b" ", b",", b'"', b"\\",
          b"{", b"}", b"[", b"]", b":", b"../", b"/", b"-1", b"1e999", b"NaN", b"null", b"###",
          b"\xed\xa0\x80", b'"\\ud800"', b"\xea\xb0\x80", b"9" * 30, b"\x1b[2J"]
chunks = st.one_of(st.binary(max_size=24), st.sampled_from(TOKENS))
hostile_bytes = st.lists(chunks, max_size=12).map(b"".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)
ids = st.one_of(st.integers(-3, 12), st.text(max_size=6), st.sampled_from(["0001", "1", "01"]))


def consume(stream: Callable[[], Iterable], refusable: bool = True) -> list:
    """Every item of a converter's stream; only Sample/Reject, or a one-line DataconvError
    where the input may be invalid (``refusable``): on valid input the error propagates
    and fails the test."""
    try:
        got = list(stream())
    except DataconvError as e:
        if not refusable:
            raise
        assert str(e) and "\n" not in str(e)
        return []
    for item in got:
        assert isinstance(item, (Sample, Reject)), item
        if isinstance(item, Sample):
            assert isinstance(item.id, str) and isinstance(item.label, str)
        else:
            json.dumps(item.to_json(), ensure_ascii=False).encode("utf-8")  # always writable
    return got


# --- line splitting and text files ---------------------------------------------------

@SETTINGS
@given(st.text(), st.sampled_from(["tab", "space"]))
def test_split_line_never_raises(line, sep):
    parts = split_line(line, sep)
    if parts is not None and sep == "tab":
        assert "\t".join(parts) == line and "\t" not in parts[0]


# Text no reader may refuse: no surrogate (not encodable), no U+FEFF (a leading one is a BOM).
valid_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufeff"))
# A gt-txt field: no line end, no NUL (corruption), and for the image path no tab.
label_field = valid_text.filter(lambda s: not set(s) & {"\n", "\r", "\x00"})
path_field = label_field.filter(lambda s: "\t" not in s and s.strip() != "")


def expected_lines(text: str) -> list[str]:
    """The lines of ``text`` as the docs define them: CRLF, LF and a lone CR end a line; a
    final line ending starts no new line. Written without textfile's own splitter."""
    lines = re.split("\r\n|\r|\n", text)
    return lines[:-1] if lines[-1] == "" else lines


@SETTINGS
@given(valid_text.filter(lambda s: s != "" and "\x00" not in s),  # NUL: corruption, or UTF-16 without a BOM
       st.sampled_from(["utf-8", "cp949", "euc-kr", "utf-16", "utf-8-sig"]))
def test_read_lines_returns_every_line_of_valid_text(tmp_path, text, encoding):
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        assume(False)
    path = tmp_path / "gt.txt"
    path.write_bytes(data)
    assert list(textfile.read_lines(str(path), encoding)) == list(enumerate(expected_lines(text), start=1))


@SETTINGS
@given(hostile_bytes, st.sampled_from(["utf-8", "cp949", "euc-kr", "utf-16", "utf-8-sig"]))
def test_read_lines_yields_clean_lines_or_one_error(tmp_path, data, encoding):
    path = tmp_path / "gt.txt"
    path.write_bytes(data)
    try:
        lines = list(textfile.read_lines(str(path), encoding))
    except DataconvError as e:
        assert str(e).startswith(str(path)) and "\n" not in str(e)
        return
    assert [n for n, _ in lines] == list(range(1, len(lines) + 1))
    assert not any("\n" in line or "\r" in line for _, line in lines)


@SETTINGS
@given(path_field, label_field)
def test_split_line_splits_valid_lines_exactly(path, label):
    assert split_line(f"{path}\t{label}", "tab") == (path, label)
    word = re.sub(r"\s", "_", path)  # --sep space: a path without whitespace, a label not starting with one
    assume(not label[:1].isspace() and not re.match(r"\s", label))
    if label:
        assert split_line(f"{word} {label}", "space") == (word, label)


@SETTINGS
@given(hostile_bytes, st.sampled_from(["tab", "space"]))
def test_gt_txt_parser_on_arbitrary_bytes(tmp_path, data, sep):
    (tmp_path / "gt.txt").write_bytes(data)
    consume(lambda: label_file_samples(str(tmp_path), str(tmp_path / "gt.txt"), sep, "utf-8"))


@SETTINGS
@given(st.lists(st.tuples(path_field, label_field), min_size=1, max_size=8), st.sampled_from(["\n", "\r\n", "\r"]))
def test_gt_txt_parser_on_valid_lines(tmp_path, rows, newline):
    """Each line is one Sample with the path and label as written, sourced to its line."""
    (tmp_path / "gt.txt").write_bytes(newline.join(f"{p}\t{lab}" for p, lab in rows).encode("utf-8"))
    got = consume(lambda: label_file_samples(str(tmp_path), str(tmp_path / "gt.txt"), "tab", "utf-8"),
                  refusable=False)
    assert [(s.id, s.label, s.source) for s in got] == [
        (p, lab, f"gt.txt:{n}") for n, (p, lab) in enumerate(rows, start=1)]


# --- JSON loading, schema, AI Hub joining ----------------------------------------------

@SETTINGS
@given(hostile_bytes)
def test_load_json_on_arbitrary_bytes(tmp_path, data):
    path = tmp_path / "x.json"
    path.write_bytes(data)
    try:
        schema.load_json(str(path))
    except DataconvError as e:
        assert "\n" not in str(e)


valid_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | valid_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(valid_text, inner, max_size=4),
    max_leaves=20)


@SETTINGS
@given(valid_json, st.booleans())
def test_load_json_returns_valid_documents_exactly(tmp_path, document, ascii_only):
    path = tmp_path / "x.json"
    path.write_text(json.dumps(document, ensure_ascii=ascii_only), encoding="utf-8")
    assert schema.load_json(str(path)) == document


def run_aihub(root: str, document) -> list:
    src = aihub_source(root, document)
    got = consume(AiHub(src, AiHubOptions()).samples)
    shutil.rmtree(src)
    return got


@SETTINGS
@given(json_values)
def test_aihub_on_arbitrary_json(tmp_path, document):
    run_aihub(str(tmp_path / "src"), document)


@SETTINGS
@given(st.lists(st.tuples(ids, ids, st.text(max_size=8)), max_size=6),
       st.dictionaries(ids, st.text(min_size=1, max_size=10), max_size=6))
def test_aihub_on_schema_shaped_documents(tmp_path, pairs, files):
    """Whatever the ids and names, a schema-valid document is read (never refused) and each
    annotation and each unannotated image is one item."""
    document = aihub_document(pairs, files={k: v for k, v in files.items()})
    src = aihub_source(str(tmp_path / "src"), document)
    got = consume(AiHub(src, AiHubOptions()).samples, refusable=False)
    shutil.rmtree(src)
    joined = {str(i) for _, i, _ in pairs}
    unannotated = [str(k) for k in files if str(k) not in joined]
    assert len(got) == len(pairs) + len(unannotated)
    assert sorted(r.id for r in got if isinstance(r, Reject) and r.reason == "unannotated_image") == sorted(unannotated)


# --- every converter, its fixture's annotation files mutated ---------------------------

FUZZED = {  # format: (fixture, extra arguments; {src} is the source folder)
    "gt-txt": ("ocr-mix", ()), "aihub": ("aihub-htr", ()), "icdar2015": ("icdar2015", ()),
    "icdar2015-rec": ("icdar2015-rec", ()), "mjsynth": ("mjsynth", ()),
    "paddle-det": ("paddle-det", ("--labels", "{src}/label.txt")),
    "paddle-rec": ("paddle-rec", ("--labels", "{src}/rec_gt_train.txt")),
    "coco-text": ("coco-text", ()), "textocr": ("textocr", ()), "minhon": ("minhon", ()),
}
IMAGE_EXTS = (".png", ".jpg", ".jpeg")


@lru_cache(maxsize=None)
def fixture_tree(fixture: str, root: str) -> tuple[str, tuple[str, ...]]:
    """The fixture written once; returns (folder, its annotation files)."""
    dest = os.path.join(root, fixture)
    fixtures()[fixture][0](dest, n=3, seed=0)
    found = sorted(os.path.relpath(os.path.join(d, f), dest) for d, _, names in os.walk(dest)
                   for f in names if not f.lower().endswith(IMAGE_EXTS))
    return dest, tuple(found)


mutations = st.lists(st.tuples(st.sampled_from(["cut", "insert", "insert", "overwrite", "overwrite", "replace"]),
                               st.floats(0, 1), chunks), min_size=1, max_size=3)


def mutate(data: bytes, edits) -> bytes:
    for kind, where, chunk in edits:
        at = int(where * len(data))
        data = {"cut": data[:at], "insert": data[:at] + chunk + data[at:],
                "overwrite": data[:at] + chunk + data[at + len(chunk):],
                "replace": chunk}[kind]
    return data


def converter_for(fmt: str, src: str, extra: tuple[str, ...]):
    info = converters.get(fmt)
    args = ["-i", src, "-o", src + ".out", *extra]
    ctx = cli.commands[fmt].make_context(fmt, args)
    return info.cls(src, options.from_kwargs(info.cls.Options, ctx.params))


def mutated_source(fmt: str, base: str, data) -> tuple[str, tuple[str, ...]]:
    """A fresh copy of the format's fixture with one annotation file mutated."""
    fixture, extra = FUZZED[fmt]
    clean, files = fixture_tree(fixture, os.path.join(base, "fuzz-fixtures"))
    work = os.path.join(base, "fuzz-work", fmt)
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(clean, work, symlinks=True)
    target = os.path.join(work, data.draw(st.sampled_from(files)))
    with open(target, "rb") as f:
        original = f.read()
    with open(target, "wb") as f:
        f.write(mutate(original, data.draw(mutations)))
    return work, tuple(a.format(src=work) for a in extra)


@settings(SETTINGS, max_examples=EXAMPLES * 2)
@given(st.sampled_from(sorted(FUZZED)), st.data())
def test_every_converter_on_mutated_annotations(tmp_path_factory, fmt, data):
    src, extra = mutated_source(fmt, str(tmp_path_factory.getbasetemp()), data)
    consume(converter_for(fmt, src, extra).samples)


@settings(SETTINGS, max_examples=max(1, EXAMPLES // 4))
@given(st.sampled_from(sorted(FUZZED)), st.integers(1, 4), st.integers(0, 10_000))
def test_every_fixture_converts_to_its_stated_counts(tmp_path_factory, fmt, n, seed):
    """Unmutated, any size and seed: exit 0 and exactly the input count and rejects per
    reason that the generator states from what it wrote."""
    fixture, extra = FUZZED[fmt]
    src = str(tmp_path_factory.mktemp("valid") / fixture)
    want = fixtures()[fixture][0](src, n=n, seed=seed)["expected"]
    out = src + ".out"
    convert(fmt, src, out, *(a.format(src=src) for a in extra))
    card = accounted(out)
    assert (card["counts"]["input"], card["rejects"]) == (want["input"], want["rejects"])
    shutil.rmtree(src)
    shutil.rmtree(out)


@settings(SETTINGS, max_examples=max(1, EXAMPLES // 4))
@given(st.sampled_from(sorted(FUZZED)), st.data())
def test_every_conversion_on_mutated_annotations(tmp_path_factory, fmt, data):
    """End to end: exit 0 with reconciled counts, or exit 1 with one line."""
    src, extra = mutated_source(fmt, str(tmp_path_factory.getbasetemp()), data)
    out = src + ".out"
    result = convert(fmt, src, out, *extra, "--overwrite", expect=None)
    if result.exit_code == 0:
        accounted(out)
    else:
        assert_one_line_error(result)


# --- labels of arbitrary Unicode round-trip byte-exact ---------------------------------

# every label text but a NUL, which is corruption and rejected (nul_byte) in every format, and
# Hangul compatibility jamo (U+3131-U+318E), a half-typed syllable rejected as broken_label
labels = st.text(min_size=1, max_size=30).filter(
    lambda s: s.strip() != "" and "\x00" not in s and not re.search("[\u3131-\u318e]", s))


@SETTINGS
@given(st.lists(st.tuples(st.text(max_size=40), st.binary(max_size=64)), min_size=1, max_size=20))
def test_shard_writer_round_trip(tmp_path, samples):
    path = str(tmp_path / "shard")
    shutil.rmtree(path, ignore_errors=True)
    with writer.ShardWriter(path, map_size=64 * 1024) as w:
        for label, data in samples:
            w.add(label, data)
    assert read_lmdb(path) == samples


@SLOW
@given(st.lists(labels, min_size=1, max_size=6))
def test_aihub_labels_round_trip(tmp_path, texts):
    document = aihub_document([(str(i), str(i), t) for i, t in enumerate(texts)])
    src = aihub_source(str(tmp_path / "src"), document, {f"{i}.png": png() for i in range(len(texts))})
    out = str(tmp_path / "out")
    convert("aihub", src, out, "--normalize", "none", "--overwrite")
    assert sorted(written_labels(out)) == sorted(texts)
    assert all(t.encode() in [lbl.encode() for lbl in written_labels(out)] for t in texts)


line_labels = labels.filter(lambda s: not set(s) & {"\n", "\r", "\x00"})


@SLOW
@given(st.lists(line_labels, min_size=1, max_size=6))
def test_gt_txt_labels_round_trip(tmp_path, texts):
    """A line format carries everything but CR, LF (line ends) and NUL (corruption)."""
    gt = "".join(f"{i}.png\t{t}\n" for i, t in enumerate(texts)).encode()
    src = gt_source(str(tmp_path / "src"), gt, {f"{i}.png": png() for i in range(len(texts))})
    out = str(tmp_path / "out")
    convert("gt-txt", src, out, "--normalize", "none", "--overwrite")
    assert sorted(written_labels(out)) == sorted(texts)


@SLOW
@given(st.lists(line_labels, min_size=1, max_size=6), st.sampled_from(["nfc", "nfkc"]))
def test_gt_txt_labels_are_written_in_the_asked_normal_form(tmp_path, texts, form):
    """``--normalize nfkc`` folds compatibility characters (①, ｶ, ﬁ) where nfc keeps them;
    a label that normalises to whitespace is an empty_label reject."""
    texts = texts + ["①ｶﬁ\u1100\u1161"]  # one label that NFC and NFKC write differently
    gt = "".join(f"{i}.png\t{t}\n" for i, t in enumerate(texts)).encode()
    src = gt_source(str(tmp_path / "src"), gt, {f"{i}.png": png() for i in range(len(texts))})
    out = str(tmp_path / "out")
    convert("gt-txt", src, out, "--normalize", form, "--overwrite")
    want = [unicodedata.normalize(form.upper(), t) for t in texts]
    assert sorted(written_labels(out)) == sorted(w for w in want if w.strip())
    assert accounted(out)["rejects"] == ({"empty_label": sum(not w.strip() for w in want)}
                                         if any(not w.strip() for w in want) else {})


# --- split ratios: parsed exactly, honoured per split ----------------------------------

# train,val,test ratios, zeros included, val and test usually unequal (a swap shows)
ratio_triples = st.tuples(st.integers(0, 20), st.integers(0, 20), st.integers(0, 20)).filter(
    lambda t: sum(t) > 0).map(lambda t: tuple(x / sum(t) for x in t))


@SLOW
@given(ratio_triples, st.integers(0, 2**31))
def test_split_ratios_are_parsed_and_honoured_per_split(ratios, seed):
    """``--split a,b,c`` is (a, b, c) exactly (a zero ratio is valid), and over 20,000 ids
    each split gets its own share within 0.02 (5 standard deviations), a zero share none."""
    assert splits.parse_ratios(",".join(repr(r) for r in ratios)) == ratios
    n = 20_000
    got = [splits.assign(f"img_{i}.png", ratios, seed) for i in range(n)]
    for name, ratio in zip(splits.SPLITS, ratios):
        share = got.count(name) / n
        assert abs(share - ratio) <= 0.02 and (share == 0) == (ratio == 0), (name, share, ratios)


@pytest.mark.parametrize("value, message", [
    ("0.5,0.5", "--split '0.5,0.5': expected three non-negative ratios summing to 1"),
    ("0.5,0.6,-0.1", "--split '0.5,0.6,-0.1': expected three non-negative ratios summing to 1"),
    ("0.5,0.5,x", "--split '0.5,0.5,x': expected three numbers like 0.9,0.05,0.05 or 'none'"),
])
def test_a_bad_split_is_one_line_naming_the_option(tmp_path, value, message):
    src = gt_source(str(tmp_path / "src"), b"0.png\tok\n", {"0.png": png()})
    result = run_cli("gt-txt", "-i", src, "-o", str(tmp_path / "out"), "-q", "--split", value, expect=None)
    assert_one_line_error(result, message)
    assert not os.path.exists(tmp_path / "out")


# --- the text check names the field that cannot be written ------------------------------

@SETTINGS
@given(st.sampled_from(["label", "id", "source", "group"]), valid_text, valid_text)
def test_a_lone_surrogate_is_rejected_naming_its_field(field, before, after):
    """rejects.jsonl tells the user which of the label, id, source or group to fix."""
    fields = {"label": "ok", "id": "0.png", "source": "gt.txt:1", "group": None}
    fields[field] = before + "\ud800" + after
    sample = Sample(id=fields["id"], label=fields["label"], image=None, source=fields["source"],
                    group=fields["group"])
    with pytest.raises(SampleRejected) as caught:
        reject_unwritable_text(CheckItem(sample, sample.label))
    assert caught.value.reason == "invalid_unicode"
    assert caught.value.detail.startswith(f"{field} ") and caught.value.detail.endswith("holds a lone surrogate")


# --- what --group-by groups by ------------------------------------------------------------

@SETTINGS
@given(st.sampled_from(["id", "source", "label", "group", "meta:book", "book"]),
       st.one_of(st.none(), st.just(""), valid_text), valid_text, st.one_of(st.none(), valid_text))
def test_group_by_reads_the_named_field_or_falls_back_to_the_id(group_by, value, sid, group):
    """A Sample field is read as itself; a meta attribute (``meta:NAME`` or a bare name)
    that is missing or empty falls back to the sample's group, else its id: never to a
    shared "None" or "" group that would put unrelated samples in one split."""
    meta = {} if value is None else {"book": value}
    sample = Sample(id=sid, label="L" + sid, image=None, source="S" + sid, group=group, meta=meta)
    fallback = group if group is not None else sid
    fields = {"id": sid, "source": "S" + sid, "label": "L" + sid, "group": group}
    if group_by in fields:
        want = fields[group_by] if fields[group_by] not in (None, "") else fallback
    else:
        want = value if value not in (None, "") else fallback
    assert splits.group_value(sample, group_by) == want


@SETTINGS
@given(st.from_regex(r"[a-z]{1,6}-[0-9]{1,4}_[0-9]{1,3}", fullmatch=True))
def test_group_regex_keeps_its_first_group_or_else_the_whole_match(name):
    """``--group-regex`` takes a page or book id out of a line's name: the first group when
    the pattern has one, the whole match when it has none."""
    sample = Sample(id=name + ".png", label="x", image=None, source="gt.txt:1")
    book = name.split("-")[0]
    assert splits.group_key(sample, None, re.compile(r"([a-z]+)-\d+")) == book
    assert splits.group_key(sample, None, re.compile(r"[a-z]+-\d+")) == name.split("_")[0]
    assert splits.group_key(sample, None, re.compile(r"^\d")) == sample.id  # no match: the id itself


@pytest.mark.parametrize("group_by, meta, message", [
    ("meta:book", {"book": ""}, "--group-by meta:book: no sample has a 'book' attribute"),
    ("group", {}, "--group-by group: this format gives its samples no group"),
])
def test_a_grouping_that_selects_only_empty_values_is_refused(group_by, meta, message):
    """Empty values select nothing, exactly as missing ones: refused, never a silent split by id."""
    samples = [(i, Sample(id=f"{i}.png", label="x", image=None, source="gt.txt", group="", meta=dict(meta)))
               for i in range(3)]
    with pytest.raises(UsageError, match=re.escape(message)):
        splits.check_grouping(samples, group_by, None)


# --- rejects.jsonl: one JSON object per line, UTF-8 text, sorted keys --------------------

@SLOW
@given(st.lists(path_field.filter(lambda s: s != "ok.png"), min_size=1, max_size=5, unique=True))
def test_rejects_are_written_as_utf8_json_with_sorted_keys(tmp_path, names):
    """Every line is exactly ``json.dumps(row, ensure_ascii=False, sort_keys=True)``: the
    bytes are reproducible and a name in any script can be searched for as written."""
    gt = "".join(f"{name}\tx\n" for name in names) + "ok.png\tok\n"
    src = gt_source(str(tmp_path / "src"), gt.encode("utf-8"), {"ok.png": png()})
    out = str(tmp_path / "out")
    convert("gt-txt", src, out, "--overwrite")
    with open(os.path.join(out, "rejects.jsonl"), encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")[:-1]  # only LF ends a row: U+0085 or U+2028 may sit in a string
    rows = [json.loads(line) for line in lines]
    assert lines == [json.dumps(row, ensure_ascii=False, sort_keys=True) for row in rows]
    assert sorted(row["source"] for row in rows) == sorted(f"gt.txt:{n}" for n in range(1, len(names) + 1))
