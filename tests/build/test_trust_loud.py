"""Loud, never silent, never a traceback: runs that write nothing fail with a hint, options
that select nothing are usage errors, text that cannot be a label is rejected the same way
in every format, repeated JSON keys are refused by both AI Hub parsers, and a damaged
output folder is a one-line error for ``report``."""
from __future__ import annotations

import json
import os
import re
import shutil

import lmdb
import pytest

from helpers import assert_accounted, rejects_of, run_cli
from dataconv.io import lmdb_keys
from dataconv.cli.main import cli
from dataconv.converters.base import formats
from dataconv.fixtures.base import fixtures
from dataconv.io.jsonstream import JsonArrays
from hostile_util import (aihub_document, aihub_source, assert_one_line_error, convert, gt_source,
                          png, write_files, written_labels)

IMAGE_EXTS = (".png", ".jpg", ".jpeg")
# format: (fixture, extra arguments; {src} is the source folder)
SOURCES = {
    "aihub": ("aihub-htr", ()), "coco-text": ("coco-text", ()), "gt-txt": ("ocr-mix", ()),
    "icdar2015": ("icdar2015", ()), "icdar2015-rec": ("icdar2015-rec", ()),
    "lmdb": ("lmdb", ()), "minhon": ("minhon", ()), "mjsynth": ("mjsynth", ()),
    "ndl-layout": ("ndl-layout", ()), "paddle-det": ("paddle-det", ("--labels", "{src}/label.txt")),
    "paddle-rec": ("paddle-rec", ("--labels", "{src}/rec_gt_train.txt")), "textocr": ("textocr", ()),
    "aihub-tiw": ("aihub-tiw", ()), "aihub-outdoor": ("aihub-outdoor", ()), "aihub-forms": ("aihub-forms", ()),
    "aihub-admin": ("aihub-admin", ()), "aihub-nia": ("aihub-nia", ()), "labelme": ("labelme", ()),
    "label-studio": ("label-studio", ("--export", "{src}/export.json")),
}
# formats whose annotations name an image path relative to -i (looked up there exactly)
PATH_FORMATS = {"gt-txt", "icdar2015-rec", "mjsynth", "paddle-det", "paddle-rec"}


def test_every_format_is_covered():
    assert set(SOURCES) == set(formats())


def make_source(fmt: str, dest) -> tuple[str, tuple[str, ...]]:
    fixture, extra = SOURCES[fmt]
    src = str(dest)
    fixtures()[fixture][0](src, n=3, seed=0)
    return src, tuple(a.format(src=src) for a in extra)


def image_files(src: str) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), src) for d, _, names in os.walk(src)
                  for f in names if f.lower().endswith(IMAGE_EXTS))


# --- (a) a run that writes nothing: exit 1 with the hint -------------------------------

@pytest.mark.parametrize("fmt", sorted(SOURCES))
def test_a_source_without_its_images_is_one_line_naming_where_it_looked(tmp_path, fmt):
    src, extra = make_source(fmt, tmp_path / "src")
    out = tmp_path / "out"
    if fmt == "lmdb":  # the images live inside the LMDB: a filter that keeps nothing instead
        result = convert(fmt, src, str(out), "--label-regex", "^$", expect=1)
        assert_one_line_error(result, f"{src}: 0 of ", "samples written; filtered_label (")
        assert not out.exists()
        return
    gone = image_files(src)
    for rel in gone:
        os.remove(os.path.join(src, rel))
    if fmt == "minhon":  # a plain .txt without its image is not a label; a .gt.txt is
        for rel in [r for r in os.listdir(os.path.join(src, "lines")) if r.endswith(".txt")]:
            os.rename(os.path.join(src, "lines", rel), os.path.join(src, "lines", rel[:-4] + ".gt.txt"))
    if fmt == "labelme":  # half of its files embed the image (imageData): those are written
        result = convert(fmt, src, str(out), *extra, expect=0)
        assert result.stderr.startswith("warning: missing_image (12 of 24, first labels/img_0001.json"), \
            result.stderr
        return
    result = convert(fmt, src, str(out), *extra, expect=1)
    err = assert_one_line_error(result, f"{src}: 0 of ", "samples written; missing_image (")
    assert not out.exists()
    if fmt in PATH_FORMATS:  # the exact path looked up, under -i
        looked = re.search(re.escape(src + os.sep) + r"(\S+) not found - is -i one folder too deep", err)
        assert looked and os.path.normpath(looked[1]) in {os.path.normpath(g) for g in gone}, err
    else:  # a name searched for anywhere under -i
        names = {os.path.splitext(os.path.basename(g))[0] for g in gone} | {"beside"}
        assert any(n in err for n in names) and f"({src})" in err, err


