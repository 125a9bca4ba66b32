"""validate is exact: each trainer reads the charset FILE its own way (real dictionaries in
every form: one per line, one line, PARSeq YAML, with a BOM, CP949), decodes images the way
it does, applies its own length rule (PaddleOCR encoders, MMOCR CE/CTC) at the limits users
use (25, 40+), and every fix line it prints, applied, leaves nothing dropped. The reference
readers and encoders below are written here independently from the trainers' source
(PaddleOCR label_ops.py BaseRecLabelEncode/Attn/SAR/NRTR/MultiLabelEncode, MMOCR
Dictionary + list_from_file + module_losses/base.py), not taken from dataconv."""
from __future__ import annotations

import io
import json
import re
import shlex
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from helpers import REPO, REALDATA, run_cli
from dataconv import charsets
from dataconv.validators.trainers import Settings, trainers
from dataconv.outputs.lmdb_writer import ShardWriter

DICTS = REALDATA / "charsets"
README = Path(REPO) / "README.md"
HANGUL = (DICTS / "ksx" / "2350.txt").read_text("utf-8").strip()


def png(w: int = 40, h: int = 12) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (w, h), 255).save(buf, "PNG")
    return buf.getvalue()


def palette_png_without_plte() -> bytes:
    """A palette PNG whose PLTE chunk is removed: Pillow still decodes it, OpenCV does not."""
    buf = io.BytesIO()
    Image.new("P", (30, 10), 1).save(buf, "PNG")
    data, out, pos = buf.getvalue(), bytearray(), 8
    out += data[:8]
    while pos < len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        chunk = data[pos:pos + 12 + length]
        if chunk[4:8] != b"PLTE":
            out += chunk
        pos += 12 + length
    return bytes(out)


# labels: Korean of every length around both limits, Latin with case and spaces, digits
LABELS = ([HANGUL[i:i + n] for i, n in enumerate((1, 5, 22, 23, 24, 25, 26, 37, 38, 39, 40, 41, 45))]
          + ["Hello", "SEOUL 서울", "가나 다라", "ABC", "x1", "한국어ABC", "ＡＢＣ"])


def write_tree(root: Path, train: list[str], val: list[str] = (), image: bytes | None = None) -> str:
    for split, labels in (("train", train), ("val", val)):
        if labels:
            with ShardWriter(str(root / split / "shard-00000")) as w:
                for label in labels:
                    w.add(label, image or png())
    return str(root)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> str:
    return write_tree(tmp_path_factory.mktemp("exact"), LABELS, ["값", "VAL"])


@pytest.fixture(scope="module")
def forms(tmp_path_factory) -> dict[str, tuple[str, str]]:
    """form -> (path, encoding) of a real dictionary in that form."""
    tmp = tmp_path_factory.mktemp("forms")
    bom = tmp / "korean_bom.txt"
    bom.write_bytes(b"\xef\xbb\xbf" + (DICTS / "paddleocr-2.7.3" / "korean_dict.txt").read_bytes())
    return {"lines": (str(DICTS / "paddleocr-2.7.3" / "korean_dict.txt"), "utf-8"),
            "string": (str(DICTS / "ksx" / "2350.txt"), "utf-8"),
            "yaml": (str(DICTS / "ndlocr-lite" / "NDLmoji.yaml"), "utf-8"),
            "bom": (str(bom), "utf-8"),
            "cp949": (str(DICTS / "koreanCodec.cp949.txt"), "cp949")}


# --- independent reference readers and encoders ------------------------------------------

def ref_paddle_dict(path: str) -> list[str]:
    with open(path, "rb") as f:
        return [line.decode("utf-8").strip("\n").strip("\r\n") for line in f.readlines()]


