"""Scale: identical output whatever runs the work, complete-but-cheap decoding, streaming
AI Hub label files with the same samples and errors."""
from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from helpers import run_cli
from dataconv.build.executors import dask as dask_executor, local as local_executor
from dataconv.outputs import lmdb_writer as writer
from dataconv.converters.aihub import AiHub, AiHubOptions
from dataconv.errors import DataconvError, SampleRejected
from dataconv.fixtures.aihub import make_aihub
from dataconv.fixtures.base import encode, ink_image
from dataconv.fixtures.ocr_mix import make_ocr_mix, text_line, word_crop
from dataconv.io.lmdb_tree import find_lmdbs
from dataconv.sample import Reject
from dataconv.validators.base import Candidate
from dataconv.validators.image import DecodeCheck

OUTPUT_FILES = ("manifest.json", "samples.parquet", "rejects.jsonl", "charset.txt")


def _fingerprint(out: str) -> dict[str, bytes | str]:
    found: dict[str, bytes | str] = {name: open(os.path.join(out, name), "rb").read()
                                     for name in OUTPUT_FILES}
    for path in find_lmdbs(out):
        found[os.path.relpath(path, out)] = writer.content_digest(path)
    return found


@pytest.fixture(scope="module")
def mix(tmp_path_factory) -> str:
    src = str(tmp_path_factory.mktemp("mix") / "src")
    make_ocr_mix(src, n=150, lines=12, corrupt=4, seed=1)
    return src


def _convert(src: str, out: str, *extra: str) -> dict[str, bytes | str]:
    # small shards and a split, so chunks cross shard and split boundaries
    run_cli("gt-txt", "-i", src, "-o", out, "-q", "--shard-size", "40", *extra)
    return _fingerprint(out)


def test_output_identical_for_any_workers_and_dask(mix, tmp_path, monkeypatch):
    one = _convert(mix, str(tmp_path / "w1"), "--workers", "1")
    assert len([k for k in one if "shard-" in k]) >= 5
    # the dataconv command: a fresh single-threaded process, whose workers are forked
    subprocess.run([sys.executable, "-m", "dataconv", "gt-txt", "-i", mix, "-o",
                    str(tmp_path / "cli"), "-q", "--shard-size", "40", "--workers", "2"],
                   check=True, stdout=subprocess.DEVNULL)
    assert _fingerprint(str(tmp_path / "cli")) == one
    assert _convert(mix, str(tmp_path / "w2"), "--workers", "2") == one  # fork or fork server
    monkeypatch.setattr(local_executor, "pool_start_method", lambda: "forkserver")  # as on macOS
    assert _convert(mix, str(tmp_path / "forkserver"), "--workers", "2") == one
    assert _convert(mix, str(tmp_path / "dask"), "--workers", "2", "--dask", "local") == one
    card = json.loads(one["manifest.json"])
    assert card["rejects"] == {"undecodable_image": 8}
    assert "dask" not in card["options"] and "workers" not in card["options"]


def test_unreachable_scheduler_is_one_line_error(mix, tmp_path, monkeypatch):
    monkeypatch.setattr(dask_executor, "DASK_CONNECT_TIMEOUT", "1s")
    result = run_cli("gt-txt", "-i", mix, "-o", str(tmp_path / "o"), "-q",
                     "--dask", "tcp://127.0.0.1:9", expect=1)
    assert "cannot reach the Dask scheduler" in result.stderr
    assert not os.path.exists(tmp_path / "o")


def _decode(data: bytes) -> Candidate:
    item = Candidate(sample=None, label="x", data=data)  # type: ignore[arg-type]
    DecodeCheck(max_pixels=10**9)(item)
    return item


