"""MMOCR 1.0.1's own code (``mmocr_util``: the installed wheel) on dataconv's output.

- ``RecogLMDBDataset`` on every shard of a conversion reads exactly the labels and pixels
  written (the README's MMOCR line: one dataset per shard);
- sample by sample, what MMOCR trains on (its loading transform, ``LoadOCRAnnotations``, the
  CE or CTC module loss's ``get_targets`` over its ``Dictionary``) equals what
  ``validate --for mmocr`` predicts, at ``max_seq_len`` just above and below the labels;
- every ``dataconv charset --style`` file and generated dict files (BOMs, each line ending,
  empty and long lines, duplicates) read by MMOCR's ``Dictionary`` give what the simulation
  says, or fail where it says FATAL.
"""
from __future__ import annotations

import io
import json
import os

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from helpers import run_cli
from mmocr_util import INSTALLED, MISSING, load_mmocr
from dataconv import charsets
from dataconv.io.lmdb_tree import find_lmdbs
from dataconv.validators.trainer_report import samples
from dataconv.validators.trainers import Settings, trainers
from dataconv.validators.trainers.mmocr import UNKNOWN

pytestmark = pytest.mark.skipif(not INSTALLED, reason=MISSING)

# 7 characters reach max_seq_len 8 under CE (BOS + 7 + EOS = 9: cut to 7), 6 do not
LABELS = ["abc", "Hello", "가나다라", "abcdef", "abcdefg", "abcdefgh", "a b c", "UPPER", "x😀y", "zz",
          "한국어ABC", "가나 다라마바", "q", "0123456789"]
SIZES = {3: (1, 16), 4: (16, 1), 5: (2, 2), 6: (60, 2)}  # index -> (width, height); others 60 x 16


def image_bytes(i: int) -> bytes:
    width, height = SIZES.get(i, (60, 16))
    rng = np.random.default_rng(i)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def mm():
    return load_mmocr()


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> str:
    """LABELS through ``dataconv gt-txt`` into three shards of one train split."""
    src = tmp_path_factory.mktemp("src")
    for i in range(len(LABELS)):
        (src / f"{i}.png").write_bytes(image_bytes(i))
    (src / "gt.txt").write_text("".join(f"{i}.png\t{label}\n" for i, label in enumerate(LABELS)), "utf-8")
    out = tmp_path_factory.mktemp("out") / "data"
    run_cli("gt-txt", "-i", src, "--gt", src / "gt.txt", "-o", out, "--split", "none", "--shard-size", "5", "-q")
    return str(out)


@pytest.fixture(scope="module")
def dict_file(converted, tmp_path_factory) -> str:
    """``dataconv charset --style paddle`` of the dataset, less 'U' (to be uncovered)."""
    path = tmp_path_factory.mktemp("dict") / "dict.txt"
    run_cli("charset", converted, "-o", path, "--style", "paddle")
    path.write_text(path.read_text("utf-8").replace("U\n", ""), "utf-8")
    return str(path)


def shards(out: str) -> list[str]:
    return sorted(str(p) for p in find_lmdbs(out))


def test_recog_lmdb_dataset_reads_every_label_and_pixel_written(mm, converted):
    assert len(shards(converted)) == 3
    read = []
    for shard in shards(converted):
        dataset = mm.RecogLMDBDataset(ann_file=shard, pipeline=[])
        for index in range(len(dataset)):
            item = dataset[index]
            read.append((item["instances"], item["img"]))
        dataset.close()
    assert [instances for instances, _ in read] == [[{"text": label}] for label in LABELS]
    for i, (_, img) in enumerate(read):  # mmcv decodes BGR
        expected = np.asarray(Image.open(io.BytesIO(image_bytes(i))).convert("RGB"))[:, :, ::-1]
        assert np.array_equal(img, expected), i


