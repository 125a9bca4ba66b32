"""Issue 16 as a new user tries it, on CPU: rendered digits -> LMDB -> train -> export ->
eval through the ONNX model (equal to the accuracy of predict's own output), corrupted
test labels found among the suspected label errors, a static export equal to PyTorch,
and a digits model fine-tuned to digits + letters with charset --base and --init-from.

One small model (tiny CRNN, 32x96 grey, about 1,700 training images) is trained once
for the module; the fine-tuning runs are one epoch each.
"""
from __future__ import annotations

import os
import random
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("lightning")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from dataconv.export.evaluate import COLUMNS  # noqa: E402
from dataconv.export.predict import load_predictor  # noqa: E402
from dataconv.fixtures.rendered_digits import make_rendered_digits, render  # noqa: E402
from dataconv.train.model import HEAD, HEAD_BIAS, Recognizer, init_from, read_checkpoint  # noqa: E402

from helpers import load_json, torch_threads, run_cli  # noqa: E402
from hostile_util import assert_one_line_error  # noqa: E402

SHAPE = ["--img-width", "96", "--model-size", "tiny", "--batch-size", "32", "--lr", "3e-3", "--workers", "0"]
SPLIT = ["--split", "0.85,0.05,0.1", "--workers", "1", "-q"]


def convert(src: str, out: str, *more: str) -> str:
    run_cli("gt-txt", "-i", src, "--gt", os.path.join(src, "gt.txt"), "-o", out, *SPLIT, *more)
    return out


def write_gt(src: str, labels: dict[str, str]) -> None:
    with open(os.path.join(src, "gt.txt"), "w", encoding="utf-8") as f:
        f.writelines(f"{rel}\t{label}\n" for rel, label in labels.items())


def render_set(src: str, texts: list[str], seed: int) -> None:
    """Images of ``texts`` in the rendered-digits style (any characters), with gt.txt."""
    rng = random.Random(seed)
    os.makedirs(os.path.join(src, "images"))
    labels = {}
    for i, text in enumerate(texts, 1):
        rel = f"images/{i:06d}.png"
        render(text, rng).save(os.path.join(src, rel))
        labels[rel] = text
    write_gt(src, labels)


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    with torch_threads():
        root = str(tmp_path_factory.mktemp("loop"))
        src = os.path.join(root, "src")
        truth = make_rendered_digits(src, n=2000, max_len=6)["good"]
        out = convert(src, os.path.join(root, "out"))
        run = os.path.join(root, "run")
        run_cli("train", out, "--out", run, "--max-epochs", "5", "--stop-at-acc", "0.97", *SHAPE)
        ckpt = os.path.join(run, "checkpoints", "best.ckpt")
        model = os.path.join(root, "digits.onnx")
        run_cli("export", ckpt, "-o", model, "--samples", "16")
        yield SimpleNamespace(root=root, src=src, truth=truth, out=out, ckpt=ckpt, model=model)


