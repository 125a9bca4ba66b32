"""--task det and --task rec,det: the detection dataset holds exactly the source's boxes and
don't-care flags in all three label files, read back the way each trainer's config reads
them (PaddleOCR data_dir + label_file_list, MMOCR data_root + ann_file, COCO with
pycocotools); expected values are computed here from the source files."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from pycocotools.coco import COCO

from dataconv.fixtures.base import fixtures
from helpers import assert_accounted, load_json, rejects_of, run_cli

SPLITS = ("train", "val", "test")


# --- reading a detection dataset the way each trainer's config does -------------------

def split_files(root: str, name: str) -> list[tuple[str, str]]:
    """(split, its label file ``name``) for every split that has one."""
    return [(split, os.path.join(root, split, name)) for split in SPLITS
            if os.path.exists(os.path.join(root, split, name))]


def paddle_labels(root: str) -> dict[str, list[dict]]:
    """PaddleOCR SimpleDataSet: data_dir=<split>, label_file_list=[<split>/det_gt.txt];
    the image is data_dir joined with the path before the TAB, the label the JSON after it."""
    out = {}
    for split, label_file in split_files(root, "det_gt.txt"):
        with open(label_file, encoding="utf-8") as f:
            for line in f:
                path, label = line.rstrip("\n").split("\t")
                image = os.path.join(root, split, path)
                assert os.path.isfile(image), image
                out[f"{split}/{path}"] = json.loads(label)
    return out


def mmocr_labels(root: str) -> dict[str, list[dict]]:
    """MMOCR OCRDataset: data_root=<split>, ann_file=textdet.json, data_prefix img_path=''."""
    out = {}
    for split, ann in split_files(root, "textdet.json"):
        document = load_json(ann)
        assert document["metainfo"]["task_name"] == "textdet"
        for entry in document["data_list"]:
            assert os.path.isfile(os.path.join(root, split, entry["img_path"]))
            out[f"{split}/{entry['img_path']}"] = entry["instances"]
    return out


def coco_labels(root: str) -> dict[str, list[dict]]:
    out = {}
    for split, ann in split_files(root, "coco.json"):
        coco = COCO(ann)
        for image_id, image in coco.imgs.items():
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
            for a in anns:  # every polygon rasterises inside its page
                assert coco.annToMask(a).shape == (image["height"], image["width"])
            out[f"{split}/{image['file_name']}"] = anns
    return out


def pairs(points: list) -> list[tuple[float, float]]:
    flat = [v for p in points for v in (p if isinstance(p, (list, tuple)) else [p])]
    return [(float(flat[i]), float(flat[i + 1])) for i in range(0, len(flat), 2)]


def clockwise(points: list[tuple[float, float]]) -> bool:
    x, y = np.array(points).T
    return float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)) > 0


def same_ring(got: list[tuple[float, float]], want: list[tuple[float, float]]) -> bool:
    """The same polygon up to its starting corner (and its direction, made clockwise)."""
    for ring in (want, want[::-1]):
        for k in range(len(ring)):
            if got == ring[k:] + ring[:k]:
                return True
    return False


def three_files(root: str) -> dict[str, list[tuple[list[tuple[float, float]], bool]]]:
    """image -> [(points, ignore)], checked equal across the three label files."""
    paddle, mmocr, coco = paddle_labels(root), mmocr_labels(root), coco_labels(root)
    assert paddle.keys() == mmocr.keys() == coco.keys()
    boxes = {}
    for image, entries in paddle.items():
        from_paddle = [(pairs(b["points"]), b["transcription"] == "###") for b in entries]
        from_mmocr = [(pairs(i["polygon"]), i["ignore"]) for i in mmocr[image]]
        from_coco = [(pairs(a["segmentation"][0]), bool(a["iscrowd"])) for a in coco[image]]
        assert from_paddle == from_mmocr == from_coco, image
        for points, _ in from_paddle:
            assert clockwise(points), (image, points)
        boxes[image] = from_paddle
    return boxes


def page_table(root: str) -> pd.DataFrame:
    return pd.read_parquet(os.path.join(root, "samples.parquet"))


# --- the real ICDAR2015 subsets ---------------------------------------------------------

def test_icdar2015_paddleocr_subset_every_box_and_dont_care_flag(realdata: Path, tmp_path: Path):
    root = realdata / "icdar2015_det_paddleocr"
    labels = root / "test_icdar2015_label.subset100.txt"
    out = str(tmp_path / "out")
    run_cli("paddle-det", "-i", str(root), "--labels", str(labels), "--task", "det", "-o", out, "-q",
            "--workers", "2")
    want = {}
    for line in labels.read_text(encoding="utf-8").splitlines():
        path, payload = line.split("\t")
        image = Image.open(root / path)
        width, height = image.size
        want[path] = [([(min(max(float(x), 0), width), min(max(float(y), 0), height)) for x, y in b["points"]],
                       b["transcription"] in ("###", "*")) for b in json.loads(payload)]
    got = three_files(out)
    assert {k.split("/", 1)[1].removeprefix("images/") for k in got} == set(want)
    for image, boxes in got.items():
        expected = want[image.split("/", 1)[1].removeprefix("images/")]
        assert len(boxes) == len(expected)
        for (points, ignore), (want_points, want_ignore) in zip(boxes, expected):
            assert ignore == want_ignore
            assert same_ring(points, want_points), (image, points, want_points)
    total = sum(len(b) for b in want.values())
    assert (total, sum(i for b in want.values() for _, i in b)) == (1287, 839)
    card = assert_accounted(out)
    assert card["task"] == "det" and card["counts"]["written"] == 100
    assert card["boxes"] == {"written": 1287, "ignore": 839, "removed": 0, "removed_by_reason": {}}
    table = page_table(out)
    assert table.boxes.sum() == 1287 and table.ignore.sum() == 839 and (table.removed == 0).all()


def test_icdar2015_original_gt_files(realdata: Path, tmp_path: Path):
    src = realdata / "mmocr_toy" / "toy_dataset"
    out = str(tmp_path / "out")
    run_cli("icdar2015", "-i", str(src), "--task", "det", "-o", out, "-q", "--split", "none")
    got = three_files(out)
    expected = {}
    for gt in sorted((src / "annotations").rglob("gt_*.txt")):
        image = Image.open(next((src / "imgs").rglob(gt.name[3:-4] + ".jpg")))
        boxes = []
        for line in gt.read_text(encoding="utf-8-sig").splitlines():
            if line.strip():
                parts = line.split(",", 8)
                xs, ys = [float(v) for v in parts[0:8:2]], [float(v) for v in parts[1:8:2]]
                pts = [(min(max(x, 0), image.width), min(max(y, 0), image.height)) for x, y in zip(xs, ys)]
                boxes.append((pts, parts[8] == "###"))
        expected[gt.name[3:-4] + ".jpg"] = boxes
    assert sum(len(b) for b in expected.values()) == 82
    assert sum(i for b in expected.values() for _, i in b) == 61
    for image, boxes in got.items():
        want = expected[os.path.basename(image)]
        assert [i for _, i in boxes] == [i for _, i in want]
        assert all(same_ring(p, w) for (p, _), (w, _) in zip(boxes, want))


# --- every page format -----------------------------------------------------------------

PAGE_FIXTURES = {"icdar2015": "icdar2015", "paddle-det": "paddle-det", "coco-text": "coco-text",
                 "textocr": "textocr", "aihub-tiw": "aihub-tiw", "aihub-outdoor": "aihub-outdoor",
                 "aihub-admin": "aihub-admin", "aihub-nia": "aihub-nia", "labelme": "labelme",
                 "label-studio": "label-studio"}


def fixture_args(fmt: str, src: str) -> list[str]:
    extra = {"paddle-det": ["--labels", os.path.join(src, "label.txt")],
             "label-studio": ["--export", os.path.join(src, "export.json")],
             "coco-text": ["--labels", os.path.join(src, "COCO_Text.json")],
             "textocr": ["--labels", os.path.join(src, "TextOCR_0.1_train.json")]}
    return extra.get(fmt, [])


@pytest.mark.parametrize("fmt", sorted(PAGE_FIXTURES))
def test_every_page_format_gives_the_same_boxes_in_three_files_and_its_crops_share_page_splits(fmt, tmp_path):
    src = str(tmp_path / "src")
    fixtures()[PAGE_FIXTURES[fmt]][0](src)
    args = fixture_args(fmt, src)
    out = str(tmp_path / "out")
    run_cli(fmt, "-i", src, *args, "--task", "rec,det", "-o", out, "-q", "--split", "0.5,0.25,0.25")
    det = os.path.join(out, "det")
    card = assert_accounted(det)
    boxes = three_files(det)
    table = page_table(det)
    assert card["counts"]["written"] == len(table) == len(boxes) > 0
    assert table.boxes.sum() == sum(len(b) for b in boxes.values()) == card["boxes"]["written"]
    assert sum(i for b in boxes.values() for _, i in b) == card["boxes"]["ignore"]
    removed = [r for r in rejects_of(det) if r.get("level") == "box"]
    assert len(removed) == card["boxes"]["removed"] == table.removed.sum()
    # every crop lands in the split of the page it was cut from
    page_split = dict(zip(table.source_id, table.split))
    crops = pd.read_parquet(os.path.join(out, "samples.parquet"))
    rec_card = assert_accounted(out)
    assert rec_card["task"] == "rec,det" and rec_card["det"]["counts"] == card["counts"]
    assert len(crops) > 0
    assert set(crops.split) <= set(SPLITS)
    page_of = region_pages(fmt, ["-i", src, *args])
    assert all(page_split[page_of[sid]] == split for sid, split in zip(crops.source_id, crops.split))
    assert len(set(crops.split)) > 1 or len(set(table.split)) == 1


def region_pages(fmt: str, argv: list[str]) -> dict[str, str]:
    """crop id -> page id, from the format's own parse (the options as the command line gives them)."""
    from dataconv.cli import options
    from dataconv.cli.main import cli
    from dataconv.converters.base import load
    from dataconv.page import TextPage

    info = load(fmt)
    ctx = cli.commands[fmt].make_context(fmt, [*argv, "-o", "unused"])
    converter = info.cls(ctx.params["src"], options.from_kwargs(info.cls.Options, ctx.params))
    return {r.id: p.id for p in converter.pages() if isinstance(p, TextPage) for r in p.regions}


