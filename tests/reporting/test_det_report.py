"""The report of a detection dataset (``--task det``), checked against figures computed
here from what the dataset holds: each split's det_gt.txt (pages, boxes, ### regions, box
sizes, every polygon drawn), the page images themselves (sizes), samples.parquet (boxes
removed per page) and rejects.jsonl (page rejects and removed boxes by reason)."""
from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageDraw, ImageStat

from dataconv.fixtures.base import fixtures
from helpers import REPO, rejects_of, run_cli
from test_exact_report import num, quantile, rows_of  # how the report prints numbers and tables

pytest.importorskip("matplotlib")

SPLITS = ("train", "val", "test")
PER_SPLIT = 24  # the report's default (--samples)
TILE = re.compile(r'<svg class="page" viewBox="0 0 (\d+) (\d+)"[^>]*aria-label="([^"]*)">(.*?)</svg>')
GROUP = re.compile(r"<g [^>]*>(.*?)</g>")
POLYGON = re.compile(r'<polygon points="([^"]*)"/>')
HREF = re.compile(r'href="data:(image/[a-z+]+);base64,([A-Za-z0-9+/=]+)"')


# --- a varied detection source: page sizes, rotated quads, polygons, ###, bad boxes ----

def quad(rng: random.Random, width: int, height: int) -> list[list[float]]:
    """A rotated word box inside the page, clockwise from its top-left corner."""
    w, h = rng.uniform(8, width / 3), rng.uniform(5, height / 5)
    cx, cy = rng.uniform(w, width - w), rng.uniform(h, height - h)
    a = math.radians(rng.uniform(-25, 25))
    corners = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    return [[round(cx + x * math.cos(a) - y * math.sin(a), 2), round(cy + x * math.sin(a) + y * math.cos(a), 2)]
            for x, y in corners]


