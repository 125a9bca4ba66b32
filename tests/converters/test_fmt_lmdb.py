"""dataconv lmdb: existing LMDB trees as a source (re-validate, filter, merge), lazily read."""
from __future__ import annotations

import pickle
import re

from helpers import read_lmdb, run_cli
from fmt_util import convert, labels, make_fixture, written
from dataconv.io.lmdb_tree import iter_records
from dataconv.io.lmdb_image import LmdbImage, close_handles
from dataconv.sample import ReadContext


def test_mmocr_and_crnn_lmdbs_round_trip_and_merge(realdata, tmp_path):
    mmocr = realdata / "mmocr_toy" / "ocr_toy_dataset" / "imgs.lmdb"
    crnn = realdata / "crnn_pytorch_wuzuowuyou" / "data" / "lmdb"
    card = convert("lmdb", mmocr, tmp_path / "out", "--also", crnn)
    assert card["counts"] == {"input": 20, "written": 20, "rejected": 0, "splits": {"train": 20}}
    original = {(lab, img) for p in (mmocr, crnn) for lab, img in read_lmdb(str(p))}
    assert {(lab, img) for _, lab, img in written(tmp_path / "out")} == original
    assert card["options"]["also"] == ["lmdb"]  # no absolute path in the manifest


def test_broken_lmdb_is_one_reject_not_a_crash(realdata, tmp_path):
    """Its one sample is rejected, so the run writes nothing: one line naming the reason."""
    result = run_cli("lmdb", "-i", realdata / "mmocr_toy" / "broken.lmdb", "-o", tmp_path / "out",
                     "-q", "--workers", "1", "--split", "none", expect=1)
    err = result.stderr.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in result.output
    assert "0 of 1 samples written; undecodable_image (1 of 1" in err
    assert not (tmp_path / "out").exists()


def test_fixture_filter_and_lazy_reference(tmp_path):
    truth = make_fixture("lmdb", tmp_path / "src")
    card = convert("lmdb", tmp_path / "src", tmp_path / "out", "--label-regex", "[A-Za-z]+")
    kept = [w for part in truth["labels"].values() for w in part if re.fullmatch("[A-Za-z]+", w)]
    assert sorted(labels(tmp_path / "out").values()) == sorted(kept)
    assert card["rejects"]["undecodable_image"] == 1 and card["rejects"]["missing_label"] == 1
    ref = LmdbImage(str(tmp_path / "src" / "train"), 1)
    data = pickle.loads(pickle.dumps(ref)).read(ReadContext())
    close_handles()
    assert data == next(iter_records(ref.path)).image