def test_tiw_every_word_and_ignored_region_of_every_page_with_an_image(tmp_path):
    src = str(tmp_path / "src")
    fixtures()["aihub-tiw"][0](src)
    document = load_json(os.path.join(src, "textinthewild_data_info.json"))
    out = str(tmp_path / "out")
    run_cli("aihub", "--type", "auto", "-i", src, "--task", "det", "-o", out, "-q", "--split", "none")
    table = page_table(out)
    written_ids = {i.removeprefix("image:") for i in table.source_id}
    want_boxes = want_ignore = 0
    for ann in document["annotations"]:
        if ann["image_id"] in written_ids and ann["attributes"]["class"] in ("word", "ignored"):
            x, y, w, h = ann["bbox"]
            if w > 0 and h > 0:
                want_boxes += 1
                want_ignore += ann["attributes"]["class"] == "ignored" or ann["text"] is None \
                    or ann["text"] == "국ㅇㄴ"  # a broken label (the jamo check): text, not background
    card = assert_accounted(out)
    assert card["boxes"]["written"] == want_boxes and card["boxes"]["ignore"] == want_ignore
    assert card["boxes"]["removed_by_reason"] == {"degenerate_box": 1}  # the negative width
    reasons = {r["reason"] for r in rejects_of(out) if "level" not in r}
    assert reasons == {"missing_image", "duplicate_file_name", "unannotated_image"}