def test_one_folder_too_deep_or_too_shallow_is_named(tmp_path):
    src = gt_source(str(tmp_path / "root" / "sub"), b"imgs/a.png\ta\nimgs/b.png\tb\n",
                    {"imgs/a.png": png(0), "imgs/b.png": png(1)})
    deep = os.path.join(src, "imgs")
    result = run_cli("gt-txt", "-i", deep, "--gt", os.path.join(src, "gt.txt"), "-o", tmp_path / "o1",
                     "-q", expect=1)
    assert_one_line_error(result, f"{deep}/imgs/a.png not found, but it exists under {src}: "
                                  "-i is one folder too deep")
    shallow = str(tmp_path / "root")
    result = run_cli("gt-txt", "-i", shallow, "--gt", os.path.join(src, "gt.txt"), "-o", tmp_path / "o2",
                     "-q", expect=1)
    assert_one_line_error(result, f"{shallow}/imgs/a.png not found, but it exists under {src}: "
                                  "-i is one folder too shallow")


def test_spaces_without_a_tab_hint_at_sep_space(tmp_path):
    names = [f"w{i}.png" for i in range(12)]
    src = gt_source(str(tmp_path / "src"), "".join(f"{n} word{i}\n" for i, n in enumerate(names)).encode(),
                    {n: png(i) for i, n in enumerate(names)})
    result = convert("gt-txt", src, str(tmp_path / "out"), expect=1)
    assert_one_line_error(result, "0 of 12 samples written; no_separator (12 of 12, first gt.txt:1): "
                                  "no tab in these lines: try --sep space")
    convert("gt-txt", src, str(tmp_path / "out"), "--sep", "space")
    assert sorted(written_labels(str(tmp_path / "out"))) == sorted(f"word{i}" for i in range(12))


def test_one_reason_rejecting_most_samples_warns_but_exits_0(tmp_path):
    lines = [f"ok{i}.png\tok{i}\n" for i in range(10)] + [f"gone{i}.png\tgone{i}\n" for i in range(10)]
    src = gt_source(str(tmp_path / "src"), "".join(lines).encode(), {f"ok{i}.png": png(i) for i in range(10)})
    result = convert("gt-txt", src, str(tmp_path / "out"))
    warning = result.stderr.strip()
    assert warning == (f"warning: missing_image (10 of 20, first gt.txt:11): {src}/gone0.png not found "
                       "- is -i one folder too deep or too shallow?")
    assert "  hint: missing_image rejected 10 of 20: is -i one folder too deep or too shallow?" in result.stdout
    assert assert_accounted(str(tmp_path / "out"))["counts"]["written"] == 10
    # under the threshold (9 of 19, or fewer than 10 samples): silent
    os.remove(os.path.join(src, "gt.txt"))
    write_files(src, {"gt.txt": "".join(lines[:19]).encode()})
    result = convert("gt-txt", src, str(tmp_path / "out2"))
    assert result.stderr.strip() == "" and "hint:" not in result.stdout


# --- options that select nothing: usage errors naming what is there ------------------

def aihub_words(tmp_path) -> str:
    doc = aihub_document([(str(i), str(i), w) for i, w in enumerate(["가", "나", "다"])])
    return aihub_source(str(tmp_path / "src"), doc, {f"{i}.png": png(i) for i in range(3)})


