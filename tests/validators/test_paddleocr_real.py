"""PaddleOCR's own label encoders, run on dataconv output, agree with `validate --for paddleocr`
sample by sample.

The `paddleocr` 2.10.0 wheel ships `ppocr/`; its package __init__ files import paddle, so only
`ppocr/data/imaug/label_ops.py` and `operators.py` (DecodeImage) are loaded, by file path. The
records are read the way `ppocr/data/lmdb_dataset.py` LMDBDataSet reads them (every leaf folder
of data_dir, keys 1..num-samples, labels decoded as UTF-8), then DecodeImage and the encoder of
the config run on each. Installed by `make setup-all`; skipped when paddleocr is absent.
"""
from __future__ import annotations

import importlib.util
import io
import json
import os
import types
from typing import Any, Callable

import lmdb
import pytest
from PIL import Image

from helpers import REALDATA, run_cli
from ppocr_util import PPOCR_SPEC, load_imaug
from dataconv import charsets
from dataconv.validators.trainer_report import samples
from dataconv.validators.trainers import Settings, trainers

pytestmark = pytest.mark.skipif(PPOCR_SPEC is None or importlib.util.find_spec("shapely") is None,
                                reason="paddleocr==2.10.0 (--no-deps) and shapely not installed (make setup-all)")

DICTS = REALDATA / "charsets"
HANGUL = (DICTS / "ksx" / "2350.txt").read_text("utf-8").strip()
LABELS = ([HANGUL[:n] for n in (1, 5, 22, 23, 24, 25, 26, 37, 38, 39, 40, 41, 45)]
          + [HANGUL[:22] + "ＡＢ", HANGUL[:23] + "Ａ", HANGUL[:24] + "ＡＢＣ", "가" + "ＡＢ" * 12,
             HANGUL[:37] + "😀", HANGUL[:38] + " ", "Hello", "Hello World!", "SEOUL 서울", "가나 다라",
             "ABC", "x1", "한국어ABC", "ＡＢＣ", "!!", "!", "a b", "😀", "ｶﾀｶﾅ", "3.14%"])


@pytest.fixture(scope="module")
def ppocr() -> dict[str, types.ModuleType]:
    """label_ops and operators from the installed wheel (``ppocr_util``)."""
    return load_imaug("label_ops", "operators")


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> str:
    """The labels converted by `dataconv gt-txt` into one train split."""
    src = tmp_path_factory.mktemp("src")
    lines = []
    for i, label in enumerate(LABELS):
        buf = io.BytesIO()
        Image.new("RGB", (60, 16), (255, 255, 255)).save(buf, "PNG" if i % 2 else "JPEG")
        (src / f"{i}.img").write_bytes(buf.getvalue())
        lines.append(f"{i}.img\t{label}\n")
    (src / "gt.txt").write_text("".join(lines), "utf-8")
    out = tmp_path_factory.mktemp("out") / "data"
    run_cli("gt-txt", "-i", src, "--gt", src / "gt.txt", "-o", out, "--split", "none", "-q")
    return str(out)


@pytest.fixture(scope="module")
def dicts(tmp_path_factory) -> dict[str, str]:
    """PaddleOCR's own korean_dict.txt, and a one-per-line dict (Hangul, ASCII letters and
    digits, no space) that starts with a UTF-8 BOM."""
    bom = tmp_path_factory.mktemp("dicts") / "bom_dict.txt"
    chars = "!" + HANGUL + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    bom.write_bytes(b"\xef\xbb\xbf" + "".join(c + "\n" for c in chars).encode("utf-8"))
    return {"korean": str(DICTS / "paddleocr-2.7.3" / "korean_dict.txt"), "bom": str(bom)}


def real_encoder(ppocr, encoder: str, config: dict[str, Any]) -> Callable[[dict], dict | None]:
    """The op a rec config's transforms list builds for this encoder."""
    ops = ppocr["label_ops"]
    if encoder == "ctc":
        return ops.CTCLabelEncode(**config)
    if encoder == "attn":
        return ops.AttnLabelEncode(**config)
    gtc = {"multi-nrtr": "NRTRLabelEncode", "multi-sar": None}[encoder]  # PP-OCRv4 / PP-OCRv3
    return ops.MultiLabelEncode(gtc_encode=gtc, **config)


def trained_label(op, data: dict) -> str:
    """The characters of the encoded label (the CTC branch of MultiLabelEncode)."""
    if "label_ctc" in data:
        return "".join(op.ctc_encode.character[i] for i in data["label_ctc"][:int(data["length"])])
    start = 1 if op.character[0] == "sos" else 0  # AttnLabelEncode puts sos first
    return "".join(op.character[i] for i in data["label"][start:start + int(data["length"])])


def run_real(ppocr, data_dir: str, op) -> dict[str, str | None]:
    """key -> trained label, or None where the transforms return None (LMDBDataSet skips it)."""
    decode = ppocr["operators"].DecodeImage(img_mode="BGR", channel_first=False)
    out = {}
    for dirpath, dirnames, _ in os.walk(data_dir + "/"):
        if dirnames:
            continue
        env = lmdb.open(dirpath, max_readers=32, readonly=True, lock=False, readahead=False, meminit=False)
        try:
            with env.begin(write=False) as txn:
                rel = os.path.relpath(dirpath, data_dir).replace(os.sep, "/")
                for index in range(1, int(txn.get(b"num-samples")) + 1):
                    data = {"image": txn.get(b"image-%09d" % index),
                            "label": txn.get(b"label-%09d" % index).decode("utf-8")}
                    data = decode(data)
                    data = op(data) if data is not None else None
                    out[f"train/{rel}:label-{index:09d}"] = None if data is None else trained_label(op, data)
        finally:
            env.close()
    return out


@pytest.mark.parametrize("dict_name", ["korean", "bom"])
@pytest.mark.parametrize("use_space_char", [True, False])
@pytest.mark.parametrize("encoder", ["multi-nrtr", "multi-sar", "ctc", "attn"])
@pytest.mark.parametrize("limit", [25, 40])
def test_real_paddleocr_encoders_match_validate(ppocr, converted, dicts, dict_name, use_space_char,
                                                encoder, limit):
    path = dicts[dict_name]
    op = real_encoder(ppocr, encoder, {"max_text_length": limit, "character_dict_path": path,
                                       "use_space_char": use_space_char})
    real = run_real(ppocr, os.path.join(converted, "train"), op)
    assert len(real) == len(LABELS)

    switches = {"paddle_encoder": encoder, "use_space_char": use_space_char}
    sim = trainers()["paddleocr"](Settings(charset=charsets.load_user_charset(path), max_length=limit,
                                           switches=switches))
    ours = {}
    for key, split, label, image in samples(converted):
        verdict = sim.simulate(label, image, split)
        ours[key] = None if verdict.dropped else verdict.label
    assert ours == real

    args = ["validate", converted, "--for", "paddleocr", "--charset", path, "--paddle-encoder", encoder,
            "--max-label-length", str(limit), "--json", "-q"] + (["--use-space-char"] if use_space_char else [])
    report = json.loads(run_cli(*args).stdout)
    kept = sum(v is not None for v in real.values())
    assert (report["kept"], report["dropped"], report["crashes"]) == (kept, len(real) - kept, 0)