def test_eval_accuracy_equals_the_accuracy_of_predicts_output(loop):
    listed = run_cli("predict", loop.model, "--lmdb", loop.out, "--split", "test").output.splitlines()
    predicted = dict(line.split("\t")[:2] for line in listed)
    samples = pd.read_parquet(os.path.join(loop.out, "samples.parquet"))
    test = samples[samples.split == "test"]
    labels = {f"{s}:{i}": label for s, i, label in zip(test["shard"], test["index"], test["label"])}
    assert set(predicted) == set(labels) and len(labels) > 150
    expected = sum(predicted[k] == labels[k] for k in labels) / len(labels)

    result = run_cli("eval", loop.out, "--model", loop.model, "-o", os.path.join(loop.root, "eval_model"))
    frame = pd.read_parquet(os.path.join(loop.root, "eval_model", "eval.parquet"))
    assert list(frame.columns) == COLUMNS
    assert len(frame) == len(labels) and frame["exact"].mean() == pytest.approx(expected)
    assert f"accuracy {expected:.4f}" in result.output
    assert expected >= 0.85, result.output
    row = frame.iloc[0]
    assert row["label"] == labels[row["key"]] and row["source_id"].startswith("images/")
    assert row["source"].startswith("gt.txt:") and 0 <= row["confidence"] <= 1

    # predict's output is itself a predictions file eval reads, by SHARD:INDEX key
    preds = os.path.join(loop.root, "preds.tsv")
    with open(preds, "w", encoding="utf-8") as f:
        f.write("\n".join(listed) + "\n")
    run_cli("eval", loop.out, "--predictions", preds, "-o", os.path.join(loop.root, "eval_preds"))
    again = pd.read_parquet(os.path.join(loop.root, "eval_preds", "eval.parquet"))
    pd.testing.assert_frame_equal(again, frame, check_exact=False, atol=1e-4)  # predict prints 4 decimals

    # the same predictions keyed by sample id and by source, without confidence
    by_id = os.path.join(loop.root, "by_id.tsv")
    keys = dict(zip(frame["key"], frame["source_id"]))
    sources = dict(zip(frame["key"], frame["source"]))
    with open(by_id, "w", encoding="utf-8") as f:
        for n, line in enumerate(listed):
            key, text = line.split("\t")[:2]
            f.write(f"{keys[key] if n % 2 else sources[key]}\t{text}\n")
    run_cli("eval", loop.out, "--predictions", by_id, "-o", os.path.join(loop.root, "eval_ids"))
    ids = pd.read_parquet(os.path.join(loop.root, "eval_ids", "eval.parquet"))
    assert ids["exact"].mean() == pytest.approx(expected) and ids["confidence"].isna().all()

    # as clovaai compares (lower-cased, its default 0-9a-z charset): digits score the same;
    # a one-character charset makes clovaai drop every label holding another digit
    run_cli("eval", loop.out, "--predictions", preds, "--as", "clovaai", "-o", os.path.join(loop.root, "eval_as"))
    as_clovaai = pd.read_parquet(os.path.join(loop.root, "eval_as", "eval.parquet"))
    assert as_clovaai["exact"].mean() == pytest.approx(expected)
    only = run_cli("eval", loop.out, "--predictions", preds, "--as", "clovaai", "--charset", "7",
                   "-o", os.path.join(loop.root, "eval_as7"), expect=None)
    kept = sum(set(label) == {"7"} for label in labels.values())
    if kept:
        assert f"left out: {len(labels) - kept} (dropped by clovaai)" in only.output
    else:
        assert_one_line_error(only, "no sample of the test split is left to score")


def planted_labels(loop: SimpleNamespace, seed: int) -> tuple[dict[str, str], pd.DataFrame]:
    """The true labels with 10 test labels replaced by other digit strings; those 10 rows
    of samples.parquet."""
    samples = pd.read_parquet(os.path.join(loop.out, "samples.parquet"))
    test = samples[samples.split == "test"].sample(10, random_state=seed)
    rng = random.Random(seed + 4)
    labels = dict(loop.truth)
    for rel, label in zip(test["source_id"], test["label"]):
        wrong = label
        while wrong == label:
            wrong = "".join(rng.choice("0123456789") for _ in range(rng.randint(2, 6)))
        labels[rel] = wrong
    return labels, test


def test_corrupted_test_labels_rank_among_the_suspected_label_errors(loop):
    labels, test = planted_labels(loop, 3)
    write_gt(loop.src, labels)
    try:
        bad = convert(loop.src, os.path.join(loop.root, "out_bad"))
    finally:
        write_gt(loop.src, loop.truth)
    corrupted = {f"{s}:{i}" for s, i in zip(test["shard"], test["index"])}
    eval_dir = os.path.join(loop.root, "eval_bad")
    result = run_cli("eval", bad, "--model", loop.model, "-o", eval_dir, "--top", "20")
    frame = pd.read_parquet(os.path.join(eval_dir, "eval.parquet"))
    assert set(frame.loc[frame["key"].isin(corrupted), "label"]) <= set(labels.values())
    wrong = frame[~frame["exact"]].sort_values(["confidence", "cer"], ascending=False, kind="stable")
    found = len(corrupted & set(wrong["key"].head(20)))
    assert found >= 8, (found, wrong.head(20))
    page = open(os.path.join(eval_dir, "eval.html"), encoding="utf-8").read()
    assert "Suspected label errors" in page and "Confusion pairs" in page and "Per label length" in page
    assert page.count('<img src="data:image/jpeg;base64,') == min(20, len(wrong))
    assert "most suspected label errors" in result.output