def trained_text(mm, loss, text: str) -> str:
    """The characters the module loss's target holds (CE: after BOS, up to EOS or padding)."""
    sample = mm.TextRecogDataSample()
    from mmengine.structures import LabelData

    sample.gt_text = LabelData(item=text)
    loss.get_targets([sample])
    d = loss.dictionary
    if isinstance(loss, mm.CTCModuleLoss):
        ids = sample.gt_text.indexes.tolist()
    else:
        ids = sample.gt_text.padded_indexes.tolist()[1:]
        stops = [i for i, v in enumerate(ids) if v in (d.end_idx, d.padding_idx)]
        ids = ids[:stops[0]] if stops else ids
    return "".join(UNKNOWN if i == d.unknown_idx else d.idx2str([i]) for i in ids)


def real_run(mm, out: str, dict_file: str, loss_name: str, max_seq_len: int, with_unknown: bool,
             lower: bool, loader: str) -> dict[str, str | None]:
    """key -> trained label; None where the loading transform returns None (the dataset
    refetches another index), 'crash' where get_targets raises (a character not in the dict).

    ``loader`` 'lmdb': RecogLMDBDataset + LoadImageFromNDArray (MMOCR's LMDB configs);
    'file': the same images as files through LoadImageFromFile(ignore_empty=True, min_size=2)."""
    dictionary = mm.Dictionary(dict_file=dict_file, with_start=True, with_end=True, same_start_end=True,
                               with_padding=True, with_unknown=with_unknown)
    case = "lower" if lower else "unchanged"
    loss = (mm.CTCModuleLoss(dictionary=dictionary, letter_case=case) if loss_name == "ctc" else
            mm.CEModuleLoss(dictionary=dictionary, max_seq_len=max_seq_len, letter_case=case))
    annotations = mm.LoadOCRAnnotations(with_text=True)
    result = {}
    for shard in shards(out):
        dataset = mm.RecogLMDBDataset(ann_file=shard, pipeline=[])
        rel = os.path.relpath(shard, out).replace(os.sep, "/")
        for index in range(len(dataset)):
            data = dataset.prepare_data(index)
            if loader == "file":
                data = file_loaded(mm, data["img"], data)
            else:
                data = mm.LoadImageFromNDArray(ignore_empty=True, min_size=2)(data)
            key = f"{rel}:label-{index + 1:09d}"
            if data is None:
                result[key] = None
                continue
            text = annotations(data)["gt_texts"][0]
            try:
                result[key] = trained_text(mm, loss, text)
            except Exception as e:  # Dictionary.str2idx: 'Chararcter: x not in dict'
                assert "not in dict" in str(e)
                result[key] = "crash"
        dataset.close()
    return result