def assert_usage_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


def test_group_by_a_meta_key_no_sample_has_is_a_usage_error(tmp_path):
    src = aihub_words(tmp_path)
    result = convert("aihub", src, str(tmp_path / "out"), "--group-by", "meta:typo", expect=2)
    assert_usage_error(result, "--group-by meta:typo: no sample has a 'typo' attribute; "
                               "meta keys seen: image_id, type")
    assert not (tmp_path / "out").exists()


def test_group_regex_that_matches_no_id_is_a_usage_error(tmp_path):
    src = gt_source(str(tmp_path / "src"), b"p1_a.png\ta\np1_b.png\tb\n", {"p1_a.png": png(0), "p1_b.png": png(1)})
    result = convert("gt-txt", src, str(tmp_path / "out"), "--group-regex", r"^(page\d+)_", expect=2)
    assert_usage_error(result, "--group-regex '^(page\\\\d+)_' matches no id; for example 'p1_a.png', 'p1_b.png'")
    result = convert("gt-txt", src, str(tmp_path / "out"), "--group-by", "group", expect=2)
    assert_usage_error(result, "--group-by group: this format gives its samples no group")
    convert("gt-txt", src, str(tmp_path / "out"), "--group-regex", r"^(p\d+)_")


def test_aihub_kind_that_selects_nothing_is_a_usage_error(tmp_path):
    src = aihub_words(tmp_path)
    result = convert("aihub", src, str(tmp_path / "out"), "--kind", "sentence", expect=2)
    assert_usage_error(result, "--kind selects no annotation (attributes.type 문장); "
                               "attributes.type values present: 단어(어절) (3)")


# --- (b) text that cannot be a label: one reason, every format ------------------------

def _json_edit(path: str, edit) -> None:
    with open(path, encoding="utf-8") as f:
        document = json.load(f)
    edit(document)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(document, f)  # ensure_ascii: a lone surrogate is written as its escape


