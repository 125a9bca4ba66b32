"""``eval --model`` on any LMDB tree: every decodable image scored (figures recomputed here
from each row's label and prediction), every image the model cannot read left out and
counted. The model is a fresh, untrained checkpoint: what it predicts does not matter,
only that each figure follows from it."""
from __future__ import annotations

import json

import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("lightning")

from helpers import run_cli, save_checkpoint, write_lmdb  # noqa: E402
from hostile_util import png  # noqa: E402
from test_exact_eval import distance  # noqa: E402
from dataconv.train.model import Recognizer  # noqa: E402


def test_model_eval_scores_readable_images_and_counts_the_others(tmp_path):
    torch.manual_seed(0)
    model = Recognizer(charset="abc", img_height=32, img_width=64, size="tiny")
    ckpt = tmp_path / "m.ckpt"
    save_checkpoint(model, str(ckpt))
    labels = ["ab", "c", "abc", "broken", "cab", "broken too"]
    images = [b"not an image" if label.startswith("broken") else png(i) for i, label in enumerate(labels)]
    (tmp_path / "tree").mkdir()
    write_lmdb(str(tmp_path / "tree" / "shard"), list(zip(labels, images)))
    result = run_cli("eval", tmp_path / "tree", "--model", ckpt, "--split", "all", "-o", tmp_path / "ev")
    frame = pd.read_parquet(tmp_path / "ev" / "eval.parquet")
    assert frame["label"].tolist() == ["ab", "c", "abc", "cab"]
    assert frame["key"].tolist() == ["shard:1", "shard:2", "shard:3", "shard:5"]
    edits = [distance(label, pred) for label, pred in zip(frame["label"], frame["prediction"])]
    assert frame["cer"].tolist() == [e / len(label) for e, label in zip(edits, frame["label"])]
    assert frame["confidence"].between(0, 1).all()
    card = json.loads((tmp_path / "ev" / "manifest.json").read_text("utf-8"))
    assert (card["counts"], card["rejects"]) == ({"input": 6, "written": 4, "rejected": 2},
                                                 {"image could not be read": 2})
    assert card["scores"]["cer"] == pytest.approx(sum(edits) / 9)
    assert "  left out: 2 (image could not be read)" in result.stdout.splitlines()