# --- geometry, EXIF, bad boxes -------------------------------------------------------

def labelme_page(folder: Path, shapes: list[dict], name: str = "p") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("L", (100, 50), 200).save(folder / f"{name}.png")
    (folder / f"{name}.json").write_text(json.dumps({"imagePath": f"{name}.png", "shapes": shapes,
                                                     "imageHeight": 50, "imageWidth": 100}))


BOWTIE = {"label": "x", "shape_type": "polygon", "points": [[10, 10], [40, 40], [40, 10], [10, 40]]}
GOOD = {"label": "ok", "shape_type": "rectangle", "points": [[50, 10], [90, 30]]}


def test_a_box_with_unusable_geometry_leaves_the_page_and_the_page_says_so(tmp_path):
    labelme_page(tmp_path / "src", [BOWTIE, GOOD])
    out = str(tmp_path / "out")
    run_cli("labelme", "-i", str(tmp_path / "src"), "--task", "det", "-o", out, "-q", "--split", "none")
    boxes = three_files(out)
    assert list(boxes.values()) == [[([(50.0, 10.0), (90.0, 10.0), (90.0, 30.0), (50.0, 30.0)], False)]]
    [row] = rejects_of(out)
    assert (row["reason"], row["level"], row["source"]) == ("degenerate_box", "box", "p.json:shapes[0]")
    assert "Self-intersection" in row["detail"]
    assert page_table(out).removed.tolist() == [1]
    out2 = str(tmp_path / "out2")
    run_cli("labelme", "-i", str(tmp_path / "src"), "--task", "det", "--on-bad-box", "drop-page",
            "-o", out2, "-q", "--split", "none", expect=1)  # the only page dropped: nothing written