def ref_mmocr_dict(path: str) -> list[str]:
    entries = []
    with open(path, "r", encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n\r").strip("\r\n")
            if len(line) > 1:
                raise ValueError(f"line {number}")
            if line:
                entries.append(line)
    return entries


def ref_paddle(label: str, entries: list[str], limit: int, encoder: str) -> str | None:
    if not label or len(label) > limit:
        return None
    encoded = [c for c in label if c in set(entries)]
    if not encoded:
        return None
    if encoder == "attn" and len(encoded) >= limit:
        return None
    if encoder in ("multi-sar", "multi-nrtr") and len(encoded) >= limit - 1:
        return None
    return "".join(encoded)


def ref_mmocr(label: str, entries: list[str], max_seq_len: int, loss: str) -> str:
    if any(c not in entries for c in label):
        return "CRASH"
    return label[:max_seq_len - 1] if loss == "ce" else label


def ours(trainer, label: str, image: bytes = None, split: str = "train"):
    v = trainer.simulate(label, lambda: image or png(), split)
    if v.dropped:
        return "CRASH" if v.dropped.startswith("crash:") else None
    return v.label


def validate_json(tree: str, *args, expect: int = 0) -> dict:
    return json.loads(run_cli("validate", tree, "--json", "-q", *args, expect=expect).stdout)


# --- charset forms -------------------------------------------------------------------------

@pytest.mark.parametrize("form", ["lines", "string", "yaml", "bom", "cp949"])
@pytest.mark.parametrize("encoder", ["multi-nrtr", "multi-sar", "ctc", "attn"])
@pytest.mark.parametrize("limit", [25, 40])
def test_paddleocr_reads_every_form_like_its_code(forms, form, encoder, limit):
    path, encoding = forms[form]
    trainer = trainers()["paddleocr"](Settings(charset=charsets.load_user_charset(path, encoding),
                                               max_length=limit, switches={"paddle_encoder": encoder}))
    if form == "cp949":
        with pytest.raises(UnicodeDecodeError):
            ref_paddle_dict(path)
        assert "UnicodeDecodeError" in trainer.fatal()
        return
    entries = ref_paddle_dict(path)
    assert trainer.fatal() is None
    for label in LABELS:
        assert ours(trainer, label) == ref_paddle(label, entries, limit, encoder), (form, label)
    differs = [w for w in trainer.warnings() if "differently" in w]
    assert bool(differs) == (form in ("string", "yaml", "bom")), trainer.warnings()
    if form == "bom":  # line 1 is BOM + its character, which PaddleOCR never produces
        assert entries[0].startswith("\ufeff") and len(entries[0]) == 2 and "dataconv charset" in differs[0]


@pytest.mark.parametrize("form", ["lines", "string", "yaml", "bom", "cp949"])
@pytest.mark.parametrize("loss,limit", [("ce", 25), ("ce", 40), ("ctc", 25)])
def test_mmocr_reads_every_form_like_its_code(forms, form, loss, limit):
    path, encoding = forms[form]
    trainer = trainers()["mmocr"](Settings(charset=charsets.load_user_charset(path, encoding),
                                           max_length=limit, switches={"mmocr_loss": loss}))
    try:
        entries = ref_mmocr_dict(path)
    except (ValueError, UnicodeDecodeError) as e:  # UnicodeDecodeError is a ValueError
        expected = "UnicodeDecodeError" if isinstance(e, UnicodeDecodeError) else "ValueError: line 1"
        assert expected in trainer.fatal()
        assert form in ("string", "yaml", "bom", "cp949")
        return
    assert form == "lines" and trainer.fatal() is None
    for label in LABELS:
        assert ours(trainer, label) == ref_mmocr(label, entries, limit, loss), label


@pytest.mark.parametrize("trainer,form,warned", [
    ("clovaai", "lines", True), ("clovaai", "string", False), ("clovaai", "bom", True),
    ("clovaai", "cp949", True), ("parseq", "lines", True), ("parseq", "string", False),
    ("parseq", "yaml", False), ("parseq", "cp949", True)])
def test_argv_trainers_get_the_file_as_cat_gives_it(forms, trainer, form, warned):
    """clovaai --character "$(cat F)" and PARSeq model.charset_train="$(cat F)" (YAML: charset=NAME)."""
    path, encoding = forms[form]
    sim = trainers()[trainer](Settings(charset=charsets.load_user_charset(path, encoding)))
    raw = Path(path).read_bytes()
    expected = raw.decode("utf-8", "surrogateescape").rstrip("\n") if form != "yaml" else (
        "".join(charsets.load_user_charset(path).entries))
    assert "".join(sim.entries) == expected
    assert any("differently" in w for w in sim.warnings()) == warned


def test_cp949_is_a_one_line_error_without_its_encoding(forms, tree):
    result = run_cli("validate", tree, "--for", "paddleocr", "--charset", forms["cp949"][0], expect=1)
    assert result.output.count("\n") == 1 and "--charset-encoding" in result.output


def test_validate_exits_1_on_fatal_without_strict(forms, tree):
    for form in ("yaml", "bom", "string"):
        report = validate_json(tree, "--for", "mmocr", "--charset", forms[form][0], expect=1)
        assert report["kept"] == 0 and "ValueError" in report["fatal"]
    report = validate_json(tree, "--for", "paddleocr", "--charset", forms["yaml"][0], expect=1)
    assert "RecursionError" in report["fatal"] and report["kept"] == 0
    assert any("not single characters" in w for w in report["warnings"])


# --- length rules and fixes -----------------------------------------------------------------

@pytest.mark.parametrize("encoder,limit", [(e, n) for e in ("multi-nrtr", "multi-sar", "ctc", "attn")
                                           for n in (25, 40)])
def test_paddle_fix_line_keeps_every_sample(tmp_path, encoder, limit):
    labels = [HANGUL[:n] for n in (limit - 2, limit - 1, limit, limit + 3)]
    data = write_tree(tmp_path, labels)
    dict_file = tmp_path / "dict.txt"
    dict_file.write_text("".join(ch + "\n" for ch in HANGUL), "utf-8")
    args = ["--for", "paddleocr", "--charset", str(dict_file), "--paddle-encoder", encoder,
            "--max-label-length", str(limit)]
    report = validate_json(data, *args)
    kept = [lb for lb in labels if ref_paddle(lb, list(HANGUL), limit, encoder) is not None]
    assert report["kept"] == len(kept)
    fix = next(f for f in report["fixes"] if f.startswith("Global.max_text_length: "))
    needed = int(re.match(r"Global.max_text_length: (\d+)", fix).group(1))
    assert needed == limit + 3 + (2 if encoder.startswith("multi") else 1 if encoder == "attn" else 0)
    again = validate_json(data, *args[:-1], str(needed))
    assert again["dropped"] == 0 and again["fixes"] == []


def test_mmocr_ce_cuts_to_max_seq_len_minus_one_and_the_fix_keeps_all(tmp_path):
    data = write_tree(tmp_path, [HANGUL[:41], HANGUL[:10]])
    charset = str(DICTS / "ksx" / "2350.txt")
    dict_file = tmp_path / "dict.txt"
    dict_file.write_text("".join(ch + "\n" for ch in HANGUL), "utf-8")
    report = validate_json(data, "--for", "mmocr", "--charset", dict_file)
    assert report["alterations"] == {"truncated_to_max_seq_len": 1}
    assert len(report["examples"]["truncated_to_max_seq_len"][0]["becomes"]) == 39
    assert "max_seq_len=43  (module loss; the longest label + BOS/EOS)" in report["fixes"]
    assert validate_json(data, "--for", "mmocr", "--charset", dict_file, "--max-label-length", "43")["altered"] == 0
    assert validate_json(data, "--for", "mmocr", "--charset", dict_file, "--mmocr-loss", "ctc")["altered"] == 0
    run_cli("validate", data, "--for", "mmocr", "--charset", charset, "-q", expect=1)  # one line: ValueError


def test_clovaai_fix_lines_keep_every_sample(tmp_path):
    data = write_tree(tmp_path, ["Hello", "World" * 6, "가나"])
    report = validate_json(data, "--for", "clovaai")
    character = next(f for f in report["fixes"] if f.startswith("--character "))[len("--character "):]
    length = next(f for f in report["fixes"] if f.startswith("--batch_max_length "))
    again = validate_json(data, "--for", "clovaai", "--charset", shlex.split(character)[0],
                          "--max-label-length", length.split()[1])
    assert again["dropped"] == 0 and again["kept"] == 3


# --- images are decoded as each trainer decodes them -----------------------------------------

def test_opencv_trainers_drop_what_only_pillow_decodes(tmp_path):
    image = palette_png_without_plte()
    assert Image.open(io.BytesIO(image)).convert("RGB").size == (30, 10)
    assert cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR) is None
    data = write_tree(tmp_path / "a", ["abc", "xyz"], image=image)
    good = write_tree(tmp_path / "b", ["abc"])
    for trainer in ("paddleocr", "mmocr"):
        charset = ["--charset", "abcxyz"] if trainer == "mmocr" else []
        report = validate_json(data, "--for", trainer, *charset, expect=1)  # the split keeps none
        assert report["reasons"] == {"undecodable_by_opencv": 2} and "every sample is dropped" in report["fatal"]
        assert validate_json(good, "--for", trainer, *charset)["kept"] == 1
    assert validate_json(data, "--for", "parseq")["kept"] == 2
    assert validate_json(data, "--for", "clovaai")["kept"] == 2