def _append(path: str, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


BAD = {"invalid_unicode": "bad\ud800label", "nul_byte": "nul\x00label"}


def add_bad_labels(fmt: str, src: str) -> set[str]:
    """Add one sample per BAD text the format can carry; return the reasons expected."""
    if fmt in ("gt-txt", "paddle-rec", "icdar2015-rec"):  # UTF-8 lines: NUL only
        label_file = {"gt-txt": "gt.txt", "paddle-rec": "rec_gt_train.txt", "icdar2015-rec": "gt.txt"}[fmt]
        shutil.copy(os.path.join(src, image_files(src)[0]), os.path.join(src, "extra.png"))
        _append(os.path.join(src, label_file), b"\nextra.png, nul\x00label\n" if fmt == "icdar2015-rec"
                else b"\nextra.png\tnul\x00label\n")
        return {"nul_byte"}
    if fmt == "icdar2015":
        _append(os.path.join(src, "annotations", "gt_img_1.txt"), b"1,1,60,1,60,20,1,20,nul\x00label\r\n")
        return {"nul_byte"}
    if fmt == "paddle-det":
        shutil.copy(os.path.join(src, "imgs", "img_1.jpg"), os.path.join(src, "imgs", "extra.jpg"))
        boxes = [{"transcription": text, "points": [[10, 10], [90, 10], [90, 40], [10, 40]]} for text in BAD.values()]
        _append(os.path.join(src, "label.txt"), ("imgs/extra.jpg\t" + json.dumps(boxes) + "\n").encode())
        return set(BAD)
    if fmt in ("coco-text", "textocr"):
        name = "COCO_Text.json" if fmt == "coco-text" else "TextOCR_0.1_train.json"

        def edit(document):
            model = next(a for a in document["anns"].values() if a["utf8_string"] not in (".", "orphan")
                         and a.get("legibility", "legible") == "legible")
            for k, text in enumerate(BAD.values()):
                document["anns"][f"bad{k}"] = {**model, "id": f"bad{k}", "utf8_string": text}
        _json_edit(os.path.join(src, name), edit)
        return set(BAD)
    if fmt == "aihub":
        def edit(document):
            model = next(a for a in document["annotations"] if a["text"].strip())
            for k, text in enumerate(BAD.values()):
                document["annotations"].append({**model, "id": f"bad{k}", "text": text})
        _json_edit(os.path.join(src, "handwriting_data_info1.json"), edit)
        return set(BAD)
    if fmt == "minhon":
        page = next(os.path.join(src, "pages", f) for f in os.listdir(os.path.join(src, "pages")) if f.endswith(".json"))
        _json_edit(page, lambda lines: lines.extend({**lines[0], "text": text} for text in BAD.values()))
        return set(BAD)
    if fmt == "lmdb":
        env = lmdb.open(os.path.join(src, "train"), map_size=64 * 1024**2)
        with env.begin(write=True) as txn:
            n = int(txn.get(lmdb_keys.NUM_SAMPLES))
            txn.put(lmdb_keys.image_key(n + 1), txn.get(lmdb_keys.image_key(1)))
            txn.put(lmdb_keys.label_key(n + 1), BAD["nul_byte"].encode())
            txn.put(lmdb_keys.NUM_SAMPLES, lmdb_keys.encode_count(n + 1))
        env.close()
        return {"nul_byte"}
    return set()  # mjsynth: labels are file names; ndl-layout: no labels


@pytest.mark.parametrize("fmt", sorted(set(SOURCES) - {"mjsynth", "ndl-layout"}))
def test_lone_surrogates_and_nul_bytes_are_rejected_in_every_format(tmp_path, fmt):
    src, extra = make_source(fmt, tmp_path / "src")
    expected = add_bad_labels(fmt, src)
    out = str(tmp_path / "out")
    convert(fmt, src, out, *extra, "--normalize", "none")
    card = assert_accounted(out)
    for reason in expected:
        assert card["rejects"][reason] == 1, card["rejects"]
    bad_rows = [r for r in rejects_of(out) if r["reason"] in expected]
    assert {r["reason"] for r in bad_rows} == expected
    assert all("label" in r["detail"] for r in bad_rows)
    assert not any("\x00" in label or "bad" in label for label in written_labels(out))


# --- whole-run faults that used to end in a traceback ---------------------------------

@pytest.mark.parametrize("fmt", sorted(f for f in formats() if "encoding" in {p.name for p in cli.commands[f].params}))
def test_unknown_encoding_is_one_line_for_every_format(tmp_path, fmt):
    src, extra = make_source(fmt, tmp_path / "src")
    for name in ("x-no-such-codec", "hex"):
        result = convert(fmt, src, str(tmp_path / "out"), *extra, "--encoding", name, expect=1)
        assert_one_line_error(result, f"--encoding {name!r}: unknown text encoding")


@pytest.mark.parametrize("declared", ["x-bogus-9", "hex"])
def test_xml_declaring_an_unknown_encoding_is_one_line(tmp_path, declared):
    src, _ = make_source("ndl-layout", tmp_path / "src")
    xml = next(os.path.join(d, f) for d, _, names in os.walk(src) for f in sorted(names) if f.endswith(".xml"))
    with open(xml, "rb") as f:
        body = f.read()
    with open(xml, "wb") as f:
        f.write(f'<?xml version="1.0" encoding="{declared}"?>\n'.encode() + body)
    result = convert("ndl-layout", src, str(tmp_path / "out"), expect=1)
    assert_one_line_error(result, os.path.relpath(xml, src), "the XML declaration names an unknown encoding")


@pytest.mark.parametrize("payload,message", [
    ("[" * 100_000, "JSON nested too deeply to be a box list"),
    ("[" * 995 + "]" * 995, "JSON nested too deeply to be a box list"),
    ("[" + "7" * 5000 + "]", "invalid JSON: Exceeds the limit"),
])
def test_paddle_det_line_nested_too_deeply_is_one_line(tmp_path, payload, message):
    src, extra = make_source("paddle-det", tmp_path / "src")
    _append(os.path.join(src, "label.txt"), f"imgs/img_1.jpg\t{payload}\n".encode())
    result = convert("paddle-det", src, str(tmp_path / "out"), *extra, expect=1)
    assert_one_line_error(result, "label.txt:5: ", message)


# --- AI Hub: a repeated key is refused by the in-memory and the streamed parse -------

REPEATS = {
    "top level": (b'{"images": [{"id": "0", "file_name": "0.png"}], '
                  b'"images": [{"id": "1", "file_name": "1.png"}], "annotations": []}', "images: the key 'images'"),
    "annotation": (b'{"images": [{"id": "0", "file_name": "0.png"}], "annotations": '
                   b'[{"id": "0", "image_id": "0", "text": "a", "text": "b"}]}', "annotations[0].text: the key 'text'"),
}


def _padded(raw: bytes, size: int) -> bytes:
    """``raw`` with a big images[] array in front: the same fault in a file of ``size`` bytes."""
    filler = b"".join(b'{"id": "f%d", "file_name": "f%d.png"}, ' % (i, i) for i in range(size // 40))
    return raw.replace(b'"images": [', b'"images": [' + filler, 1)


@pytest.mark.parametrize("case", sorted(REPEATS))
def test_aihub_repeated_key_same_outcome_whole_and_streamed(tmp_path, case):
    raw, fragment = REPEATS[case]
    messages = []
    for name, data, args, whole in (("small", raw, ("--encoding", "utf-8-sig"), True),
                                    ("big", _padded(raw, 4 << 20), (), False)):
        src = aihub_source(str(tmp_path / name), None, {"0.png": png(0), "1.png": png(1)}, raw=data)
        label_file = os.path.join(src, "handwriting_data_info1.json")
        encoding = args[1] if args else "utf-8"
        try:  # which parser reads it: the whole-file one, or the streamed one
            parsed = JsonArrays(label_file, "aihub", "handwriting_data_info1.json", encoding)
            assert (parsed.document is not None) == whole
        except Exception as e:  # the top-level repeat is refused while choosing
            assert "appears twice" in str(e)
        result = convert("aihub", src, str(tmp_path / f"{name}-out"), *args, expect=1)
        err = assert_one_line_error(result, f"{label_file}: {fragment} appears twice in one object")
        messages.append(err.replace(src, "SRC"))
        assert not (tmp_path / f"{name}-out").exists()
    assert messages[0] == messages[1]


# --- report on a damaged output folder -----------------------------------------------

@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    lines = b"a.png\ta\nb.png\tb\ngone.png\tgone\n"
    src = gt_source(str(base / "src"), lines, {"a.png": png(0), "b.png": png(1)})
    out = str(base / "out")
    convert("gt-txt", src, out)
    return out


@pytest.mark.parametrize("damage,fragment", [
    ("rejects.jsonl", "rejects.jsonl:2: not a rejects.jsonl row"),
    ("samples.parquet", "samples.parquet: not a readable samples table"),
    ("manifest.json", "manifest.json:1:12: not a dataconv manifest"),
    ("manifest.json:options", "manifest.json: options: expected an object"),
])
def test_report_on_a_damaged_output_is_one_line(tmp_path, dataset, damage, fragment):
    pytest.importorskip("matplotlib")
    out = str(tmp_path / "out")
    shutil.copytree(dataset, out)
    garbage = {"rejects.jsonl": b'{"reason": "missing_image"}\n{junk\n', "samples.parquet": b"PAR1 not parquet",
               "manifest.json": b'{"format": ', "manifest.json:options": b'{"options": 3}'}[damage]
    with open(os.path.join(out, damage.split(":")[0]), "wb") as f:
        f.write(garbage)
    result = run_cli("report", out, "-o", str(tmp_path / "r.html"), expect=1)
    assert_one_line_error(result, os.path.join(out, fragment))
    assert not (tmp_path / "r.html").exists()