def test_review_accepts_the_planted_rows_and_the_rebuild_relabels_exactly_those(loop):
    """Issue 24's round trip: eval -> review in Chromium (accept the prediction of each
    planted row) -> the same conversion with --corrections -> eval again."""
    from review_util import Page, Review, chromium, file_text, wait_for

    labels, planted = planted_labels(loop, 11)
    ids = list(planted["source_id"])
    write_gt(loop.src, labels)
    try:
        bad = convert(loop.src, os.path.join(loop.root, "planted"))
        first = os.path.join(loop.root, "eval_planted")
        run_cli("eval", bad, "--model", loop.model, "-o", first)
        predicted = pd.read_parquet(os.path.join(first, "eval.parquet")).set_index("source_id")["prediction"]
        fixes = os.path.join(first, "corrections.tsv")
        driver = chromium()
        try:
            with Review(first, "--all") as review:
                page = Page(driver, review.url)
                expected = ""
                for sample_id in ids:
                    page.go_to(sample_id)
                    page.press("a")
                    expected += f"{sample_id}\trelabel\t{predicted[sample_id]}\n"
                    wait_for(lambda: file_text(fixes) == expected, f"{sample_id} accepted in the file")
                assert review.stop()[0] == 0
        finally:
            driver.quit()
        fixed = convert(loop.src, os.path.join(loop.root, "fixed"), "--corrections", fixes)
    finally:
        write_gt(loop.src, loop.truth)

    before = pd.read_parquet(os.path.join(bad, "samples.parquet")).set_index("source_id")
    after = pd.read_parquet(os.path.join(fixed, "samples.parquet")).set_index("source_id")
    assert list(after.index) == list(before.index) and (after["split"] == before["split"]).all()
    changed = after.index[after["label"] != before["label"]]
    assert sorted(changed) == sorted(ids)
    assert dict(after.loc[ids, "label"]) == {i: predicted[i] for i in ids}
    assert sum(predicted[i] == loop.truth[i] for i in ids) >= 8  # the model read the images right
    card = load_json(os.path.join(fixed, "manifest.json"))
    assert card["corrections"] == {"relabelled": 10, "dropped": 0, "kept": 0, "overridden": 0, "unknown": 0,
                                   "already_rejected": 0}

    second = os.path.join(loop.root, "eval_fixed")
    run_cli("eval", fixed, "--model", loop.model, "-o", second)
    again = pd.read_parquet(os.path.join(second, "eval.parquet")).set_index("source_id")
    assert again.loc[ids, "exact"].all() and list(again.loc[ids, "label"]) == [predicted[i] for i in ids]