def test_clovaai_gives_an_image_pillow_refuses_the_dummy_label(tmp_path):
    data = write_tree(tmp_path, ["abc"], image=b"not an image")
    report = validate_json(data, "--for", "clovaai", "--sensitive")
    assert report["alterations"] == {"undecodable_image_dummy_label": 1}
    assert report["examples"]["undecodable_image_dummy_label"][0]["becomes"] == "[dummy_label]"
    report = validate_json(data, "--for", "parseq", expect=1)
    assert report["reasons"] == {"crash:undecodable_image_pillow": 1}


# --- PARSeq ----------------------------------------------------------------------------------

def test_parseq_min_image_dim_is_fatal_with_the_one_line_patch(tree):
    result = run_cli("validate", tree, "--for", "parseq", "--min-image-dim", "8", "-q", expect=1)
    assert "FATAL: LmdbDataset._preprocess_labels reads self.min_image_dim" in result.stdout
    assert "change `self.min_image_dim` to `min_image_dim`" in result.stdout


def test_parseq_no_spurious_warnings(tmp_path):
    digits = write_tree(tmp_path / "d", ["123", "45"], ["678"])
    report = validate_json(digits, "--for", "parseq")
    assert report["warnings"] == [] and report["fixes"] == [] and report["altered"] == 0
    korean = write_tree(tmp_path / "k", ["가나", "다라"], ["마"])
    report = validate_json(korean, "--for", "parseq", "--no-normalize-unicode", "--charset",
                           str(DICTS / "ksx" / "2350.txt"))
    assert report["warnings"] == [] and report["altered"] == 0


