"""dataconv validate: each trainer simulation against a plain transcription of that
trainer's load-time code, written here independently, on Korean, Japanese and Latin
labels (real ones from the shared real data plus edge cases) in real LMDB files."""
from __future__ import annotations

import io
import json
import re
import string
import unicodedata

import pytest
from PIL import Image

from helpers import REALDATA, run_cli
from dataconv import charsets
from dataconv.validators.trainer_report import samples as tree_samples
from dataconv.validators.trainers import Settings, trainers
from dataconv.outputs.lmdb_writer import ShardWriter

DICTS = REALDATA / "charsets"
EDGE = ["Hello", "world", "가나다", "東京タワー", "a]b", "x-y", "back\\slash", "Caret^", "ab", "dbe",
        "toolongtoolongtoolongtoolong1", "with space", "ＡＢＣ", "café", "İstanbul", "", " ", "가-힣",
        "서울대역", "したがって", "abc]de", "-^]\\", "12-34", "ABC"]


def png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (w, h), 255).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """train: real mixed-script word crops + edge-case labels; val: a few more."""
    root = tmp_path_factory.mktemp("tree")
    base = REALDATA / "paddleocr_doc_words"
    real = [line.split("\t", 1) for line in (base / "rec_gt_transcribed.txt").read_text("utf-8").splitlines()]
    with ShardWriter(str(root / "train" / "shard-00000")) as w:
        for rel, label in real:
            w.add(label, (base / rel).read_bytes())
        for i, label in enumerate(EDGE):
            w.add(label, png(3 + 7 * i, 5 + i))
    with ShardWriter(str(root / "val" / "shard-00000")) as w:
        for label in ("Val", "값", "テスト", "z"):
            w.add(label, png(40, 12))
    return str(root)


def records(tree_root: str) -> list[tuple[str, bytes]]:
    return [(label, image()) for _, _, label, image in tree_samples(tree_root)]


# --- independent transcriptions: (label, image bytes) -> final label, or None if dropped,
# --- or "CRASH" where the trainer raises ------------------------------------------------

def ref_clovaai(label, image, character, max_len=25, sensitive=False):
    if sensitive:
        character = string.printable[:-6]
    if len(label) > max_len:
        return None
    if re.search(f"[^{character}]", label.lower()):
        return None
    if not sensitive:
        label = label.lower()
    label = re.sub(f"[^{character}]", "", label)
    table = {c: i for i, c in enumerate(character)}
    try:
        [table[c] for c in label]
    except KeyError:
        return "CRASH"
    return label if len(label) <= max_len else "CRASH"


def ref_parseq(label, image, charset, max_len=25, ws=True, nfkd=True, min_dim=0):
    if ws:
        label = "".join(label.split())
    if nfkd:
        label = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    if len(label) > max_len:
        return None
    if charset == charset.lower():
        label = label.lower()
    elif charset == charset.upper():
        label = label.upper()
    label = re.compile(f"[^{re.escape(charset)}]").sub("", label)
    if not label:
        return None
    if min_dim > 0:
        w, h = Image.open(io.BytesIO(image)).size
        if w < min_dim or h < min_dim:
            return None
    return label


def ref_paddle(label, image, dict_path, max_len=25, space=False):
    if dict_path is None:
        chars, lower = list("0123456789abcdefghijklmnopqrstuvwxyz"), True
    else:
        with open(dict_path, "rb") as f:
            chars = [ln.decode("utf-8").strip("\n").strip("\r\n") for ln in f.readlines()]
        lower = False
        if space:
            chars.append(" ")
    table = {c: i for i, c in enumerate(chars)}
    if len(label) == 0 or len(label) > max_len:
        return None
    if lower:
        label = label.lower()
    kept = [c for c in label if c in table]
    return "".join(kept) if kept else None


def ref_mmocr(label, image, dict_path, max_len=40, unknown=False, lower=False):
    with open(dict_path, encoding="utf-8") as f:
        chars = [ln.strip("\r\n") for ln in f.read().split("\n")]
    chars = [c for c in chars if c != ""]
    if lower:
        label = label.lower()
    out = []
    for c in label:
        if c not in chars:
            if not unknown:
                return "CRASH"
            c = "\ufffd"
        out.append(c)
    return "".join(out)[:max_len - 1]  # CE loss: BOS takes one of the max_seq_len slots


def ours(trainer: str, settings: Settings, label: str, image: bytes):
    v = trainers()[trainer](settings).simulate(label, lambda: image)
    if v.dropped:
        return "CRASH" if v.dropped.startswith("crash:") else None
    return v.label


LATIN_SETS = ["0123456789abcdefghijklmnopqrstuvwxyz", "abc]de", "^abc", "-^]abc", "abcdexyz-",
              "가-힣", "abcABC", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]


@pytest.mark.parametrize("character", LATIN_SETS + [None])
@pytest.mark.parametrize("sensitive", [False, True])
def test_clovaai_matches_its_code(tree, character, sensitive):
    cs = charsets.load(character) if character else None
    settings = Settings(charset=cs, switches={"sensitive": sensitive})
    default = character or "0123456789abcdefghijklmnopqrstuvwxyz"
    for label, image in records(tree):
        assert ours("clovaai", settings, label, image) == ref_clovaai(label, image, default, sensitive=sensitive), label


