"""`validate --for paddleocr-det / mmocr-det` against the trainers' own code and readers.

PaddleOCR: its own DetLabelEncode, EastRandomCropData, MakeBorderMap and MakeShrinkMap from the
installed paddleocr 2.10.0 wheel (``ppocr_util``) run on every line of the written det_gt.txt,
at the training scale the simulation assumes: EastRandomCropData with ``max_tries=0`` takes the
whole page (its fallback crop), fitted into train_size x train_size. Box by box, the ignore
tags PaddleOCR ends with (and the pages it gives up on) equal the simulation's, on seeded
random pages (tiny, thin, near-zero-area, don't-care and ``*`` boxes, polygons, pages with only
ignored boxes or none) and on the real ICDAR2015 PaddleOCR subset.

MMOCR (not installable here): the textdet JSON read by a parser written from OCRDataset /
mmengine BaseDataset / LoadOCRAnnotations semantics, and the DBNet rules checked on boxes
whose outcome is worked out by hand. COCO: pycocotools reads every annotation and rasterizes
its polygon.
"""
from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers import REALDATA, run_cli
from ppocr_util import PPOCR_SPEC, load_imaug
from dataconv.io.det_reader import det_splits
from dataconv.validators.trainers import Settings, trainers

pytestmark = [pytest.mark.skipif(PPOCR_SPEC is None or importlib.util.find_spec("pyclipper") is None,
                                 reason="paddleocr==2.10.0 (--no-deps) and pyclipper not installed (make setup-all)"),
              pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")]  # pycocotools

SIZES = [(640, 8), (320, 8), (160, 3), (1024, 16)]  # (train size, min text size)
WORDS = ["EXIT", "Seoul", "서울역", "東京", "*", "###", "a", "PAY", "###", "text"]


# --- sources -------------------------------------------------------------------------------

def labelme_page(folder: Path, name: str, size: tuple[int, int], shapes: list[tuple[str, list]]) -> None:
    """A labelme page: a blank PNG and its polygons (text, points)."""
    Image.new("RGB", size, (255, 255, 255)).save(folder / f"{name}.png")
    doc = {"shapes": [{"label": text, "points": points, "shape_type": "polygon"} for text, points in shapes],
           "imagePath": f"{name}.png", "imageWidth": size[0], "imageHeight": size[1]}
    (folder / f"{name}.json").write_text(json.dumps(doc), encoding="utf-8")


def rect(x: float, y: float, w: float, h: float, degrees: float = 0.0) -> list[list[float]]:
    """A w x h rectangle with top-left corner (x, y), turned about that corner."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return [[round(x + dx * c - dy * s, 3), round(y + dx * s + dy * c, 3)] for dx, dy in
            ((0, 0), (w, 0), (w, h), (0, h))]


def random_shape(rng: np.random.Generator, size: tuple[int, int]) -> list[list[float]]:
    """A turned rectangle, a curved 6-point band or a triangle; sides from under a pixel to a
    third of the page, so every scale has boxes on both sides of every threshold."""
    w = float(np.exp(rng.uniform(0, math.log(size[0] / 3))))
    h = float(np.exp(rng.uniform(math.log(0.7), math.log(size[1] / 6))))
    x, y = rng.uniform(0, size[0] - w), rng.uniform(0, size[1] - h)
    kind = rng.integers(0, 3)
    if kind == 0:
        return rect(x, y, w, h, float(rng.uniform(-30, 30)))
    if kind == 1:
        bend = rng.uniform(0, h)
        return [[round(px, 1), round(py, 1)] for px, py in
                ((x, y + bend), (x + w / 2, y), (x + w, y + bend), (x + w, y + bend + h), (x + w / 2, y + h),
                 (x, y + bend + h))]
    return [[round(x, 1), round(y + h, 1)], [round(x + w / 2, 1), round(y, 1)], [round(x + w, 1), round(y + h, 1)]]


PAGE_SIZES = [(1280, 720), (2000, 600), (500, 1500), (640, 640), (2400, 1600), (400, 300)]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> str:
    """Seeded random pages plus the hand-made edge pages, as a --task det OUT (train and val)."""
    src = tmp_path_factory.mktemp("pages")
    rng = np.random.default_rng(7)
    for number in range(12):
        size = PAGE_SIZES[number % len(PAGE_SIZES)]
        shapes = [(WORDS[int(rng.integers(0, len(WORDS)))], random_shape(rng, size)) for _ in range(25)]
        labelme_page(src, f"random{number}", size, shapes)
    thin_l = [[300, 300], [450, 300], [450, 301], [301, 301], [301, 450], [300, 450]]
    labelme_page(src, "edges", (1280, 720), [
        ("sliver", [[100, 100], [103, 100], [100, 101]]),  # 1.5 px on the page: under 1 at half scale
        ("thin-l", thin_l), ("edge", [[1200, 600], [1280, 600], [1280, 720], [1200, 720]]),
        ("word", rect(500, 500, 200, 40))])
    labelme_page(src, "collapse", (1280, 720), [("thin", [[200.4, 100], [201.8, 100], [201.8, 120], [200.4, 120]]),
                                               ("word", rect(500, 500, 200, 40))])
    # 16 px at the far edge: 8 at half scale, 7 once MakeShrinkMap clips to side - 1
    labelme_page(src, "far-edge", (1280, 720), [("right", [[1264, 100], [1280, 100], [1280, 130], [1264, 130]])])
    labelme_page(src, "far-edge-tall", (720, 1280), [("bottom", [[100, 1264], [130, 1264], [130, 1280], [100, 1280]])])
    labelme_page(src, "dontcare", (800, 600), [("###", rect(10, 10, 300, 50)), ("###", rect(10, 100, 300, 50))])
    labelme_page(src, "tiny", (1600, 900), [("a", rect(10, 10, 30, 5)), ("b", rect(100, 10, 30, 4))])
    labelme_page(src, "star", (640, 480), [("*", rect(10, 10, 200, 40)), ("word", rect(10, 100, 200, 40))])
    labelme_page(src, "empty", (640, 480), [])
    out = str(tmp_path_factory.mktemp("out") / "det")
    run_cli("labelme", "-i", str(src), "--task", "det", "-o", out, "-q", "--split", "0.75,0.25,0")
    return out


@pytest.fixture(scope="module")
def icdar(tmp_path_factory) -> str:
    root = REALDATA / "icdar2015_det_paddleocr"
    if not root.is_dir():
        pytest.skip("../shared/realdata is not beside the checkout")
    out = str(tmp_path_factory.mktemp("icdar") / "out")
    run_cli("paddle-det", "-i", str(root), "--labels", str(root / "test_icdar2015_label.subset100.txt"),
            "--task", "det", "-o", out, "-q", "--split", "0.8,0.2,0")
    return out


@pytest.fixture(scope="module")
def ppocr():
    return load_imaug("label_ops", "random_crop_data", "make_border_map", "make_shrink_map")


# --- PaddleOCR's own code ------------------------------------------------------------------

def det_lines(root: str) -> list[tuple[str, str, str]]:
    """(split name, split folder, line) for every line of every det_gt.txt, in output order."""
    return [(split.name, split.folder, line) for split in det_splits(root)
            for line in Path(split.folder, "det_gt.txt").read_text(encoding="utf-8").splitlines()]


def paddle_run(ppocr, split: str, folder: str, line: str, side: int, min_size: int) -> str | list[bool]:
    """What PaddleOCR's own ops make of one line: the final ignore tag of every box left,
    or why the page is given up ("no_boxes": DetLabelEncode's None; "border_map_raises")."""
    name, label = line.split("\t")
    data = ppocr["label_ops"].DetLabelEncode()({"label": label})
    if data is None:
        return "no_boxes"
    if split != "train":  # Eval: DecodeImage, DetLabelEncode, DetResizeForTest
        return [bool(t) for t in data["ignore_tags"]]
    with Image.open(os.path.join(folder, name)) as image:
        width, height = image.size
    data["image"] = np.zeros((height, width, 3), np.uint8)
    data = ppocr["random_crop_data"].EastRandomCropData(size=(side, side), max_tries=0, keep_ratio=True)(data)
    try:
        data = ppocr["make_border_map"].MakeBorderMap(shrink_ratio=0.4)(data)
    except IndexError:
        return "border_map_raises"
    data = ppocr["make_shrink_map"].MakeShrinkMap(min_text_size=min_size, shrink_ratio=0.4)(data)
    return [bool(t) for t in data["ignore_tags"]]


def predicted(trainer: str, root: str, side: int = 640, min_size: int = 8) -> list:
    simulation = trainers()[trainer](Settings(switches={"train_size": side, "min_text_size": min_size}))
    return [page for split in det_splits(root) for page in simulation.pages(split)]


def outcome(page) -> str | list[bool]:
    if page.skipped:
        return page.skipped
    return [box.ignored is not None for box in page.boxes if box.ignored != "outside_crop"]


def assert_paddle_agrees(ppocr, root: str, side: int, min_size: int) -> list:
    lines, pages = det_lines(root), predicted("paddleocr-det", root, side, min_size)
    assert len(lines) == len(pages) > 0
    for (split, folder, line), page in zip(lines, pages):
        assert outcome(page) == paddle_run(ppocr, split, folder, line, side, min_size), (page.key, side, min_size)
    return pages


@pytest.mark.parametrize("side,min_size", SIZES)
def test_paddleocr_det_predicts_paddleocrs_own_pipeline_box_by_box(ppocr, generated, side, min_size):
    assert_paddle_agrees(ppocr, generated, side, min_size)


def test_the_generated_pages_reach_every_rule(generated):
    seen = set()
    for side, min_size in SIZES:
        for page in predicted("paddleocr-det", generated, side, min_size):
            seen |= {page.skipped} | {box.ignored for box in page.boxes}
    assert {"dont_care", "area_under_1", "under_min_text_size", "border_map_raises",
            "no_boxes", None} <= seen  # a "*" box is written don't-care (###): see the hand-edited case


@pytest.mark.parametrize("side,min_size", [(640, 8), (320, 8)])
def test_paddleocr_det_on_the_real_icdar2015_subset(ppocr, icdar, side, min_size):
    pages = assert_paddle_agrees(ppocr, icdar, side, min_size)
    assert sum(len(p.boxes) for p in pages) == 1287
    assert sum(b.ignored == "dont_care" for p in pages for b in p.boxes) == 839


def test_every_written_page_parses_and_the_three_label_files_agree(ppocr, generated):
    """DetLabelEncode reads every line; box counts, points and don't-care flags agree with
    textdet.json (read as OCRDataset does), coco.json (pycocotools) and samples.parquet."""
    from pycocotools.coco import COCO

    table = pd.read_parquet(os.path.join(generated, "samples.parquet"))
    encoder = ppocr["label_ops"].DetLabelEncode()
    for split in det_splits(generated):
        lines = Path(split.folder, "det_gt.txt").read_text(encoding="utf-8").splitlines()
        entries = mmocr_entries(split.folder)
        coco = COCO(os.path.join(split.folder, "coco.json"))
        rows = table[table.split == split.name]
        assert len(lines) == len(entries) == len(rows) == len(coco.imgs)
        for line, entry, row, image_id in zip(lines, entries, rows.itertuples(), sorted(coco.imgs)):
            name, label = line.split("\t")
            boxes = json.loads(label)
            data = encoder({"label": label})
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
            assert name == entry["img_path"] == coco.imgs[image_id]["file_name"] == row.path
            assert (0 if data is None else len(data["polys"])) == len(entry["instances"]) == len(anns) == row.boxes
            dont_care = [b["transcription"] == "###" for b in boxes]
            assert dont_care == [i["ignore"] for i in entry["instances"]] == [a["iscrowd"] == 1 for a in anns]
            assert row.ignore == sum(dont_care)
            if data is not None:
                assert [bool(t) for t in data["ignore_tags"]] == [b["transcription"] in ("###", "*") for b in boxes]
            for box, instance, ann in zip(boxes, entry["instances"], anns):
                flat = [v for point in box["points"] for v in point]
                assert instance["polygon"] == flat == ann["segmentation"][0]
                assert_mask(coco.annToMask(ann), ann, entry)


def assert_mask(mask: np.ndarray, ann: dict, entry: dict) -> None:
    """annToMask rasterizes the polygon on the page: the pixel count is its area give or
    take the pixels its outline crosses."""
    from shapely.geometry import Polygon

    assert mask.shape == (entry["height"], entry["width"])
    polygon = Polygon(np.array(ann["segmentation"][0]).reshape(-1, 2))
    assert ann["area"] == pytest.approx(polygon.area, abs=1e-3)
    assert abs(int(mask.sum()) - polygon.area) <= polygon.length + 4


# --- MMOCR ------------------------------------------------------------------------------------

def mmocr_entries(data_root: str) -> list[dict]:
    """textdet.json as OCRDataset loads it: mmengine's BaseDataset.load_data_list wants a dict
    with metainfo and data_list, joins each img_path to data_root; LoadImageFromFile decodes it;
    LoadOCRAnnotations takes polygon (float32), bbox (float32, 4 a row), bbox_label, ignore."""
    with open(os.path.join(data_root, "textdet.json"), encoding="utf-8") as f:
        document = json.load(f)
    assert isinstance(document, dict) and {"metainfo", "data_list"} <= set(document)
    assert document["metainfo"]["task_name"] == "textdet"
    for entry in document["data_list"]:
        with Image.open(os.path.join(data_root, entry["img_path"])) as image:
            assert image.size == (entry["width"], entry["height"])
        for instance in entry["instances"]:
            polygon = np.array(instance["polygon"], dtype=np.float32)
            assert polygon.size % 2 == 0 and polygon.size >= 6
            bbox = np.array(instance["bbox"], dtype=np.float32).reshape(-1, 4)
            xs, ys = polygon[0::2], polygon[1::2]
            assert bbox.tolist() == [[xs.min(), ys.min(), xs.max(), ys.max()]]
            assert instance["bbox_label"] == 0 and isinstance(instance["ignore"], bool)
    return document["data_list"]


@pytest.fixture(scope="module")
def hand_made(tmp_path_factory) -> str:
    """Boxes whose MMOCR outcome is worked out by hand (all in train)."""
    src = tmp_path_factory.mktemp("hand")
    # 640 x 480 fits 640 x 640 at scale 1: the minimum-area rectangle's short side is the box's
    labelme_page(src, "a", (640, 480), [("w7", rect(20, 20, 100, 7)), ("w8", rect(20, 60, 100, 8)),
                                        ("r7", rect(200, 100, 100, 7, 30)), ("r9", rect(200, 250, 100, 9, 30)),
                                        ("###", rect(400, 20, 100, 40))])
    # 1280 x 720 becomes 640 x 360 exactly: sides halve; a 1 px thick L becomes 0.5 px, which
    # int32 truncation flattens to nothing, so its kernel is empty
    labelme_page(src, "b", (1280, 720), [("w15", rect(20, 20, 100, 15)), ("w16", rect(20, 60, 100, 16)),
                                         ("L", [[300, 300], [450, 300], [450, 301], [301, 301], [301, 450],
                                                [300, 450]])])
    labelme_page(src, "c", (640, 480), [])
    labelme_page(src, "d", (1280, 720), [("w15", rect(20, 20, 100, 15))])
    out = str(tmp_path_factory.mktemp("hand-out") / "det")
    run_cli("labelme", "-i", str(src), "--task", "det", "-o", out, "-q", "--split", "none")
    return out


def by_image(root: str, trainer: str, **switches) -> dict[str, object]:
    """The simulation's verdict on each page by image name: why it is skipped, or each box's reason."""
    names = [e["img_path"].removeprefix("images/") for split in det_splits(root) for e in mmocr_entries(split.folder)]
    pages = predicted(trainer, root, **switches)
    assert len(names) == len(pages)
    return {name: page.skipped or [box.ignored for box in page.boxes] for name, page in zip(names, pages)}


def test_mmocr_det_hand_worked_boxes(hand_made):
    got = by_image(hand_made, "mmocr-det")
    assert got == {"a.png": ["under_min_text_size", None, "under_min_text_size", None, "dont_care"],
                   "b.png": ["under_min_text_size", None, "shrinks_to_nothing"],
                   "c.png": "no_boxes", "d.png": ["under_min_text_size"]}
    result = run_cli("validate", hand_made, "--for", "mmocr-det", "--json", "-q")
    summary = json.loads(result.output)
    assert summary["skipped"] == {"no_boxes": 1} and summary["no_trainable_box"] == 1
    assert any("filter_cfg" in w and "1 train page(s) without a box" in w for w in summary["warnings"])
    run_cli("validate", hand_made, "--for", "mmocr-det", "--strict", "-q", expect=1)


def test_val_and_test_pages_only_read_the_labels(hand_made, tmp_path):
    """The evaluation pipelines ignore only don't-care boxes; an empty page is scored by
    MMOCR and skipped by PaddleOCR (DetLabelEncode gives None)."""
    val = tmp_path / "val-only"
    shutil.copytree(hand_made, val)
    os.rename(val / "train", val / "val")
    mmocr = by_image(str(val), "mmocr-det")
    assert mmocr["a.png"] == [None, None, None, None, "dont_care"] and mmocr["c.png"] == []
    assert by_image(str(val), "paddleocr-det")["c.png"] == "no_boxes"


def test_a_missing_image_crashes_mmocr_and_is_skipped_by_paddleocr(hand_made, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(hand_made, broken)
    os.remove(broken / "train" / "images" / "a.png")
    result = run_cli("validate", str(broken), "--for", "mmocr-det", "-q", expect=1)
    assert "FATAL: 1 page(s) make mmocr-det raise (crash:image_missing)" in result.output
    result = run_cli("validate", str(broken), "--for", "paddleocr-det", "-q")
    assert "skipped image_missing: 1 pages" in result.output


# --- the command ------------------------------------------------------------------------------

@pytest.mark.parametrize("trainer", ["paddleocr-det", "mmocr-det"])
def test_the_suggested_fix_is_the_smallest_that_trains_every_small_box(icdar, trainer):
    summary = json.loads(run_cli("validate", icdar, "--for", trainer, "--json", "-q").output)
    assert summary["ignored_by_reason"]["under_min_text_size"]["boxes"] > 0
    sizes = [int(fix.split("--train-size ")[1].split(")")[0]) for fix in summary["fixes"] if "--train-size" in fix]
    mins = [int(fix.split("--min-text-size ")[1].split(")")[0]) for fix in summary["fixes"] if "--min-text-size" in fix]
    assert len(sizes) == len(mins) == 1

    def small(*args: str) -> int:
        """Boxes ignored for their size (only train pages go through the size checks)."""
        out = json.loads(run_cli("validate", icdar, "--for", trainer, "--json", "-q", *args).output)
        reasons = out["ignored_by_reason"]
        return sum(reasons[k]["boxes"] for k in ("under_min_text_size", "area_under_1") if k in reasons)

    assert small("--train-size", str(sizes[0])) == 0 < small("--train-size", str(sizes[0] - 1))
    assert small("--min-text-size", str(mins[0])) == 0 < small("--min-text-size", str(mins[0] + 1))


def test_the_text_report_and_strict(generated):
    result = run_cli("validate", generated, "--for", "paddleocr-det", "-q", expect=None)
    text = result.output
    assert text.startswith("paddleocr-det (train size 640, min text size 8")
    assert "of the text area" in text and "skipped no_boxes: 1 pages (SimpleDataSet" in text
    assert re.search(r"^ignored dont_care: \d+ boxes", text, re.M)
    assert "fix:\n  Train.dataset.transforms EastRandomCropData size: [" in text
    run_cli("validate", generated, "--for", "paddleocr-det", "-q", "--strict", expect=1)


def test_a_hand_edited_star_box_is_reported_as_paddleocr_ignores_it(generated, tmp_path):
    import shutil

    edited = str(tmp_path / "edited")
    shutil.copytree(generated, edited)
    label = next(os.path.join(edited, split, "det_gt.txt") for split in ("train", "val")
                 if "images/star." in open(os.path.join(edited, split, "det_gt.txt"), encoding="utf-8").read())
    with open(label, encoding="utf-8") as f:
        lines = f.read().splitlines(keepends=True)
    with open(label, "w", encoding="utf-8") as f:  # the star page's "*" box, written ### by dataconv
        f.writelines(line.replace('"###"', '"*"', 1) if line.startswith("images/star.") else line
                     for line in lines)
    result = run_cli("validate", edited, "--for", "paddleocr-det", "-q", expect=None)
    assert re.search(r"^ignored star_transcription: 1 boxes", result.output, re.M), result.output


def test_a_clean_dataset_passes_strict(tmp_path):
    run_cli("fixture", "icdar2015", "-o", str(tmp_path / "src"), "-n", "6")
    out = str(tmp_path / "out")
    run_cli("icdar2015", "-i", str(tmp_path / "src"), "--task", "rec,det", "-o", out, "-q", "--split", "none")
    for trainer in ("paddleocr-det", "mmocr-det"):  # OUT/det of a rec,det run is found
        summary = json.loads(run_cli("validate", out, "--for", trainer, "--json", "--strict", "-q").output)
        assert summary["pages"] > 0 and summary["skipped"] == {} and summary["fatal"] is None
        assert set(summary["ignored_by_reason"]) <= {"dont_care"}


def test_every_page_skipped_is_fatal(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    labelme_page(src, "e1", (100, 100), [])
    labelme_page(src, "e2", (100, 100), [])
    out = str(tmp_path / "out")
    run_cli("labelme", "-i", str(src), "--task", "det", "-o", out, "-q", "--split", "none")
    result = run_cli("validate", out, "--for", "paddleocr-det", "-q", expect=1)
    assert "FATAL: train: every page is skipped; SimpleDataSet" in result.output
    result = run_cli("validate", out, "--for", "mmocr-det", "-q", expect=1)
    assert "Cannot find valid image after 1000!" in result.output


def test_usage_errors_and_the_wrong_kind_of_dataset(generated, tmp_path):
    result = run_cli("validate", generated, "--for", "paddleocr-det", "--charset", "abc", expect=2)
    assert "reads no charset" in result.output
    run_cli("validate", generated, "--for", "mmocr-det", "--max-label-length", "5", expect=2)
    run_cli("validate", generated, "--for", "paddleocr", "--train-size", "320", expect=2)
    run_cli("fixture", "icdar2015", "-o", str(tmp_path / "src"), "-n", "3")
    lmdb_out = str(tmp_path / "lmdb")
    run_cli("icdar2015", "-i", str(tmp_path / "src"), "-o", lmdb_out, "-q", "--split", "none")
    result = run_cli("validate", lmdb_out, "--for", "paddleocr-det", expect=1)
    assert "not a detection dataset" in result.output and "Traceback" not in result.output


def test_the_python_api_gives_the_json(generated):
    import dataconv

    summary = dataconv.validate(generated, "paddleocr-det", train_size=320)
    assert summary == json.loads(run_cli("validate", generated, "--for", "paddleocr-det", "--train-size", "320",
                                         "--json", "-q").output)
    assert summary["settings"].startswith("train size 320")
