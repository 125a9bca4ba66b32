"""dataconv minhon: line pairs (Calamari .gt.txt, crnn .txt) and page JSON to line crops."""
from __future__ import annotations

from fmt_util import convert, decode, labels, make_fixture, written
from dataconv.converters.minhon import Minhon, MinhonOptions, book_meta
from dataconv.sample import Sample


def test_calamari_uw3_gt_txt_pairs(realdata, tmp_path):
    root = realdata / "calamari_uw3_lines"
    card = convert("minhon", root, tmp_path / "out")
    assert card["counts"]["input"] == card["counts"]["written"] == 70
    got = labels(tmp_path / "out")
    for key, label in got.items():
        assert label == (root / f"{key}.gt.txt").read_text("utf-8").rstrip("\n")


def test_crnn_txt_pairs_lose_only_the_final_newline(realdata, tmp_path):
    root = realdata / "crnn_pytorch_wuzuowuyou" / "myfile" / "data_sample"
    card = convert("minhon", root, tmp_path / "out")
    assert card["counts"]["written"] == 10
    got = labels(tmp_path / "out")
    assert got["226_1"] == "STATE"
    for key, label in got.items():
        assert (root / f"{key}.txt").read_bytes() == (label + "\n").encode()
    for _, _, data in written(tmp_path / "out"):  # untouched without --rotate-vertical/--max-height
        assert data in {p.read_bytes() for p in root.glob("*.png")}


def test_fixture_vertical_lines_page_json_and_ideographic_space(tmp_path):
    truth = make_fixture("minhon", tmp_path / "src")
    card = convert("minhon", tmp_path / "src", tmp_path / "out", "--rotate-vertical",
                   "--max-height", "30", "--ideographic-space", "space")
    assert card["rejects"] == {"not_textline": truth["not_textline"]}
    got = labels(tmp_path / "out")
    for key, line in truth["lines"].items():
        assert got[key] == line["label"].replace("\u3000", " ")
    assert sorted(v for k, v in got.items() if "#" in k) == sorted(truth["page_lines"])
    for _, _, data in written(tmp_path / "out"):
        height, width = decode(data).shape[:2]
        assert height <= 30 and width > height  # vertical lines turned, tall ones scaled


def test_book_and_page_go_into_meta(tmp_path):
    make_fixture("minhon", tmp_path / "src")
    converter = Minhon(str(tmp_path / "src"), MinhonOptions(ideographic_space="keep", encoding="utf-8"))
    samples = [s for s in converter.samples() if isinstance(s, Sample)]
    book = "001E3C19A3E626EC382F86D201FEFB8C"
    assert all(s.meta["book"] == book and s.group is None for s in samples)
    assert {s.meta["page"] for s in samples} == {f"{book}-001", f"{book}-002"}
    assert book_meta("calamari/010001") == {}