def test_parseq_reads_val_with_charset_test(tmp_path):
    data = write_tree(tmp_path, ["Hello"], ["World"])
    report = validate_json(data, "--for", "parseq")
    assert report["alterations"] == {"lowercased": 1}  # only val/: charset_test is 0-9a-z
    assert any(f.startswith("model.charset_test: ") for f in report["fixes"])
    yaml_file = tmp_path / "cs.yaml"
    run_cli("charset", data, "-o", yaml_file, "--style", "parseq")
    assert validate_json(data, "--for", "parseq", "--charset", yaml_file)["altered"] == 0


# --- README recipes ----------------------------------------------------------------------------

def readme_recipe_commands() -> list[str]:
    text = README.read_text("utf-8")
    start = text.index("## Pointing trainers at the output")
    section = text[start:text.index("\n## ", start)]  # up to the next section
    return [line.strip() for line in section.splitlines() if line.strip().startswith("dataconv ")]


def test_every_readme_recipe_runs_as_written(tmp_path, monkeypatch):
    base = REALDATA / "paddleocr_doc_words"
    out = tmp_path / "OUT"
    run_cli("gt-txt", "-i", base, "--gt", base / "rec_gt_transcribed.txt", "-o", out, "-q")
    monkeypatch.chdir(tmp_path)
    commands = readme_recipe_commands()
    # the recognizers; the detectors read detection datasets (tests/validators/test_det_trainers.py)
    recognizers = {name for name, cls in trainers().items() if cls.reads == "lmdb"}
    assert {c.split()[4] for c in commands if c.startswith("dataconv validate")} == recognizers
    for command in commands:
        result = run_cli(*shlex.split(command)[1:], "-q" if "validate" in command else "--order",
                         *([] if "validate" in command else ["codepoint"]))
        if "validate" in command:
            assert re.search(r"kept 25, dropped 0\b", result.stdout), (command, result.stdout)
            assert "warning:" not in result.stdout and "FATAL" not in result.stdout, result.stdout
