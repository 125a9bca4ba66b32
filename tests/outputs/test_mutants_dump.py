"""Issue 26, mutation run of dataconv/outputs/dump.py: the survivors that meant a wrong
answer (docs/DEVELOPING.md, "Issue 26 run, second part"). Real folders written by
``dump_split`` and read back byte for byte."""
from __future__ import annotations

import io
import json
import os
from collections import Counter

import pytest
from PIL import Image

from dataconv.errors import SampleRejected
from dataconv.outputs import dump


def image(fmt: str, size=(3, 2)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(buf, fmt)
    return buf.getvalue()


PNG, JPEG = image("PNG"), image("JPEG")


@pytest.mark.parametrize("fmt,ext", [("PNG", "png"), ("JPEG", "jpg"), ("BMP", "bmp"), ("GIF", "gif"),
                                     ("TIFF", "tif"), ("WEBP", "webp"), ("PPM", "ppm")])
def test_image_extension_from_the_header(fmt, ext):
    assert dump.image_extension(image(fmt)) == ext


def test_image_extension_of_unknown_bytes():
    assert dump.image_extension(b"not an image") == "bin"
    assert dump.image_extension(b"") == "bin"


@pytest.mark.parametrize("style,label,reason", [
    ("clovaai", "a\nb", "multiline_label"), ("clovaai", "a\rb", "multiline_label"),
    ("clovaai", "a\tb", "separator_in_label"), ("clovaai", "a\t\n", "multiline_label"),
    ("clovaai", "a ", None), ("paddle", "a\rb", "multiline_label"), ("paddle", "\tb", "separator_in_label"),
    ("paddle", "b ", None), ("easyocr", "a\nb", "multiline_label"), ("easyocr", "a\rb", "multiline_label"),
    ("easyocr", "a\tb", None), ("easyocr", "a ", "stripped_label"), ("easyocr", "a\u3000", "stripped_label"),
    ("easyocr", " a", None), ("easyocr", "", None), ("mmocr", "a\n\tb ", None), ("imagefolder", "a\r\tb ", None),
] + [(style, "XXXX", None) for style in dump.STYLES])  # no other character ends or splits a line
def test_each_style_refuses_what_its_readers_cannot_hold(style, label, reason):
    check = dump.STYLES[style].check
    if reason is None:
        check(label)
    else:
        with pytest.raises(SampleRejected) as e:
            check(label)
        assert e.value.reason == reason


def test_label_to_write_reasons():
    style = dump.STYLES["mmocr"]
    for raw, img, reason in ((b"a", None, "missing_image"), (None, None, "missing_image"),
                             (None, PNG, "missing_label"), (b"\xff", PNG, "undecodable_label")):
        with pytest.raises(SampleRejected) as e:
            dump.label_to_write(style, raw, img)
        assert e.value.reason == reason
    assert dump.label_to_write(style, "한 a".encode(), PNG) == "한 a"


RECORDS = [("한글".encode(), PNG), (b"\xff", PNG), (b"w,x", JPEG), (None, PNG), (b"a\tb", JPEG), (b"end ", PNG)]


def written(folder: str, style: str, split: str = "train"):
    counts = dump.dump_split(folder, split, dump.STYLES[style], RECORDS)
    with open(os.path.join(folder, dump.STYLES[style].file_name(split)), "rb") as f:
        text = f.read().decode("utf-8")
    images = {name: open(os.path.join(folder, "images", name), "rb").read()
              for name in sorted(os.listdir(os.path.join(folder, "images")))}
    return counts, text, images


@pytest.mark.parametrize("style", ["clovaai", "paddle"])
def test_line_styles_exactly(tmp_path, style):
    counts, text, images = written(str(tmp_path / "d"), style)
    assert text == "images/000000001.png\t한글\nimages/000000002.jpg\tw,x\nimages/000000003.png\tend \n"
    assert images == {"000000001.png": PNG, "000000002.jpg": JPEG, "000000003.png": PNG}
    assert (counts.written, counts.left_out) == (
        3, Counter({"undecodable_label": 1, "missing_label": 1, "separator_in_label": 1}))
    assert sorted(os.listdir(tmp_path / "d")) == sorted(["images", {"clovaai": "gt.txt", "paddle": "rec_gt.txt"}[style]])


def test_easyocr_exactly(tmp_path):
    counts, text, images = written(str(tmp_path / "d"), "easyocr")
    assert text == ("filename,words\nimages/000000001.png,한글\nimages/000000002.jpg,w,x\n"
                    "images/000000003.jpg,a\tb\n")
    assert images == {"000000001.png": PNG, "000000002.jpg": JPEG, "000000003.jpg": JPEG}
    assert (counts.written, counts.left_out) == (
        3, Counter({"undecodable_label": 1, "missing_label": 1, "stripped_label": 1}))


def test_mmocr_exactly(tmp_path):
    counts, text, _ = written(str(tmp_path / "d"), "mmocr", split="val")
    head = '{"metainfo": {"dataset_type": "TextRecogDataset", "task_name": "textrecog"}, "data_list": ['
    items = ['{"img_path": "images/000000001.png", "instances": [{"text": "한글"}]}',
             '{"img_path": "images/000000002.jpg", "instances": [{"text": "w,x"}]}',
             '{"img_path": "images/000000003.jpg", "instances": [{"text": "a\\tb"}]}',
             '{"img_path": "images/000000004.png", "instances": [{"text": "end "}]}']
    assert text == head + "\n  " + ",\n  ".join(items) + "\n]}\n"
    assert os.path.exists(tmp_path / "d" / "textrecog_val.json")
    assert json.loads(text)["data_list"][3]["instances"][0]["text"] == "end "
    assert (counts.written, counts.left_out) == (4, Counter({"undecodable_label": 1, "missing_label": 1}))


def test_imagefolder_exactly(tmp_path):
    counts, text, _ = written(str(tmp_path / "d"), "imagefolder")
    assert text.splitlines()[0] == '{"file_name": "images/000000001.png", "text": "한글"}'
    assert [json.loads(line)["text"] for line in text.splitlines()] == ["한글", "w,x", "a\tb", "end "]
    assert text.endswith("\n") and counts.written == 4


def test_an_empty_split_writes_an_empty_file(tmp_path):
    counts = dump.dump_split(str(tmp_path / "e"), "train", dump.STYLES["mmocr"], [])
    assert counts.written == 0 and not counts.left_out
    text = (tmp_path / "e" / "textrecog_train.json").read_text("utf-8")
    assert json.loads(text)["data_list"] == []


@pytest.mark.parametrize("labels,kept", [
    (["1", "2.5", "-3"], False), (["True", "False", "True"], False), (["1", "x", "3"], True),
    (["007", "1e3"], False), (["a"], True), (["1,5", "2"], True),  # "1,5" is text after the path's comma
])
def test_easyocr_splits_that_read_as_numbers_are_left_out(tmp_path, labels, kept):
    folder = str(tmp_path / "d")
    counts = dump.dump_split(folder, "train", dump.STYLES["easyocr"], [(x.encode(), PNG) for x in labels])
    text = open(os.path.join(folder, "labels.csv"), encoding="utf-8").read()
    if kept:
        assert counts.written == len(labels) and not counts.left_out
        assert len(os.listdir(os.path.join(folder, "images"))) == len(labels)
    else:
        assert (counts.written, counts.left_out) == (0, Counter({"numeric_labels": len(labels)}))
        assert text == "filename,words\n" and os.listdir(os.path.join(folder, "images")) == []


def test_easyocr_column_kinds_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(dump, "CHUNK_ROWS", 2)  # pandas reads the file whole; dataconv in chunks
    for labels, text_column in ((["1", "2", "True", "False"], True), (["1", "2", "3", "4"], False),
                                (["1", "2", "3", "x"], True), (["True", "False", "False"], False)):
        path = tmp_path / "labels.csv"
        path.write_text("filename,words\n" + "".join(f"i{n}.png,{x}\n" for n, x in enumerate(labels)), "utf-8")
        assert dump._easyocr_text_column(str(path)) is text_column