@pytest.mark.parametrize("make", [word_crop, text_line], ids=["jpeg", "png"])
def test_fast_decode_catches_every_truncation(make):
    data = make(random.Random(0))
    with Image.open(io.BytesIO(data)) as im:
        size = im.size
    item = _decode(data)
    assert (item.width, item.height) == size
    for cut in (len(data) // 2, len(data) - 12, len(data) - 1, 40):
        with pytest.raises(SampleRejected) as info:
            _decode(data[:cut])
        assert info.value.reason == "undecodable_image" and "truncated" in info.value.detail.lower()


def test_fast_decode_catches_corruption_and_falls_back_to_pillow():
    png = bytearray(text_line(random.Random(2)))
    png[len(png) // 2] ^= 0xFF  # a flipped byte inside IDAT: CRC (and zlib) catch it
    with pytest.raises(SampleRejected, match="CRC"):
        _decode(bytes(png))
    rng = random.Random(3)
    interlaced = io.BytesIO()
    ink_image(200, 40, rng).save(interlaced, "PNG", interlace=1)
    assert (_decode(interlaced.getvalue()).width, _decode(interlaced.getvalue()).height) == (200, 40)
    bmp = encode(ink_image(50, 20, rng), "BMP")
    assert _decode(bmp).width == 50
    with pytest.raises(SampleRejected):
        _decode(bmp[:-100])


def _samples(src: str, **opts) -> list:
    return list(AiHub(src, AiHubOptions(**opts)).samples())


def _as_rows(items: list) -> list:
    return [(type(i).__name__, i.source, i.id, getattr(i, "label", None), getattr(i, "reason", None))
            for i in items]


def test_streamed_aihub_gives_the_same_samples_as_in_memory(tmp_path, monkeypatch):
    src = str(tmp_path / "src")
    make_aihub(src, n=40, seed=5)
    streamed = _samples(src)
    assert any(isinstance(i, Reject) for i in streamed)
    import dataconv.io.jsonstream as jsonstream

    monkeypatch.setattr(jsonstream, "_needs_whole_read", lambda path: True)  # read whole
    assert _as_rows(_samples(src)) == _as_rows(streamed)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["annotations"][7].update(text=5), "annotations[7].text: expected string"),
    (lambda d: d["images"][3].pop("file_name"), "images[3]: 'file_name' is missing"),
    (lambda d: d.pop("annotations"), "(top level): 'annotations' is missing"),
    (lambda d: d.update(images={"a": 1}), "images: expected array"),
    (lambda d: d.update(info="x"), "info: expected object"),
])
def test_streamed_aihub_errors_name_the_json_path(tmp_path, edit, message):
    src = str(tmp_path / "src")
    truth = make_aihub(src, n=12, seed=6)
    path = os.path.join(src, truth["label_file"])
    with open(path, encoding="utf-8") as f:
        document = json.load(f)
    edit(document)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(document, f, ensure_ascii=False)
    with pytest.raises(DataconvError, match=None) as info:
        _samples(src)
    assert f"{truth['label_file']}: {message}" in str(info.value)


def test_streamed_aihub_syntax_error_names_line_and_column(tmp_path):
    src = str(tmp_path / "src")
    truth = make_aihub(src, n=5, seed=7)
    path = os.path.join(src, truth["label_file"])
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n{")
    with pytest.raises(DataconvError, match=r":2:\d+: invalid JSON"):
        _samples(src)


# Values of every JSON type, including the ones JSON Schema types tell apart subtly
# (booleans are not integers, 2.0 is an integer, "" is too short), put in place of one
# field of a valid element: the shapes collide often, which is what the cache relies on.
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([2.0, 2.5]),
                     st.sampled_from(["", "a", "한글"]), st.just({}), st.just([]))
_BASE = {"images": {"id": 1, "file_name": "a.png", "width": 3, "height": 4},
         "annotations": {"id": "1", "image_id": 1, "text": "가", "attributes": {"type": "x"}}}
_EDITS = st.tuples(st.sampled_from(["id", "image_id", "text", "file_name", "width",
                                    "attributes", "attributes.type", "license"]),
                   st.one_of(_SCALARS, st.just("<deleted>")))


def _edited(base: dict, field: str, value: object) -> dict:
    element = json.loads(json.dumps(base))
    target, key = (element, field) if "." not in field else (element.get("attributes"), "type")
    if isinstance(target, dict):
        if value == "<deleted>":
            target.pop(key, None)
        else:
            target[key] = value
    return element


@settings(max_examples=80, deadline=None)
@given(st.lists(_EDITS, min_size=1, max_size=30))
def test_shape_cache_gives_jsonschemas_verdicts(edits):
    """Elements run through one cached validator, in order (so shapes found valid earlier
    are reused), get exactly jsonschema's verdict and first message."""
    import jsonschema

    from dataconv.io.jsonstream import ShapeCachedValidator
    from dataconv.io.schema import load_schema

    schema = load_schema("aihub")
    for part, base in _BASE.items():
        plain = jsonschema.Draft202012Validator(schema).evolve(
            schema=schema["properties"][part]["items"])
        cached = ShapeCachedValidator(plain)
        assert cached.cacheable
        elements = [_edited(base, field, value) for field, value in edits]
        for element in [base] + elements + elements:  # the last round meets known shapes
            expected = next(plain.iter_errors(element), None)
            got = cached.first_error(element)
            assert (got is None) == (expected is None), element
            assert got is None or got.message == expected.message


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork is used on Linux only")
def test_pool_forks_only_a_single_threaded_process():
    """The dataconv command keeps OpenBLAS to one thread (dataconv/cli/launch.py), so that its
    pool is forked; a second thread switches to the fork server."""
    code = ("import os, threading; os.environ['OPENBLAS_NUM_THREADS'] = '1'; "
            "from dataconv.build.executors import local; import dataconv.cli.main; "
            "assert local.pool_start_method() == 'fork'; "
            "t = threading.Thread(target=threading.Event().wait, args=(5,), daemon=True); t.start(); "
            "assert local.pool_start_method() == 'forkserver'")
    subprocess.run([sys.executable, "-c", code], check=True)
