"""Mutation run of the lines changed for the line-file formats parsed in parts
(converters/gt_txt.py, icdar2015_rec.py, mjsynth.py, paddle_rec.py, base.py) and of the
aihub near-miss and minhon detection changes: the survivors that meant a wrong answer.
The real CLI on real files."""
from __future__ import annotations

import os

from helpers import run_cli


def test_paddle_rec_missing_labels_file_names_the_labels_option(tmp_path):
    """A --labels file that is not there is a usage error naming the option the user
    gave (``labels``) and the path, with nothing written."""
    src = tmp_path / "src"
    src.mkdir()
    missing = tmp_path / "rec_gt_train.txt"
    out = tmp_path / "out"
    result = run_cli("paddle-rec", "-i", src, "--labels", missing, "-o", out, "-q", expect=2)
    assert "Traceback" not in result.output
    assert f"option labels: {missing}: no such file or folder" in result.stderr, result.stderr
    assert not os.path.exists(out)