def file_loaded(mm, img: np.ndarray, data: dict) -> dict | None:
    """The image as a PNG file read by LoadImageFromFile(ignore_empty=True, min_size=2)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "x.png")
        cv2.imwrite(path, img)
        return mm.LoadImageFromFile(ignore_empty=True, min_size=2)({**data, "img_path": path})


def simulated(out: str, dict_file: str, loss_name: str, max_seq_len: int, with_unknown: bool,
              lower: bool, loader: str = "lmdb") -> dict[str, str | None]:
    switches = {"mmocr_loss": loss_name, "with_unknown": with_unknown, "lower": lower, "mmocr_loader": loader}
    sim = trainers()["mmocr"](Settings(charset=charsets.load_user_charset(dict_file), max_length=max_seq_len,
                                       switches=switches))
    assert sim.fatal() is None
    ours = {}
    for key, _, label, image in samples(out):
        verdict = sim.simulate(label, image)
        ours[key] = ("crash" if verdict.dropped == "crash:char_not_in_dict"
                                      else None if verdict.dropped else verdict.label)
    return ours


@pytest.mark.parametrize("loss_name,max_seq_len", [("ce", 8), ("ce", 9), ("ce", 40), ("ctc", 8)])
@pytest.mark.parametrize("with_unknown,lower", [(True, False), (False, False), (True, True)])
def test_what_mmocr_trains_on_equals_validate_sample_by_sample(mm, converted, dict_file, loss_name,
                                                               max_seq_len, with_unknown, lower):
    real = real_run(mm, converted, dict_file, loss_name, max_seq_len, with_unknown, lower, "file")
    assert len(real) == len(LABELS)
    assert simulated(converted, dict_file, loss_name, max_seq_len, with_unknown, lower, "file") == real
    assert list(real.values()).count(None) == 2  # the 1-pixel-high and 1-pixel-wide images
    if loss_name == "ce" and max_seq_len == 8 and with_unknown and not lower:
        assert real["train/shard-00001:label-000000001"] == "abcdefg"  # 8 characters cut to 7
        assert real["train/shard-00001:label-000000003"] == UNKNOWN + "PPER"
    args = ["validate", converted, "--for", "mmocr", "--charset", dict_file, "--mmocr-loss", loss_name,
            "--max-label-length", str(max_seq_len), "--mmocr-loader", "file", "--json", "-q"]
    args += ["--with-unknown"] * with_unknown + ["--lower"] * lower
    result = run_cli(*args, expect=1 if "crash" in real.values() else 0)  # a crash is FATAL
    report = json.loads(result.stdout)
    kept = sum(v not in (None, "crash") for v in real.values())
    assert (report["kept"], report["dropped"]) == (kept, len(real) - kept)


def test_lmdb_pipeline_keeps_images_under_two_pixels_as_mmocr_does(mm, converted, dict_file):
    """MMOCR's LMDB configs (the default loader) check no image size; validate's default
    keeps the 1-pixel images as they do."""
    real = real_run(mm, converted, dict_file, "ce", 40, True, False, "lmdb")
    assert list(real.values()).count(None) == 0
    assert simulated(converted, dict_file, "ce", 40, True, False) == real
    report = json.loads(run_cli("validate", converted, "--for", "mmocr", "--charset", dict_file, "--with-unknown",
                                "--json", "-q").stdout)
    assert (report["kept"], report["dropped"]) == (len(real), 0)


# --- dict files -------------------------------------------------------------------------------

def dictionary_outcome(mm, path: str) -> tuple[str, ...] | str:
    """The dict MMOCR builds from the file (its special tokens left out), or 'FATAL'."""
    try:
        d = mm.Dictionary(dict_file=path)
    except (ValueError, AssertionError, UnicodeDecodeError):
        return "FATAL"
    return tuple(d.dict)


def simulated_dict(path: str) -> tuple[str, ...] | str:
    sim = trainers()["mmocr"](Settings(charset=charsets.load_user_charset(path, form="lines"), switches={}))
    return "FATAL" if sim.fatal() else tuple(sim.entries)


@pytest.mark.parametrize("style", ["paddle", "clovaai", "parseq"])
def test_every_charset_style_read_by_mmocr_dictionary(mm, converted, tmp_path, style):
    path = str(tmp_path / "dict.txt")
    run_cli("charset", converted, "-o", path, "--style", style)
    real = dictionary_outcome(mm, path)
    assert simulated_dict(path) == real
    if style == "paddle":  # one character per line, code point order, the space a line of its own
        assert real == tuple(sorted(set("".join(LABELS))))
    else:
        assert real == "FATAL"  # a whole-charset line / a YAML document: Dictionary raises ValueError


DICT_PIECES = st.sampled_from(["a", "b", "가", " ", "\u3000", "\u200b", "ab", "\ufeff", "\u2028", "\x85",
                               "\x0b", "\x0c", "\x1c", "é", "e\u0301", ""])
ENDINGS = st.sampled_from(["\n", "\r\n", "\r"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.tuples(DICT_PIECES, ENDINGS), max_size=8), bom=st.booleans(),
       final=st.booleans())
def test_generated_dict_files_read_as_mmocr_reads_them(mm, tmp_path, lines, bom, final):
    text = "".join(piece + ending for piece, ending in lines)
    if not final and lines:
        text = text[:-len(lines[-1][1])]
    raw = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    path = tmp_path / "gen.txt"
    path.write_bytes(raw)
    assert simulated_dict(str(path)) == dictionary_outcome(mm, str(path)), raw


def test_a_dict_that_is_not_utf8_is_fatal_for_both(mm, tmp_path):
    path = tmp_path / "cp949.txt"
    path.write_bytes("가\n나\n".encode("cp949"))
    real = dictionary_outcome(mm, str(path))
    sim = trainers()["mmocr"](Settings(charset=charsets.load_user_charset(str(path), encoding="cp949"),
                                       switches={}))
    assert real == "FATAL" and "UnicodeDecodeError" in sim.fatal()