def test_drop_page_rejects_only_the_page_with_the_bad_box(tmp_path):
    labelme_page(tmp_path / "src", [BOWTIE, GOOD], "bad")
    labelme_page(tmp_path / "src", [GOOD], "good")
    out = str(tmp_path / "out")
    run_cli("labelme", "-i", str(tmp_path / "src"), "--task", "det", "--on-bad-box", "drop-page",
            "-o", out, "-q", "--split", "none")
    assert [(r["reason"], r["id"]) for r in rejects_of(out)] == [("bad_box_page", "bad")]
    assert page_table(out).source_id.tolist() == ["good"]


def test_text_that_cannot_train_a_recognizer_stays_as_a_dont_care_region(tmp_path):
    outside = {"label": "ok!", "shape_type": "rectangle", "points": [[5, 30], [45, 45]]}
    shapes = [{"label": "###", "shape_type": "rectangle", "points": [[5, 5], [45, 25]]}, GOOD, outside]
    labelme_page(tmp_path / "src", shapes)
    (tmp_path / "charset.txt").write_text("o\nk\n", encoding="utf-8")
    out = str(tmp_path / "out")
    run_cli("labelme", "-i", str(tmp_path / "src"), "--task", "rec,det", "-o", out, "-q", "--split", "none",
            "--charset", str(tmp_path / "charset.txt"))
    [(_, boxes)] = three_files(os.path.join(out, "det")).items()
    assert [i for _, i in boxes] == [True, False, True]  # ###, a good word, a character outside the charset
    reasons = sorted(r["reason"] for r in rejects_of(out))
    assert reasons[0] == "dont_care" and len(reasons) == 2  # the crops are rejected, the boxes stay


