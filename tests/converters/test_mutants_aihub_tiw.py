"""Issue 26, mutation run of converters/aihub_tiw.py: the survivors that meant a wrong
answer (docs/DEVELOPING.md). Real Text in the wild folders converted through the CLI, read
back: --kind sentence, ignored boxes that carry a text, --labels, the sample ids, reject
reasons, sources and ids, and the class a sample is grouped by."""
from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd

from fmt_util import convert, labels, written
from helpers import rejects_of, run_cli
from hostile_util import write_files
from pages import H, W, noise_page, pixels, png

LABEL_FILE = "textinthewild_data_info.json"


def tiw(root, annotations: list[dict], images: list[dict] | None = None, label_file: str = LABEL_FILE
        ) -> np.ndarray:
    """A TiW folder: one photo (images[] id 00000001) and these annotations."""
    page = noise_page(5)
    images = images if images is not None else [{"id": "00000001", "file_name": "ab12.jpg", "type": "sign",
                                                 "width": W, "height": H}]
    doc = {"images": images, "annotations": annotations}
    write_files(str(root), {label_file: json.dumps(doc, ensure_ascii=False).encode(), "Sign/AB12.jpg": png(page)})
    return page


def ann(text, kind: str, box=(23, 31, 64, 18), image_id: str = "00000001", **more) -> dict:
    return {"image_id": image_id, "text": text, "bbox": list(box), "attributes": {"class": kind}, **more}


def test_kind_sentence_keeps_sentence_boxes(tmp_path):
    page = tiw(tmp_path / "src", [ann("서울 시청", "sentence", id="7"), ann("서울", "word", id="8")])
    convert("aihub-tiw", tmp_path / "src", tmp_path / "out", "--kind", "sentence")
    [(sid, label, data)] = written(tmp_path / "out")
    assert (sid, label) == ("7", "서울 시청") and np.array_equal(pixels(data), page[31:49, 23:87])


def test_an_ignored_box_with_a_text_is_dont_care_in_crops_and_detection(tmp_path):
    tiw(tmp_path / "src", [ann("광고", "ignored", id="1"), ann("서울", "word", (10, 5, 40, 20), id="2")])
    card = convert("aihub-tiw", tmp_path / "src", tmp_path / "out")
    assert labels(tmp_path / "out") == {"2": "서울"} and card["rejects"] == {"dont_care": 1}
    [row] = rejects_of(str(tmp_path / "out"))
    assert row["detail"] == "class 'ignored', text '광고'"
    run_cli("aihub-tiw", "-i", str(tmp_path / "src"), "-o", str(tmp_path / "det"), "-q", "--task", "det",
            "--split", "none")
    with open(tmp_path / "det" / "train" / "det_gt.txt", encoding="utf-8") as f:
        [(name, boxes)] = [line.rstrip("\n").split("\t") for line in f]
    assert [box["transcription"] for box in json.loads(boxes)] == ["###", "서울"]


def test_sample_ids_sources_and_reject_places(tmp_path):
    """An annotation's id is the sample id (``annotations[i]`` without one); every reject
    names the label file, the annotation or image entry, and its id."""
    images = [{"id": "00000001", "file_name": "ab12.jpg"}, {"id": "00000002", "file_name": "cd34.jpg"}]
    tiw(tmp_path / "src", [ann("서울", "word", id="11"), ann("부산", "word", (40, 5, 30, 20)),
                           ann("대구", "word", image_id="00000009", id="13")], images)
    convert("aihub-tiw", tmp_path / "src", tmp_path / "out", "--split", "none")
    table = pd.read_parquet(os.path.join(tmp_path / "out", "samples.parquet"))
    assert sorted(zip(table.source_id, table.source)) == [
        ("11", f"{LABEL_FILE}:annotations[0]"), ("annotations[1]", f"{LABEL_FILE}:annotations[1]")]
    assert [(r["reason"], r["source"], r["id"], r["detail"]) for r in rejects_of(str(tmp_path / "out"))] == [
        ("unknown_image_id", f"{LABEL_FILE}:annotations[2]", "13", "image_id '00000009' has no images[] entry"),
        ("unannotated_image", f"{LABEL_FILE}:images[id=00000002]", "image:00000002",
         "image '00000002' (cd34.jpg) has no annotation")]


def test_labels_names_the_label_file_and_never_a_folder(tmp_path):
    tiw(tmp_path / "src", [ann("서울", "word", id="1")], label_file="other/labels.json")
    convert("aihub-tiw", tmp_path / "src", tmp_path / "out", "--labels", str(tmp_path / "src" / "other" / "labels.json"))
    assert labels(tmp_path / "out") == {"1": "서울"}
    assert rejects_of(str(tmp_path / "out")) == []
    result = run_cli("aihub-tiw", "-i", str(tmp_path / "src"), "-o", str(tmp_path / "o2"), "-q",
                     "--labels", str(tmp_path / "src" / "other"), expect=2)
    assert "--labels" in result.output and "directory" in result.output
    assert not os.path.exists(tmp_path / "o2")


def test_group_by_class_keeps_each_class_in_one_split(tmp_path):
    boxes = [ann(f"글{k}", "word" if k % 2 else "character", (k % 8 * 10, 5, 9, 9), id=str(k)) for k in range(40)]
    tiw(tmp_path / "src", [dict(b, text="글") if b["attributes"]["class"] == "character" else b for b in boxes])
    convert("aihub-tiw", tmp_path / "src", tmp_path / "out", "--kind", "word", "--kind", "character",
            "--group-by", "class", "--split", "0.34,0.33,0.33")
    table = pd.read_parquet(os.path.join(tmp_path / "out", "samples.parquet"))
    classes = table.assign(odd=[int(sid) % 2 for sid in table.source_id])
    assert len(table) == 40 and classes.groupby("odd").split.nunique().max() == 1
    result = run_cli("aihub-tiw", "-i", str(tmp_path / "src"), "-o", str(tmp_path / "o2"), "-q",
                     "--group-by", "meta:nothing", expect=2)
    assert "no sample has a 'nothing' attribute; meta keys seen: class, image" in result.output


def test_a_page_whose_photo_is_missing_is_named_by_its_images_entry(tmp_path):
    images = [{"id": "00000001", "file_name": "ab12.jpg"}, {"id": "00000002", "file_name": "gone.jpg"}]
    tiw(tmp_path / "src", [ann("서울", "word", id="1"), ann("부산", "word", image_id="00000002", id="2")], images)
    run_cli("aihub-tiw", "-i", str(tmp_path / "src"), "-o", str(tmp_path / "det"), "-q", "--task", "det",
            "--split", "none")
    assert [(r["reason"], r["source"], r["id"]) for r in rejects_of(str(tmp_path / "det"))] == [
        ("missing_image", f"{LABEL_FILE}:images[id=00000002]", "image:00000002")]
    table = pd.read_parquet(os.path.join(tmp_path / "det", "samples.parquet"))
    assert list(zip(table.source_id, table.source)) == [("image:00000001", f"{LABEL_FILE}:images[id=00000001]")]
