"""dataconv mjsynth: label from the file name, known-corrupt names rejected up front."""
from __future__ import annotations

from fmt_util import convert, labels, make_fixture
from dataconv.converters.mjsynth import KNOWN_CORRUPT, word_of


def test_fixture(tmp_path):
    truth = make_fixture("mjsynth", tmp_path / "src")
    card = convert("mjsynth", tmp_path / "src", tmp_path / "out")
    assert labels(tmp_path / "out") == truth["labels"]
    assert card["rejects"] == {"known_corrupt": 1, "missing_image": 1}


def test_word_from_name():
    assert word_of("./3000/7/182_slinking_71711.jpg") == "slinking"
    assert word_of("3000/7/nounderscore.jpg") is None
    assert len(KNOWN_CORRUPT) == 32
