"""dataconv report / --report: one self-contained HTML page, checked on real conversions."""
from __future__ import annotations

import base64
import io
import os
import random
import re
import shutil
import subprocess
import sys

import lmdb
import pytest
from PIL import Image, ImageStat

from helpers import REPO, load_json, rejects_of, run_cli
from dataconv.io import lmdb_keys
from dataconv.fixtures.aihub import make_aihub
from dataconv.fixtures.base import encode, ink_image
from dataconv.charsets import load as load_charset

ROOT = REPO
DATA_URI = re.compile(r'src="data:(image/[a-z+]+);base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> str:
    """An AI Hub fixture (with its faults) converted with --report."""
    base = tmp_path_factory.mktemp("report")
    make_aihub(str(base / "src"), n=60, seed=0)
    out = str(base / "out")
    run_cli("aihub", "-i", base / "src", "-o", out, "-q", "--workers", "1", "--report")
    return out


def _html(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _section(html: str, anchor: str) -> str:
    start = html.index(f'<section id="{anchor}">')
    return html[start:html.index("</section>", start)]


def test_report_counts_and_reasons(converted):
    html = _html(os.path.join(converted, "report.html"))
    card = load_json(os.path.join(converted, "manifest.json"))
    overview = _section(html, "overview")
    for key in ("input", "written", "rejected"):
        assert f"<b>{card['counts'][key]:,}</b>" in overview
    for split, n in card["counts"]["splits"].items():
        assert f"<td>{split}</td><td class=\"num\">{n:,}</td>" in overview
    rejects = _section(html, "rejects")
    for reason, n in card["rejects"].items():
        assert f"<td>{reason}</td><td class=\"num\">{n}</td>" in rejects
    for row in rejects_of(converted):
        assert row["source"] in rejects


def test_report_is_self_contained(converted):
    html = _html(os.path.join(converted, "report.html"))
    assert not re.search(r"https?:", html), "no network reference of any kind"
    sources = re.findall(r'\b(?:src|href)="([^"#][^"]*)"', html)
    assert sources and all(s.startswith("data:") for s in sources)
    kinds = {mime for mime, _ in DATA_URI.findall(html)}
    assert kinds == {"image/jpeg", "image/svg+xml"}


def test_embedded_images_decode(converted):
    html = _html(os.path.join(converted, "report.html"))
    uris = DATA_URI.findall(html)
    jpegs = [base64.b64decode(data) for mime, data in uris if mime == "image/jpeg"]
    assert len(jpegs) >= 24
    for data in jpegs[:10]:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            assert im.height <= 64 and im.width > 0
    svgs = [base64.b64decode(data) for mime, data in uris if mime == "image/svg+xml"]
    assert len(svgs) == 3 and all(b"<svg" in s for s in svgs)


def test_reject_thumbnails_from_the_source(converted):
    """--report keeps the converter: rejects with a readable image (empty_label) get one."""
    rows = _section(_html(os.path.join(converted, "report.html")), "rejects").split("<tr>")
    by_reason = {re.search(r"<td>(\w+)</td>", r).group(1): r for r in rows if r.startswith("<td>")}
    assert "data:image/jpeg" in by_reason["empty_label"]
    assert "data:image" not in by_reason["missing_image"]


def test_report_command_charset_coverage(converted, tmp_path):
    labels = "".join(load_json(os.path.join(converted, "manifest.json"))["charset"])
    kept, missing = labels[: len(labels) // 2], labels[len(labels) // 2:]
    charset = tmp_path / "charset.txt"
    charset.write_text("\n".join(kept) + "\n", encoding="utf-8")
    out = tmp_path / "r.html"
    result = run_cli("report", converted, "-o", out, "--charset", charset, "--samples", "4")
    assert "written to" in result.output
    chars = _section(_html(str(out)), "characters")
    tail = chars[chars.index(f"Missing from the charset ({len(missing)})"):]
    for ch in missing:
        assert f"<span>{'␣' if ch == ' ' else ch}<small>" in tail
    for ch in kept.replace(" ", ""):
        assert f"<span>{ch}<small>" not in tail
    assert "Thumbnails of rejected samples need the source folder" in _html(str(out))


def test_report_with_source_rebuilds_the_converter(converted, tmp_path):
    out = tmp_path / "r.html"
    src = os.path.join(os.path.dirname(converted), "src")
    run_cli("report", converted, "-o", out, "--source", src, "--samples", "2")
    assert "data:image/jpeg" in _section(_html(str(out)), "rejects")


def test_plain_lmdb_tree_with_a_cap(converted, tmp_path):
    tree = tmp_path / "tree"
    for split in ("train", "val", "test"):
        shutil.copytree(os.path.join(converted, split), tree / split)
    out = tmp_path / "r.html"
    run_cli("report", tree, "-o", out, "--max-samples", "20")
    html = _html(str(out))
    written = load_json(os.path.join(converted, "manifest.json"))["counts"]["written"]
    assert re.search(rf"computed from \d+ evenly spaced samples of {written}", html)
    assert "No manifest.json" in html and "data:image/jpeg" in html


def _write_lmdb(path, samples: list[tuple[str, bytes]]) -> None:
    os.makedirs(path)
    env = lmdb.open(str(path), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for i, (label, image) in enumerate(samples, 1):
            txn.put(lmdb_keys.label_key(i), label.encode())
            txn.put(lmdb_keys.image_key(i), image)
        txn.put(lmdb_keys.NUM_SAMPLES, lmdb_keys.encode_count(len(samples)))
    env.close()


def test_duplicates_across_splits_in_a_plain_tree(tmp_path):
    """Conversions keep identical images in one split; a downloaded tree may not."""
    images = [encode(ink_image(60 + i, 30, random.Random(i)), "PNG") for i in range(12)]
    _write_lmdb(tmp_path / "tree" / "train", [(f"단어{i}", images[i]) for i in range(10)])
    _write_lmdb(tmp_path / "tree" / "test", [("단어1", images[1]), ("漢字", images[11])])
    out = tmp_path / "r.html"
    run_cli("report", tmp_path / "tree", "-o", out)
    dups = _section(_html(str(out)), "duplicates")
    assert "Duplicate images (1 across splits)" in dups
    assert "<td>test &amp; train</td>" in dups and "leak test data" in dups
    assert "data:image/jpeg" in dups
    chars = _section(_html(str(out)), "characters")
    assert "In test but never in train (2)" in chars and "<span>漢<small>" in chars


def test_read_charset_both_forms(tmp_path):
    lines, one = tmp_path / "lines.txt", tmp_path / "one.txt"
    lines.write_text("가\n \n나\n", encoding="utf-8")
    one.write_text("가나다\n", encoding="utf-8")
    assert load_charset(str(lines)).chars == "가 나"
    assert load_charset(str(one)).chars == "가나다"


@pytest.mark.skipif(not shutil.which("chromium"), reason="chromium is not installed")
def test_screenshot_renders(converted, tmp_path):
    png = tmp_path / "shot.png"
    script = os.path.join(ROOT, "scripts", "screenshot_report.py")
    subprocess.run([sys.executable, script, os.path.join(converted, "report.html"), str(png),
                    "--width", "1200", "--height", "2400"], check=True, timeout=90)
    with Image.open(png) as im:
        assert im.size == (1200, 2400)
        gray = im.convert("L")
        assert gray.getextrema()[0] < 60  # dark text and strokes were drawn
        header = gray.crop((0, 0, 1200, 40))
        assert ImageStat.Stat(header).mean[0] < 80  # the dark page header rendered