def hexagon(box: list[list[float]]) -> list[list[float]]:
    """Six points: the quad with the middle of its top and bottom edges."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = box
    return [[x0, y0], [(x0 + x1) / 2, (y0 + y1) / 2], [x1, y1], [x2, y2], [(x2 + x3) / 2, (y2 + y3) / 2], [x3, y3]]


def write_source(src: Path, pages: int = 36, seed: int = 5) -> Path:
    rng = random.Random(seed)
    lines = []
    for i in range(pages):
        width, height = rng.randint(120, 900), rng.randint(90, 700)
        im = Image.new("RGB", (width, height), (rng.randint(180, 250),) * 3)
        boxes = []
        for k in range(0 if i == 0 else rng.randint(1, 7)):
            points = quad(rng, width, height)
            ImageDraw.Draw(im).polygon([tuple(p) for p in points], fill=(40, 40, 40))
            text = "###" if rng.random() < 0.25 else rng.choice(["EXIT", "café", "출구", "100"])
            boxes.append({"transcription": text, "points": hexagon(points) if k == 2 else points})
        if i in (3, 11):  # geometry that cannot be a box: removed, the page kept
            boxes.append({"transcription": "bow", "points": [[10, 10], [40, 40], [40, 10], [10, 40]]})
        if i == 7:
            boxes.append({"transcription": "flat", "points": [[10, 10], [30, 10], [30, 10], [10, 10]]})
        (src / "imgs").mkdir(parents=True, exist_ok=True)
        im.save(src / "imgs" / f"p{i}.jpg", quality=85)
        lines.append(f"imgs/p{i}.jpg\t{json.dumps(boxes, ensure_ascii=False)}")
    lines.append("imgs/absent.jpg\t" + json.dumps([{"transcription": "gone", "points": [[0, 0], [9, 0], [9, 9], [0, 9]]}]))
    (src / "label.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return src / "label.txt"


@pytest.fixture(scope="module")
def det(tmp_path_factory) -> dict:
    """The varied source converted with --task det --report (the report of OUT)."""
    base = tmp_path_factory.mktemp("det")
    labels = write_source(base / "src")
    out = str(base / "out")
    result = run_cli("paddle-det", "-i", base / "src", "--labels", labels, "--task", "det", "-o", out, "-q",
                     "--workers", "1", "--split", "0.5,0.25,0.25", "--report")
    page = Path(out, "report.html").read_text(encoding="utf-8")
    return {"out": out, "stdout": result.output, "page": page, "labels": read_labels(out)}


def read_labels(out: str) -> dict[str, list[tuple[str, list[tuple[list[list[float]], bool]]]]]:
    """split -> [(image path, [(points, don't-care)])] as PaddleOCR reads det_gt.txt."""
    found = {}
    for split in SPLITS:
        path = os.path.join(out, split, "det_gt.txt")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                rows = [line.rstrip("\n").split("\t") for line in f]
            found[split] = [(image, [(b["points"], b["transcription"] == "###") for b in json.loads(label)])
                            for image, label in rows]
    return found


def section(page: str, anchor: str) -> str:
    start = page.index(f'<section id="{anchor}">')
    return page[start:page.index("</section>", start)]


def short_side(points: list[list[float]]) -> float:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(max(xs) - min(xs), max(ys) - min(ys))


# --- the figures -------------------------------------------------------------------------

def test_counts_per_split(det):
    overview = section(det["page"], "overview")
    table = pq.read_table(os.path.join(det["out"], "samples.parquet")).to_pylist()
    assert set(det["labels"]) == set(SPLITS)  # the source is spread over all three splits
    for split, pages in det["labels"].items():
        boxes = [dont_care for _, page in pages for _, dont_care in page]
        removed = sum(row["removed"] for row in table if row["split"] == split)
        want = [split, len(pages), len(boxes), sum(boxes), removed]
        assert f"<tr><td>{split}</td>" + "".join(f'<td class="num">{n:,}</td>' for n in want[1:]) in overview
    cards = dict((k, v) for v, k in re.findall(r'<div class="card"><b>(.*?)</b><span>(.*?)</span>',
                                               html.unescape(overview)))
    every = [d for pages in det["labels"].values() for _, page in pages for _, d in page]
    assert cards["boxes"] == f"{len(every):,}" and cards["don't-care boxes"] == f"{sum(every):,}"
    assert cards["pages written"] == str(sum(len(p) for p in det["labels"].values()))
    assert "pages differ between det_gt.txt and samples.parquet" not in overview


def test_page_rejects_and_removed_boxes_by_reason_with_their_sources(det):
    rejects = section(det["page"], "rejects")
    page_part, box_part = rejects.split("<h3>Boxes removed from written pages</h3>")
    rows = rejects_of(det["out"])
    pages = Counter(r["reason"] for r in rows if r.get("level") != "box")
    boxes = Counter(r["reason"] for r in rows if r.get("level") == "box")
    assert sum(pages.values()) == 1 and sum(boxes.values()) == 3  # the absent image; bow ties, a flat box
    for part, counts in ((page_part, pages), (box_part, boxes)):
        for reason, n in counts.items():
            assert f'<td>{reason}</td><td class="num">{n}</td>' in part
    for row in rows:
        assert html.escape(row["source"]) in (box_part if row.get("level") == "box" else page_part)
    removed = [r for r in pq.read_table(os.path.join(det["out"], "samples.parquet")).to_pylist() if r["removed"]]
    listed = box_part[box_part.index("Pages with removed boxes"):]
    assert len(removed) == 3 and all(html.escape(r["path"]) in listed for r in removed)


def test_distributions_per_split(det):
    rows = rows_of(section(det["page"], "distributions"))
    for split, pages in det["labels"].items():
        counts = [len(page) for _, page in pages]
        shorts = [short_side(p) for _, page in pages for p, dont_care in page if not dont_care]
        sizes = []
        for image, _ in pages:
            with Image.open(os.path.join(det["out"], split, image)) as im:
                sizes.append(im.size)
        for name, values in (("boxes per page", counts), ("text box short side", shorts),
                             ("page width", [w for w, _ in sizes]), ("page height", [h for _, h in sizes])):
            want = [split, name, *(num(round(quantile(values, q), 2)) for q in (0, 0.05, 0.5, 0.95, 1))]
            assert want in rows, (want, [r for r in rows if r[:2] == want[:2]])


def test_every_page_shown_is_drawn_with_its_boxes(det):
    grid = section(det["page"], "pages")
    tiles = TILE.findall(grid)
    by_path = {(split, image): page for split, pages in det["labels"].items() for image, page in pages}
    heads = re.findall(r"<h3>(\w+): (\d+) random of (\d+) pages</h3>", grid)
    assert [(s, int(n), int(t)) for s, n, t in heads] == [
        (s, min(PER_SPLIT, len(det["labels"][s])), len(det["labels"][s])) for s in SPLITS]
    assert len(tiles) == sum(int(n) for _, n, _ in heads)
    splits = [s for s, n, _ in heads for _ in range(int(n))]
    for split, (width, height, path, body) in zip(splits, tiles):
        boxes = by_path[split, html.unescape(path)]
        text, dont_care = GROUP.findall(body)
        for drawn, want in ((text, [p for p, d in boxes if not d]), (dont_care, [p for p, d in boxes if d])):
            got = [[[float(v) for v in xy.split(",")] for xy in poly.split()] for poly in POLYGON.findall(drawn)]
            assert len(got) == len(want)
            for g, w in zip(got, want):
                assert len(g) == len(w) and all(abs(a - b) <= 0.005 + 1e-9 for gp, wp in zip(g, w)
                                                for a, b in zip(gp, wp))
        with Image.open(os.path.join(det["out"], split, html.unescape(path))) as im:
            assert (int(width), int(height)) == im.size


def test_every_thumbnail_decodes_and_keeps_the_page_shape(det):
    grid = section(det["page"], "pages")
    for width, height, _, body in TILE.findall(grid):
        (mime, data), = HREF.findall(body)
        assert mime == "image/jpeg"
        with Image.open(io.BytesIO(base64.b64decode(data))) as im:
            im.load()
            assert max(im.size) <= 320
            assert abs(im.width / im.height - int(width) / int(height)) <= 0.05 * int(width) / int(height)


def test_the_page_is_self_contained(det):
    page = det["page"]
    assert not re.search(r"https?:", page)
    refs = re.findall(r'\b(?:src|href)="([^"#][^"]*)"', page)
    assert refs and all(r.startswith("data:") for r in refs)
    assert len(page.encode()) < 1_500_000  # 36 pages, each at most 320 px


# --- the commands ---------------------------------------------------------------------

def test_report_command_on_a_detection_dataset(det, tmp_path):
    assert f"report: {os.path.join(det['out'], 'report.html')}" in det["stdout"]
    out = tmp_path / "r.html"
    result = run_cli("report", det["out"], "-o", out, "--samples", "2", "--seed", "3")
    pages = sum(len(p) for p in det["labels"].values())
    assert f"report of {pages:,} pages" in result.output
    assert len(TILE.findall(out.read_text(encoding="utf-8"))) == 2 * len(SPLITS)
    refused = run_cli("report", det["out"], "-o", out, "--charset", os.path.join(det["out"], "train", "det_gt.txt"),
                      expect=2)
    assert "--charset and --source apply to recognition datasets" in refused.output


@pytest.mark.parametrize("damage, where", [
    ("images/x.jpg [broken json\n", ":1: not a PaddleOCR det label line"),
    ('images/x.jpg\t[{"transcription": "a", "points": [[0, 0], [Infinity, 0], [1, 1]]}]\n',
     ":1: not a PaddleOCR det label line"),
    (None, "det_gt.txt: missing"),
])
def test_a_damaged_label_file_is_one_line(det, tmp_path, damage, where):
    copy = tmp_path / "copy"
    shutil.copytree(det["out"], copy)
    label = copy / "val" / "det_gt.txt"
    if damage is None:
        label.unlink()
    else:
        label.write_text(damage, encoding="utf-8")
    result = run_cli("report", copy, "-o", tmp_path / "r.html", expect=1)
    assert where in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "r.html").exists()


def test_page_images_are_read_only_inside_their_split_folder(det, tmp_path):
    """A page image swapped for a symlink to a readable image outside the dataset is drawn
    as a grey page: the report never reads a byte from outside."""
    copy = tmp_path / "copy"
    shutil.copytree(det["out"], copy)
    image = det["labels"]["train"][0][0]
    outside = tmp_path / "outside.jpg"
    shutil.copy(copy / "train" / image, outside)
    os.remove(copy / "train" / image)
    os.symlink(outside, copy / "train" / image)
    out = tmp_path / "r.html"
    run_cli("report", copy, "-o", out, "--samples", "100")
    page = out.read_text(encoding="utf-8")
    tiles = {html.unescape(path): body for _, _, path, body in TILE.findall(page)}
    grey = tiles.pop(image)
    assert not HREF.findall(grey) and "<rect" in grey and page.count("image not readable") == 1
    assert tiles and all(len(HREF.findall(body)) == 1 for body in tiles.values())


def test_rec_det_report_writes_both_reports(tmp_path):
    src = str(tmp_path / "src")
    fixtures()["aihub-tiw"][0](src)
    out = tmp_path / "out"
    result = run_cli("aihub", "--type", "auto", "-i", src, "--task", "rec,det", "-o", out, "-q",
                     "--workers", "1", "--report")
    rec, det = out / "report.html", out / "det" / "report.html"
    assert f"report: {rec}" in result.output and f"report: {det}" in result.output
    assert '<section id="characters">' in rec.read_text(encoding="utf-8")
    page = det.read_text(encoding="utf-8")
    labels = read_labels(str(out / "det"))
    ignored = sum(d for pages in labels.values() for _, page_boxes in pages for _, d in page_boxes)
    assert '<section id="pages">' in page and ignored > 0
    assert f"<b>{ignored}</b><span>don&#x27;t-care boxes</span>" in page


@pytest.mark.skipif(not shutil.which("chromium"), reason="chromium is not installed")
def test_screenshot_renders(det, tmp_path):
    png = tmp_path / "shot.png"
    script = os.path.join(REPO, "scripts", "screenshot_report.py")
    subprocess.run([sys.executable, script, os.path.join(det["out"], "report.html"), str(png),
                    "--width", "1200", "--height", "2400"], check=True, timeout=90)
    with Image.open(png) as im:
        assert im.size == (1200, 2400)
        gray = im.convert("L")
        assert gray.getextrema()[0] < 60
        assert ImageStat.Stat(gray.crop((0, 0, 1200, 40))).mean[0] < 80  # the dark page header
