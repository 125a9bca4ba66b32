"""dataconv gt-txt on real label files and on each line-level fault."""
from __future__ import annotations

import os

from helpers import assert_accounted, clovaai_tree, rejects_of, run_cli
from hostile_util import png as _png, write_files


def _write(root, files: dict[str, bytes], gt: bytes) -> str:
    return write_files(str(root), {**files, "gt.txt": gt})


def test_icdar2015_paddleocr_labels_all_4468(realdata, tmp_path):
    root = realdata / "icdar2015_words"
    gt = root / "ic15_data" / "rec_gt_train.txt"
    out = str(tmp_path / "out")
    run_cli("gt-txt", "-i", root, "--gt", gt, "-o", out, "-q", "--workers", "2")
    card = assert_accounted(out)
    assert card["counts"]["input"] == 4468
    assert card["counts"]["written"] == 4468 and card["counts"]["rejected"] == 0
    expected = {}
    with open(gt, encoding="utf-8") as f:
        for line in f:
            rel, label = line.rstrip("\n").split("\t", 1)
            expected[rel] = label
    written = sorted(s for shard in clovaai_tree(out).values() for s in shard)
    source = sorted((label, (root / rel).read_bytes()) for rel, label in expected.items())
    assert written == source


def test_mmocr_label_txt_with_space_separator(realdata, tmp_path):
    root = realdata / "mmocr_toy" / "ocr_toy_dataset"
    out = str(tmp_path / "out")
    run_cli("gt-txt", "-i", root / "imgs", "--gt", root / "label.txt", "--sep", "space",
            "-o", out, "-q", "--split", "none")
    card = assert_accounted(out)
    assert card["counts"] == {"input": 10, "written": 10, "rejected": 0, "splits": {"train": 10}}
    labels = sorted(label for label, _ in clovaai_tree(out)["train/shard-00000"])
    expected = sorted(line.split(" ", 1)[1].strip() for line in
                      (root / "label.txt").read_text("utf-8").splitlines() if line.strip())
    assert labels == expected


def test_korean_crops(realdata, tmp_path):
    root = realdata / "korean_dtrb_greengarnets"
    out = str(tmp_path / "out")
    run_cli("gt-txt", "-i", root, "--gt", root / "gt_real_scene.txt", "-o", out, "-q", "--split", "none")
    card = assert_accounted(out)
    assert card["counts"]["written"] == 5
    labels = {label for label, _ in clovaai_tree(out)["train/shard-00000"]}
    assert labels == {"서울대역", "상설", "영어전문학원", "아카데미", "대형출력인쇄"}
    assert set("서울대역") <= set(card["charset"])


def test_bom_crlf_blank_lines_and_no_final_newline(tmp_path):
    files = {"a.png": _png(1), "b.png": _png(2), "sub/c.png": _png(3)}
    gt = "\ufeffa.png\tHello World\r\n\r\nb.png\t한국어\r\nsub/c.png\t  spaced  ".encode("utf-8")
    root = _write(tmp_path / "src", files, gt)
    out = str(tmp_path / "out")
    run_cli("gt-txt", "-i", root, "-o", out, "-q", "--split", "none")
    assert assert_accounted(out)["counts"]["input"] == 3
    got = sorted(clovaai_tree(out)["train/shard-00000"])
    assert got == sorted([("Hello World", files["a.png"]), ("한국어", files["b.png"]),
                          ("  spaced  ", files["sub/c.png"])])


def test_each_line_fault_is_its_own_reject(tmp_path):
    good, bad = _png(1), _png(2)
    files = {"ok.png": good, "trunc.png": bad[: len(bad) // 3], "empty.png": b"", "blank.png": good}
    (tmp_path / "outside.png").write_bytes(good)
    gt = ("ok.png\tfine\n"
          "no-separator-here\n"
          "missing.png\tgone\n"
          "trunc.png\tcut\n"
          "empty.png\tzero\n"
          "blank.png\t\n"
          "../outside.png\tescape\n"
          "/etc/hostname\tabsolute\n"
          "ok.png\tsame id again\n").encode()
    root = _write(tmp_path / "src", files, gt)
    out = str(tmp_path / "out")
    run_cli("gt-txt", "-i", root, "-o", out, "-q", "--split", "none")
    card = assert_accounted(out)
    assert card["counts"]["written"] == 1
    assert card["rejects"] == {"no_separator": 1, "missing_image": 1, "undecodable_image": 2,
                               "empty_label": 1, "path_outside_source": 2, "duplicate_id": 1}
    sources = {r["source"]: r["reason"] for r in rejects_of(out)}
    assert sources["gt.txt:2"] == "no_separator"
    assert sources["gt.txt:7"] == sources["gt.txt:8"] == "path_outside_source"
    assert sources["gt.txt:9"] == "duplicate_id"


def test_symlink_out_of_source_is_refused_unless_followed(tmp_path):
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes(_png(5))
    root = _write(tmp_path / "src", {"ok.png": _png(1)}, b"link.png\tlinked\nok.png\tok\n")
    os.symlink(outside, os.path.join(root, "link.png"))
    out = str(tmp_path / "out")
    run_cli("gt-txt", "-i", root, "-o", out, "-q", "--split", "none")
    assert assert_accounted(out)["rejects"] == {"path_outside_source": 1}
    run_cli("gt-txt", "-i", root, "-o", out, "-q", "--split", "none", "--overwrite", "--follow-symlinks")
    assert assert_accounted(out)["counts"]["written"] == 2


def test_nothing_usable_exits_1(tmp_path):
    root = _write(tmp_path / "src", {}, b"\n\n")
    result = run_cli("gt-txt", "-i", root, "-o", str(tmp_path / "out"), expect=1)
    assert "no samples" in result.stderr
    assert not os.path.exists(tmp_path / "out")
