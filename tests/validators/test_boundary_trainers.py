"""Each trainer simulation's label-length limit with labels just inside and just outside it
(the limit given and the trainer's default), measured where the trainer measures (PARSeq
after removing whitespace, clovaai before lower-casing and filtering), and PARSeq's
``--min-image-dim`` at 0 and 1. PaddleOCR's and MMOCR's limits are also checked against
their own code (test_paddleocr_real.py, test_mmocr_real.py)."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from dataconv import charsets
from dataconv.validators.trainers import Settings, trainers

ALNUM = "0123456789abcdefghijklmnopqrstuvwxyz"


def image() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 16), (255, 255, 255)).save(buf, "PNG")
    return buf.getvalue()


def verdict(name: str, label: str, max_length: int | None, **switches):
    sim = trainers()[name](Settings(charset=charsets.load_user_charset(ALNUM + " "), max_length=max_length,
                                    switches=switches))
    return sim.simulate(label, image)


@pytest.mark.parametrize("name,switches,default,dropped", [
    ("clovaai", {}, 25, "too_long"),
    ("parseq", {}, 25, "too_long"),
    ("paddleocr", {"paddle_encoder": "ctc"}, 25, "too_long"),
    ("paddleocr", {"paddle_encoder": "attn"}, 25, "too_long_for_attn"),
])
@pytest.mark.parametrize("limit", [None, 7])
def test_label_length_limit_inside_and_outside(name, switches, default, dropped, limit):
    n = limit or default
    extra = 1 if switches.get("paddle_encoder") == "attn" else 0  # Attn: len >= max_text_length drops
    inside, outside = "a" * (n - extra), "a" * (n - extra + 1)
    assert verdict(name, inside, limit, **switches).dropped is None
    assert verdict(name, inside, limit, **switches).label == inside
    assert verdict(name, outside, limit, **switches).dropped == dropped


def test_mmocr_ce_keeps_max_seq_len_minus_one_characters():
    assert verdict("mmocr", "a" * 39, None).label == "a" * 39
    assert verdict("mmocr", "a" * 40, None).label == "a" * 39  # BOS + 40 + EOS cut to 40, BOS dropped
    assert verdict("mmocr", "a" * 6, 7).altered == [] and verdict("mmocr", "a" * 7, 7).altered == [
        "truncated_to_max_seq_len"]
    assert verdict("mmocr", "a" * 50, 7, mmocr_loss="ctc").label == "a" * 50


def test_where_the_length_is_measured():
    # PARSeq removes whitespace first: 7 letters and a space fit a limit of 7
    assert verdict("parseq", "abc defg", 7).dropped is None
    assert verdict("parseq", "abc defg", 7, remove_whitespace=False).dropped == "too_long"
    # clovaai measures the raw label before filtering what --character lacks
    assert verdict("clovaai", "abcdefg!", 7).dropped == "too_long"


def test_parseq_min_image_dim_zero_and_one():
    def fatal(value: int) -> str | None:
        return trainers()["parseq"](Settings(charset=None, switches={"min_image_dim": value})).fatal()

    assert fatal(0) is None
    assert "min_image_dim" in fatal(1)
