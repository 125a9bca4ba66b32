"""Memory stays bounded by the options, not by what a file claims.

Each bomb runs through the real CLI in a fresh process; its peak RSS is read back with
``getrusage(RUSAGE_CHILDREN)`` by a small parent process that did nothing else, so the
figure is the conversion's alone (the child also gets an address-space cap, so that a
regression fails here instead of swamping the machine). The box property test drives
the crop mechanism (``CropImage.read``) with arbitrary coordinates on a real page.
"""
from __future__ import annotations

import json
import os
from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from helpers import rejects_of, run_cli
from dataconv.io.crop import CropImage, CropSpec
from dataconv.errors import SampleRejected
from dataconv.fixtures.hostile import blank_png, idat_bomb, page_bomb
from dataconv.fixtures.ndl_layout import voc
from dataconv.sample import ReadContext
from dataconv.validators import _fastdecode
from helpers import peak_rss
from hostile_util import assert_one_line_error, gt_source, png, write_files

RSS_BOUND_MB = 400  # what a run may peak at on these inputs with the default --max-pixels
BOX = [[2, 2], [40, 2], [40, 20], [2, 20]]  # a word on a 64x24 page
HUGE_BOX = [[0, 0], [60000, 0], [60000, 60000], [0, 60000]]
def convert_args(fmt: str, src: str, out: str, *extra: str) -> list[str]:
    return [fmt, "-i", src, "-o", out, "-q", "--workers", "1", "--split", "none", *extra]


def paddle_det_source(root: str, page: bytes, points: list[list[float]]) -> str:
    """Page ``p.png`` with the box under test, and a plain page ``ok.png`` with a good box
    (so that the run writes a sample and keeps its rejects.jsonl)."""
    lines = [f"{name}\t{json.dumps([{'transcription': 'word', 'points': pts}])}\n"
             for name, pts in (("p.png", points), ("ok.png", BOX))]
    return write_files(root, {"p.png": page, "ok.png": png(), "labels.txt": "".join(lines).encode()})


def reasons_by_source(out: str) -> dict[str, str]:
    return {row["source"]: row["reason"] for row in rejects_of(out)}


def assert_bounded_run(args: list[str]) -> None:
    rss, code, err = peak_rss(*args)
    assert code == 0 and "Traceback" not in err, (code, err)
    assert rss < RSS_BOUND_MB, rss


# --- bombs through the real CLI ------------------------------------------------------

@pytest.mark.parametrize("case", ["page_bomb", "huge_box"])
def test_crop_bombs_are_rejected_before_allocation(tmp_path, case: str) -> None:
    """A 110 KB PNG page claiming 30000x30000 (3.5 GB before), a 60000x60000 box on a
    64x24 page (3.5 GB before): one reject each, the good box written, RSS bounded."""
    page, points, reason = {"page_bomb": (page_bomb(30_000), BOX, "too_many_pixels"),
                            "huge_box": (png(), HUGE_BOX, "box_outside_image")}[case]
    src = paddle_det_source(str(tmp_path / "src"), page, points)
    out = str(tmp_path / "out")
    assert_bounded_run(convert_args("paddle-det", src, out, "--labels", f"{src}/labels.txt"))
    assert reasons_by_source(out) == {"labels.txt:1[0]": reason}


def test_idat_bomb_as_a_whole_image_stops_at_the_header_size(tmp_path) -> None:
    """A 64x64 PNG whose IDAT inflates to 2 GiB (4.1 GB before): inflating stops at the
    4160 bytes the header allows and the rest is corruption."""
    src = gt_source(str(tmp_path / "src"), b"bomb.png\tx\nok.png\ty\n",
                    {"bomb.png": idat_bomb(2 << 30), "ok.png": png()})
    out = str(tmp_path / "out")
    assert_bounded_run(convert_args("gt-txt", src, out, "--gt", f"{src}/gt.txt"))
    [row] = rejects_of(out)
    assert (row["source"], row["reason"]) == ("gt.txt:1", "undecodable_image")
    assert "longer than the 4160 bytes its header allows" in row["detail"]


def test_idat_bomb_as_a_page_decodes_only_what_the_header_claims(tmp_path) -> None:
    """As a crop page, Pillow fills the 64x64 grid and stops: the crop is written."""
    src = paddle_det_source(str(tmp_path / "src"), idat_bomb(2 << 30), BOX)
    out = str(tmp_path / "out")
    assert_bounded_run(convert_args("paddle-det", src, out, "--labels", f"{src}/labels.txt"))
    assert rejects_of(out) == []


def test_ndl_layout_page_bomb_and_far_box(tmp_path) -> None:
    """ndl-layout decodes every page for its size: the bomb page's boxes are rejected from
    its header; on a real page a box reaching 1e20 is outside it, one 20 px past the
    edge is clamped."""
    page_xml = voc("p.png", 64, 24, [("8_textline", (2, 2, 40, 20)), ("8_textline", (0, 0, 1e20, 20)),
                                     ("8_textline", (50, 2, 70, 20))])
    files = {"bomb.png": page_bomb(30_000), "bomb.xml": voc("bomb.png", 30000, 30000, [("8_textline", (1, 1, 9, 9))]).encode(),
             "p.png": png(), "p.xml": page_xml.encode()}
    src = write_files(str(tmp_path / "src"), files)
    out = str(tmp_path / "out")
    assert_bounded_run(convert_args("ndl-layout", src, out))
    assert reasons_by_source(out) == {"bomb.xml:object[0]": "too_many_pixels",
                                      "p.xml:object[1]": "box_outside_image"}


