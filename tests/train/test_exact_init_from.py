"""``train --init-from``'s output layer copied by character, and ``charset --base``'s order,
with no training: a checkpoint saved from a fresh model, then a model whose charset moves
every character to another position, drops one and adds two."""
from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("lightning")

from helpers import run_cli, save_checkpoint  # noqa: E402
from hostile_util import png, write_files  # noqa: E402
from dataconv.train.model import HEAD, HEAD_BIAS, Recognizer, init_from  # noqa: E402

OLD, NEW = "abcde", "xeca?b"  # every kept character at another row; 'd' dropped; 'x', '?' new


def checkpoint(tmp_path) -> tuple[str, dict]:
    torch.manual_seed(1)
    model = Recognizer(charset=OLD, img_height=32, img_width=64, size="tiny")
    path = str(tmp_path / "old.ckpt")
    return path, save_checkpoint(model, path)["state_dict"]


def test_output_rows_follow_their_characters(tmp_path):
    path, old = checkpoint(tmp_path)
    torch.manual_seed(2)
    model = Recognizer(charset=NEW, img_height=32, img_width=64, size="tiny")
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    carried = init_from(model, path)
    new = model.state_dict()
    assert (carried.kept, carried.added) == ("eca" "b", "x?")
    for row, ch in enumerate(NEW, start=1):  # row 0 is the CTC blank
        source = old if ch in OLD else fresh
        want = OLD.index(ch) + 1 if ch in OLD else row
        assert torch.equal(new[HEAD][row], source[HEAD][want]), ch
        assert torch.equal(new[HEAD_BIAS][row], source[HEAD_BIAS][want]), ch
    assert torch.equal(new[HEAD][0], old[HEAD][0]) and torch.equal(new[HEAD_BIAS][0], old[HEAD_BIAS][0])
    body = [k for k in new if k not in (HEAD, HEAD_BIAS)]
    assert body and all(torch.equal(new[k], old[k]) for k in body)


def test_charset_base_keeps_its_order_and_appends_the_new_characters(tmp_path):
    """Base 'cab' + a dataset using a, b, z, y, y, y, ' ' (and 'd' in the base twice): the base's
    characters in its order, each once; then the new ones by code point, or by frequency."""
    labels = ["zy", "yy", "a b"]
    src = write_files(str(tmp_path / "src"), {"gt.txt": "".join(f"{i}.png\t{t}\n" for i, t in enumerate(labels)).encode(),
                                              **{f"{i}.png": png(i) for i in range(len(labels))}})
    out = str(tmp_path / "out")
    run_cli("gt-txt", "-i", src, "--gt", os.path.join(src, "gt.txt"), "-o", out, "--split", "none", "-q")
    base = tmp_path / "base.txt"
    base.write_text("c\na\nd\nb\nd\n", "utf-8")
    for order, tail in (("codepoint", [" ", "y", "z"]), ("frequency", ["y", " ", "z"])):
        charset = tmp_path / f"{order}.txt"
        run_cli("charset", out, "-o", charset, "--style", "paddle", "--base", base, "--order", order)
        assert charset.read_text("utf-8").split("\n")[:-1] == ["c", "a", "d", "b", *tail], order