def exif_jpeg(width: int, height: int, orientation: int, dark: tuple[int, int, int, int]) -> bytes:
    """A stored ``width`` x ``height`` photo with a dark rectangle (stored pixels) and the
    EXIF orientation tag."""
    pixels = np.full((height, width, 3), 230, np.uint8)
    x0, y0, x1, y1 = dark
    pixels[y0:y1, x0:x1] = 20
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_rotated_photo_coordinates_match_the_pixels_cv2_decodes(tmp_path, orientation):
    from dataconv.io.decode import UPRIGHT

    stored = exif_jpeg(120, 80, orientation, (20, 30, 70, 50))
    upright = Image.open(io.BytesIO(stored)).transpose(UPRIGHT[orientation])
    ys, xs = np.nonzero(np.asarray(upright.convert("L")) < 100)
    box = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
    src = tmp_path / "src"
    src.mkdir()
    (src / "photo.jpg").write_bytes(stored)
    (src / "photo.json").write_text(json.dumps({"images": [{"file_name": "photo.jpg"}],
                                                "annotations": [{"id": 1, "text": "글자", "bbox": box}]}),
                                    encoding="utf-8")
    out = str(tmp_path / "out")
    run_cli("aihub-outdoor", "-i", str(src), "--task", "det", "-o", out, "-q", "--split", "none")
    [(image, [(points, _)])] = three_files(out).items()
    written = (Path(out) / image).read_bytes()
    assert Image.open(io.BytesIO(written)).getexif().get(0x0112, 1) == 1
    assert written.endswith(stored[-1000:])  # the scan data is untouched: no re-encode
    decoded = cv2.imdecode(np.frombuffer(written, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape[:2] == (80, 120)  # the stored pixels, as every decoder now sees them
    xs_, ys_ = zip(*points)
    inside = decoded[int(min(ys_)) + 2:int(max(ys_)) - 2, int(min(xs_)) + 2:int(max(xs_)) - 2]
    assert inside.size and inside.mean() < 60  # the box covers the dark word in cv2's pixels
    assert (min(xs_), min(ys_), max(xs_), max(ys_)) == (20, 30, 70, 50)


def test_label_studio_negative_size_is_a_degenerate_box(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    Image.new("L", (100, 50), 200).save(src / "a.png")
    task = {"id": 1, "data": {"ocr": "/data/upload/1/a.png"}, "annotations": [{"result": [
        {"id": "r1", "type": "rectangle", "original_width": 100, "original_height": 50,
         "value": {"x": 50, "y": 10, "width": -20, "height": 30}},
        {"id": "r1", "type": "textarea", "value": {"text": ["neg"]}}]}]}
    export = tmp_path / "export.json"
    export.write_text(json.dumps([task]))
    out = str(tmp_path / "out")
    run_cli("label-studio", "-i", str(src), "--export", str(export), "-o", out, "-q", expect=1)


def test_det_on_line_images_is_loud(tmp_path):
    src = str(tmp_path / "src")
    fixtures()["minhon"][0](src)
    out = str(tmp_path / "out")
    result = run_cli("minhon", "-i", src, "--task", "det", "-o", out, "-q", expect=None)
    assert result.exit_code == 1 or "not_a_page" in json.dumps(load_json(os.path.join(out, "manifest.json")))


def test_label_studio_rotated_rectangle_keeps_its_turned_corners(tmp_path):
    import math

    src = tmp_path / "src"
    src.mkdir()
    Image.new("L", (200, 100), 200).save(src / "a.png")
    value = {"x": 20, "y": 20, "width": 30, "height": 20, "rotation": 30}
    task = {"id": 7, "data": {"ocr": "/data/upload/1/a.png"}, "annotations": [{"result": [
        {"id": "r1", "type": "rectangle", "original_width": 200, "original_height": 100, "value": value},
        {"id": "r1", "type": "textarea", "original_width": 200, "original_height": 100,
         "value": {**value, "text": ["turned"]}}]}]}
    (tmp_path / "export.json").write_text(json.dumps([task]))
    out = str(tmp_path / "out")
    run_cli("label-studio", "-i", str(src), "--export", str(tmp_path / "export.json"), "--task", "det",
            "-o", out, "-q", "--split", "none")
    [(_, [(points, ignore)])] = three_files(out).items()
    x, y, w, h, a = 40.0, 20.0, 60.0, 20.0, math.radians(30)  # percent of 200 x 100
    want = [(x, y), (x + w * math.cos(a), y + w * math.sin(a)),
            (x + w * math.cos(a) - h * math.sin(a), y + w * math.sin(a) + h * math.cos(a)),
            (x - h * math.sin(a), y + h * math.cos(a))]
    assert not ignore and len(points) == 4
    assert all(abs(px - wx) < 1e-3 and abs(py - wy) < 1e-3 for (px, py), (wx, wy) in zip(points, want))


def test_image_names_the_label_file_cannot_hold_are_renamed_and_star_is_dont_care_everywhere(tmp_path):
    src = tmp_path / "src"
    star = {"label": "*", "shape_type": "rectangle", "points": [[5, 30], [45, 45]]}
    for name in ("a\tb", "c\nd", "c_d"):
        labelme_page(src, [GOOD, star], name)
    out = str(tmp_path / "out")
    run_cli("labelme", "-i", str(src), "--task", "det", "-o", out, "-q", "--split", "none")
    boxes = three_files(out)  # PaddleOCR's reading: one line per page, the path before the TAB
    assert sorted(boxes) == ["train/images/a_b.png", "train/images/c_d.png", "train/images/c_d~1.png"]
    assert all([i for _, i in b] == [False, True] for b in boxes.values())
    table = page_table(out)
    assert sorted(table.source_id) == ["a\tb", "c\nd", "c_d"]