def test_report_never_decodes_a_rejected_bomb(tmp_path) -> None:
    """--report shows rejects with thumbnails; the bomb gets the placeholder."""
    src = gt_source(str(tmp_path / "src"), b"bomb.png\tx\nok.png\ty\n",
                    {"bomb.png": page_bomb(30_000), "ok.png": png()})
    out = str(tmp_path / "out")
    assert_bounded_run(convert_args("gt-txt", src, out, "--gt", f"{src}/gt.txt", "--report"))
    assert reasons_by_source(out) == {"gt.txt:1": "too_many_pixels"}
    with open(os.path.join(out, "report.html"), encoding="utf-8") as f:
        rejects = f.read().split('id="rejects"')[1]
    assert "no image" in rejects and "data:image/jpeg" not in rejects.split("</section>")[0]


# --- options and coordinate text ------------------------------------------------------

@pytest.mark.parametrize("value", ["1e6", "nan", "inf", "-0.5", "1_0", "0x1"])
def test_pad_is_validated_as_an_option(tmp_path, value: str) -> None:
    src = paddle_det_source(str(tmp_path / "src"), png(), BOX)
    result = run_cli(*convert_args("paddle-det", src, str(tmp_path / "out"), "--labels",
                                   f"{src}/labels.txt", "--pad", value), expect=2)
    assert "--pad" in result.stderr and "Traceback" not in result.output
    assert not os.path.exists(tmp_path / "out")


@pytest.mark.parametrize("value", ["0", "-5", "1_000", "1e6", "nan"])
def test_max_pixels_is_validated_as_an_option(tmp_path, value: str) -> None:
    src = gt_source(str(tmp_path / "src"), b"ok.png\ty\n", {"ok.png": png()})
    result = run_cli(*convert_args("gt-txt", src, str(tmp_path / "out"), "--gt", f"{src}/gt.txt",
                                   "--max-pixels", value), expect=2)
    assert "--max-pixels" in result.stderr


def test_max_pixels_bounds_crops_and_pages(tmp_path) -> None:
    """With --max-pixels 1000 a 64x24 page (1536 px) is refused from its header."""
    src = paddle_det_source(str(tmp_path / "src"), png(width=20, height=20), [[1, 1], [10, 1], [10, 9], [1, 9]])
    out = str(tmp_path / "out")
    run_cli(*convert_args("paddle-det", src, out, "--labels", f"{src}/labels.txt", "--max-pixels", "1000"),
            expect=None)
    assert reasons_by_source(out) == {"labels.txt:2[0]": "too_many_pixels"}


def test_icdar2015_coordinates_are_plain_decimals(tmp_path) -> None:
    """``1_0`` is not 10, ``nan`` is not a coordinate: the line is malformed; `` 2`` is 2."""
    gt = "\ufeff2,2,40,2,40,20,2,20,ok\r\n1_0,2,40,2,40,20,2,20,under\r\nnan,2,40,2,40,20,2,20,nan\r\n 2, 2,40,2,40,20,2,20,spaced\r\n"
    src = write_files(str(tmp_path / "src"), {"gt_img_1.txt": gt.encode(), "img_1.png": png()})
    out = str(tmp_path / "out")
    run_cli(*convert_args("icdar2015", src, out))
    assert reasons_by_source(out) == {"gt_img_1.txt:2": "malformed_line", "gt_img_1.txt:3": "malformed_line"}


def test_ndl_layout_coordinates_are_plain_decimals(tmp_path) -> None:
    xml = voc("p.png", 64, 24, [("8_textline", (2, 2, 40, 20))]).replace("<xmax>40<", "<xmax>4_0<")
    src = write_files(str(tmp_path / "src"), {"p.png": png(), "p.xml": xml.encode()})
    result = run_cli(*convert_args("ndl-layout", src, str(tmp_path / "out")), expect=1)
    assert_one_line_error(result, "p.xml", "4_0")


# --- the PNG inflate bound ---------------------------------------------------------------

@pytest.mark.parametrize("extra, message", [(1, "longer than the 4160 bytes"), (-1, "ends early (4159 of 4160")])
def test_png_image_data_must_match_the_header(extra: int, message: str) -> None:
    with pytest.raises(_fastdecode.Corrupt, match=message.replace("(", r"\(")):
        _fastdecode.verify(blank_png(64, 64, depth=8, inflated=64 * 65 + extra))
    assert _fastdecode.verify(blank_png(64, 64, depth=8)) is True


# --- box coordinates: any numbers, a bounded crop or a reject ---------------------------------

@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("page")
    cv2.imwrite(str(root / "p.png"), np.full((60, 100, 3), 200, np.uint8))
    return str(root)


COORD = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-20, 130), st.sampled_from([1e308, -1e308, 1e20, 60000.0, 0.0, -0.0]),
    st.integers(-10**30, 10**30), st.booleans(), st.none(), st.text(max_size=3))
MAX_PIXELS = 5000


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(points=st.lists(st.tuples(COORD, COORD), min_size=0, max_size=7),
       pad=st.sampled_from([0.0, 0.3, 1.0]), rotate=st.booleans(), reading_order=st.booleans())
def test_any_box_is_a_bounded_crop_or_a_reject(page, points, pad, rotate, reading_order) -> None:
    ref = CropImage(page, "p.png", tuple(points), CropSpec(pad=pad, rotate_vertical=rotate),
                    reading_order=reading_order)
    try:
        data = ref.read(ReadContext(max_pixels=MAX_PIXELS))
    except SampleRejected as e:
        assert e.reason in {"degenerate_box", "box_outside_image", "too_many_pixels"}, e
        return
    crop = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert crop is not None and 1 <= crop.shape[0] * crop.shape[1] <= MAX_PIXELS