def test_clovaai_unescaped_regex_breakage_is_reproduced_and_warned(tree):
    # "abc]de" makes the filter '[^abc]de]': almost nothing is filtered, and the encoder then
    # meets characters it has no index for.
    trainer = trainers()["clovaai"](Settings(charset=charsets.load("abc]de")))
    assert any("unescaped" in w or "without escaping" in w for w in trainer.warnings())
    assert trainer.simulate("xyz", lambda: b"").dropped == "crash:KeyError_char_not_in_character"
    broken = trainers()["clovaai"](Settings(charset=charsets.load("z-a")))
    assert broken.fatal() and "bad character range" in broken.fatal()
    result = run_cli("validate", tree, "--for", "clovaai", "--charset", "ab\\c", "--json", "-q", expect=1)
    report = json.loads(result.stdout)
    assert report["kept"] == 0 and report["fatal"] and "bad escape" in report["fatal"]


PARSEQ_SETS = [string.printable[:-6], "0123456789abcdefghijklmnopqrstuvwxyz", "ABCXYZ",
               "-^]\\abcdelorw", (DICTS / "ksx" / "2350.txt").read_text("utf-8"),
               "".join(charsets.load(str(DICTS / "paddleocr-2.7.3" / "japan_dict.txt")).entries)]


@pytest.mark.parametrize("charset", PARSEQ_SETS)
@pytest.mark.parametrize("ws,nfkd,min_dim", [(True, True, 0), (False, False, 0), (True, False, 0)])
def test_parseq_matches_its_code(tree, charset, ws, nfkd, min_dim):
    settings = Settings(charset=charsets.load(charset), switches={
        "remove_whitespace": ws, "normalize_unicode": nfkd, "min_image_dim": min_dim})
    for label, image in records(tree):
        assert ours("parseq", settings, label, image) == ref_parseq(label, image, charset, 25, ws, nfkd, min_dim), label


@pytest.mark.parametrize("dict_name", [None, "paddleocr-2.7.3/korean_dict.txt", "paddleocr-2.7.3/japan_dict.txt",
                                       "paddleocr-2.7.3/en_dict.txt", "paddleocr-2.7.3/ppocr_keys_v1.txt"])
@pytest.mark.parametrize("space", [False, True])
def test_paddleocr_matches_its_code(tree, dict_name, space):
    path = str(DICTS / dict_name) if dict_name else None
    settings = Settings(charset=charsets.load(path) if path else None, max_length=12,
                        switches={"use_space_char": space, "paddle_encoder": "ctc"})
    for label, image in records(tree):
        assert ours("paddleocr", settings, label, image) == ref_paddle(label, image, path, 12, space), label


@pytest.mark.parametrize("dict_name", ["paddleocr-2.7.3/korean_dict.txt", "easyocr-1.7.2/ja_char.txt",
                                       "paddleocr-2.7.3/en_dict.txt"])
@pytest.mark.parametrize("unknown,lower", [(False, False), (True, False), (True, True)])
def test_mmocr_matches_its_code(tree, dict_name, unknown, lower):
    path = str(DICTS / dict_name)
    settings = Settings(charset=charsets.load(path), max_length=8,
                        switches={"with_unknown": unknown, "lower": lower})
    for label, image in records(tree):
        assert ours("mmocr", settings, label, image) == ref_mmocr(label, image, path, 8, unknown, lower), label


def test_mmocr_refuses_a_dictionary_with_duplicates(tree, tmp_path):
    dict_file = tmp_path / "dups.txt"
    dict_file.write_text("a\nb\n〓\nc\n〓\n", "utf-8")
    result = run_cli("validate", tree, "--for", "mmocr", "--json", "-q", "--charset", dict_file, expect=1)
    assert "Has duplicated characters' ('〓')" in json.loads(result.stdout)["fatal"]


def test_json_counts_reasons_uncovered_and_fixes(tree):
    result = run_cli("validate", tree, "--for", "parseq", "--json", "-q",
                     "--charset", DICTS / "ksx" / "2350.txt")
    report = json.loads(result.stdout)
    total = len(records(tree))
    assert report["kept"] + report["dropped"] == report["total"] == total
    assert report["reasons"]["emptied_by_normalize_unicode"] >= 5  # every Hangul/kana/kanji label
    assert any("normalize_unicode: false" in fix for fix in report["fixes"])
    relaxed = json.loads(run_cli("validate", tree, "--for", "parseq", "--json", "-q", "--no-normalize-unicode",
                                 "--charset", DICTS / "ksx" / "2350.txt").stdout)
    assert relaxed["uncovered"]["タ"]["examples"][0].startswith("train/shard-00000:label-")
    assert "서울대역" not in json.dumps(relaxed["examples"].get("unsupported_removed", []), ensure_ascii=False)


def test_text_report_names_the_fix_in_trainer_terms(tree):
    out = run_cli("validate", tree, "--for", "clovaai", "-q").stdout
    assert "--batch_max_length 29" in out and "--character '" in out
    out = run_cli("validate", tree, "--for", "paddleocr", "-q", "--charset",
                  DICTS / "paddleocr-2.7.3" / "korean_dict.txt").stdout
    assert "Global.max_text_length" in out and "append to character_dict_path" in out


def test_strict_exit_codes(tree, tmp_path):
    run_cli("validate", tree, "--for", "paddleocr", "-q", "--strict", expect=1)
    clean = str(tmp_path / "clean")
    with ShardWriter(clean + "/shard-00000") as w:
        for label in ("abc", "x1"):
            w.add(label, png(30, 10))
    run_cli("validate", clean, "--for", "clovaai", "-q", "--strict", expect=0)
    run_cli("validate", clean, "--for", "parseq", "-q", "--strict", "--charset", "abcx1", expect=0)
    run_cli("validate", clean, "--for", "parseq", "-q", "--strict", "--sensitive", expect=2)
