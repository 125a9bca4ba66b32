"""Label Studio full export: regions joined by id, percent coordinates, rotation about the
top-left corner (crops compared with numpy on a noise page), the annotation chosen
(cancelled skipped, ground truth preferred, predictions opt-in), upload-prefixed names."""
from __future__ import annotations

import json

import numpy as np

from helpers import run_cli
from pages import H, W, noise_page, png, pixels
from fmt_util import convert, labels, make_fixture, written
from hostile_util import assert_one_line_error, write_files



def region(rid: str, x: int, y: int, w: int, h: int, text: str | None, rotation: float = 0,
           kind: str = "rectangle") -> list[dict]:
    """Results of one region, coordinates given in pixels and written in percent."""
    value = {"x": x * 100 / W, "y": y * 100 / H, "width": w * 100 / W, "height": h * 100 / H, "rotation": rotation}
    common = {"id": rid, "to_name": "image", "original_width": W, "original_height": H, "image_rotation": 0}
    out = [{**common, "type": kind, "from_name": "bbox", "value": value}]
    if text is not None:
        out.append({**common, "type": "textarea", "from_name": "transcription", "value": {**value, "text": [text]}})
    return out


def export(root, tasks: list[dict], files: dict[str, bytes]) -> str:
    write_files(str(root), {"export.json": json.dumps(tasks).encode(), **{f"images/{k}": v for k, v in files.items()}})
    return str(root / "export.json")


def task(result: list[dict], name: str = "/data/upload/3/8f2c1d0a-r.png", **annotation) -> dict:
    return {"id": 1, "data": {"ocr": name}, "annotations": [{"id": 5, "result": result, **annotation}]}


def test_percent_rectangles_and_rotation_about_the_top_left_corner(tmp_path):
    page = noise_page()
    result = region("a", 24, 30, 64, 18, "가") + region("b", 100, 20, 40, 16, "나", rotation=90) \
        + region("c", 5, 100, 10, 10, None)
    path = export(tmp_path / "src", [task(result)], {"r.png": png(page)})
    card = convert("label-studio", tmp_path / "src" / "images", tmp_path / "out", "--export", path)
    assert card["rejects"] == {"missing_label": 1}
    crops = {label: pixels(data) for _, label, data in written(tmp_path / "out")}
    assert np.array_equal(crops["가"], page[30:48, 24:88])
    # turned 90 degrees clockwise about (100, 20): the text runs down columns 85..100
    assert np.array_equal(crops["나"], np.rot90(page[20:60, 85:101], 1))


def test_cancelled_skipped_ground_truth_preferred_predictions_opt_in(tmp_path):
    page = noise_page(1)
    tasks = [{"id": 1, "data": {"image": "r.png"},
              "annotations": [{"id": 1, "was_cancelled": True, "result": region("a", 24, 30, 64, 18, "취소")},
                              {"id": 2, "updated_at": "2024-02-01", "result": region("a", 24, 30, 64, 18, "최신")},
                              {"id": 3, "ground_truth": True, "updated_at": "2024-01-01",
                               "result": region("a", 24, 30, 64, 18, "정답")}]},
             {"id": 2, "data": {"image": "r.png"}, "annotations": [],
              "predictions": [{"id": 4, "result": region("p", 24, 30, 64, 18, "예측")}]}]
    path = export(tmp_path / "src", tasks, {"r.png": png(page)})
    card = convert("label-studio", tmp_path / "src" / "images", tmp_path / "out", "--export", path)
    assert list(labels(tmp_path / "out").values()) == ["정답"] and card["rejects"] == {"unannotated_image": 1}
    convert("label-studio", tmp_path / "src" / "images", tmp_path / "pred", "--export", path, "--predictions")
    assert sorted(labels(tmp_path / "pred").values()) == ["예측", "정답"]


def test_rotated_in_the_ui_is_a_reject_and_fixture_counts(tmp_path):
    bad = region("a", 24, 30, 64, 18, "돌림")
    bad[0]["image_rotation"] = 90
    path = export(tmp_path / "one", [task(bad + region("b", 24, 60, 64, 18, "바름"))], {"r.png": png(noise_page())})
    card = convert("label-studio", tmp_path / "one" / "images", tmp_path / "o1", "--export", path)
    assert card["rejects"] == {"rotated_in_tool": 1} and list(labels(tmp_path / "o1").values()) == ["바름"]
    info = make_fixture("label-studio", tmp_path / "src")
    card = convert("label-studio", tmp_path / "src", tmp_path / "out", "--export", str(tmp_path / "src" / "export.json"))
    assert card["counts"]["input"] == info["expected"]["input"] and card["rejects"] == info["expected"]["rejects"]
    assert sorted(labels(tmp_path / "out").values()) == sorted(info["labels"])


def test_an_export_that_is_not_a_task_list_is_one_line(tmp_path):
    path = export(tmp_path / "src", {"tasks": []}, {"r.png": png(noise_page())})  # type: ignore[arg-type]
    result = run_cli("label-studio", "-q", "-i", str(tmp_path / "src" / "images"), "--export", path,
                     "-o", str(tmp_path / "out"), expect=None)
    assert_one_line_error(result, "export.json", "expected array")