def test_static_export_matches_pytorch(loop):
    static = os.path.join(loop.root, "static.onnx")
    result = run_cli("export", loop.ckpt, "-o", static, "--static", "2x1x32x100", "--data", loop.out)
    assert "static shape 2x1x32x100" in result.output
    graph = onnx.load(static)
    dims = [d.dim_param or d.dim_value for d in graph.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [2, 1, 32, 100]
    onnx_model, checkpoint = load_predictor(static), load_predictor(loop.ckpt)
    assert onnx_model.preprocess.width == 100
    paths = [os.path.join(loop.src, rel) for rel in list(loop.truth)[:5]]  # 5: the last chunk is padded
    batch = onnx_model.preprocess.batch([onnx_model.preprocess.load(open(p, "rb").read(), p) for p in paths])
    got, expected = onnx_model.scores(batch), checkpoint.scores(batch)
    assert got.shape == expected.shape == (5, 25, 11)
    assert np.abs(got - expected).max() <= 1e-4
    run_cli("predict", static, *paths)

    wrong_height = run_cli("export", loop.ckpt, "-o", os.path.join(loop.root, "x.onnx"), "--static", "1x1x48x100",
                           expect=None)
    assert_one_line_error(wrong_height, "--static 1x1x48x100", "use 1x1x32x100")
    assert not os.path.exists(os.path.join(loop.root, "x.onnx"))
    bad = run_cli("export", loop.ckpt, "-o", os.path.join(loop.root, "x.onnx"), "--static", "1x1x32", expect=2)
    assert "BATCHxCHANNELSxHEIGHTxWIDTH" in bad.output


def test_fine_tune_to_digits_and_letters_keeps_the_digit_rows(loop):
    rng = random.Random(5)
    alphabet = "0123456789abcdefghjkmnpqrstuvwxyz"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(700)]
    src = os.path.join(loop.root, "letters_src")
    render_set(src, texts, seed=11)
    letters = convert(src, os.path.join(loop.root, "letters"))

    base = os.path.join(loop.root, "digits_charset.txt")
    with open(base, "w", encoding="utf-8") as f:
        f.write("".join(ch + "\n" for ch in "9876543210"))  # a pretrained order that is not sorted
    charset = os.path.join(loop.root, "extended.txt")
    said = run_cli("charset", letters, "-o", charset, "--style", "paddle", "--base", base).output
    chars = open(charset, encoding="utf-8").read().split("\n")[:-1]
    assert chars[:10] == list("9876543210") and sorted(chars[10:]) == chars[10:]
    assert set(chars) == set(alphabet) and f"{len(alphabet) - 10} new character(s) appended" in said

    pretrained = read_checkpoint(loop.ckpt)
    hp = pretrained["hyper_parameters"]
    extended = Recognizer(charset="".join(chars), img_height=32, img_width=hp["img_width"], size="tiny")
    carried = init_from(extended, loop.ckpt)
    assert (len(carried.kept), len(carried.added)) == (10, len(alphabet) - 10)
    old, new = pretrained["state_dict"], extended.state_dict()
    for i, ch in enumerate(chars[:10]):
        j = hp["charset"].index(ch) + 1
        assert torch.equal(new[HEAD][i + 1], old[HEAD][j]) and torch.equal(new[HEAD_BIAS][i + 1], old[HEAD_BIAS][j])
    assert torch.equal(new[HEAD][0], old[HEAD][0])  # blank to blank
    assert torch.equal(new["net.cnn.0.weight"], old["net.cnn.0.weight"])

    accuracy = {}
    for name, extra in (("tuned", ["--init-from", loop.ckpt]), ("scratch", [])):
        run = os.path.join(loop.root, f"run_{name}")
        result = run_cli("train", letters, "--out", run, "--max-epochs", "1", "--charset", charset, *SHAPE, *extra)
        if name == "tuned":
            assert f"10 character(s) carried over, {len(alphabet) - 10} added" in result.output
        eval_dir = os.path.join(loop.root, f"eval_{name}")
        run_cli("eval", loop.out, "--model", os.path.join(run, "checkpoints", "last.ckpt"), "-o", eval_dir)
        accuracy[name] = pd.read_parquet(os.path.join(eval_dir, "eval.parquet"))["exact"].mean()
    assert accuracy["tuned"] >= accuracy["scratch"] + 0.5, accuracy

    both = run_cli("train", letters, "--out", os.path.join(loop.root, "r"), "--init-from", loop.ckpt,
                   "--resume", "last", expect=2)
    assert "--init-from" in both.output


def test_eval_refuses_what_it_cannot_score(loop):
    root = loop.root
    bad_key = os.path.join(root, "bad_key.tsv")
    with open(bad_key, "w", encoding="utf-8") as f:
        f.write("test/shard-00000:1\t123\t0.5\nnope.png\t1\n")
    assert_one_line_error(run_cli("eval", loop.out, "--predictions", bad_key, "-o", os.path.join(root, "e1"),
                                  expect=None), "bad_key.tsv:2", "'nope.png' names no sample")
    bad_conf = os.path.join(root, "bad_conf.tsv")
    with open(bad_conf, "w", encoding="utf-8") as f:
        f.write("test/shard-00000:1\t123\tnan\n")
    assert_one_line_error(run_cli("eval", loop.out, "--predictions", bad_conf, "-o", os.path.join(root, "e2"),
                                  expect=None), "bad_conf.tsv:1", "confidence")
    twice = os.path.join(root, "twice.tsv")
    with open(twice, "w", encoding="utf-8") as f:
        f.write("test/shard-00000:1\t1\ntest/shard-00000:1\t2\n")
    assert_one_line_error(run_cli("eval", loop.out, "--predictions", twice, "-o", os.path.join(root, "e3"),
                                  expect=None), "twice.tsv:2", "predicted twice (first on line 1)")
    for e in ("e1", "e2", "e3"):
        assert not os.path.exists(os.path.join(root, e))
    inside = run_cli("eval", loop.out, "--model", loop.model, "-o", os.path.join(loop.out, "ev"), expect=2)
    assert "lies inside the source" in inside.output
    neither = run_cli("eval", loop.out, "-o", os.path.join(root, "e4"), expect=2)
    assert "--model or --predictions" in neither.output
    val = run_cli("eval", loop.out, "--model", loop.model, "--split", "val", "-o", os.path.join(root, "e5"))
    samples = pd.read_parquet(os.path.join(loop.out, "samples.parquet"))
    assert f"eval val: {int((samples.split == 'val').sum())} samples" in val.output
