"""End to end on CPU: rendered digits -> gt.txt -> LMDB (real CLI) -> train -> ONNX export
-> onnxruntime parity -> predict. Real images, real LMDBs, no mocks.

Sized to finish in well under 4 minutes on 2 cores: 3,000 32x128 grayscale images, the
tiny CRNN, and a run that stops once val accuracy reaches 98% (3 epochs when unloaded).
"""
from __future__ import annotations

import csv
import glob
import io
import os
import pickle
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw

torch = pytest.importorskip("torch")
pytest.importorskip("lightning")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from dataconv.errors import DataconvError  # noqa: E402
from dataconv.export.predict import load_predictor  # noqa: E402
from dataconv.train.datamodule import LmdbDataModule, find_splits  # noqa: E402
from dataconv.train.preprocess import Preprocess  # noqa: E402

from helpers import torch_threads, run_cli  # noqa: E402

TRAIN = ["--model-size", "tiny", "--batch-size", "32", "--lr", "3e-3", "--workers", "0"]


def build_dataset(root: str, n: int, *extra: str) -> str:
    src, out = os.path.join(root, "src"), os.path.join(root, "out")
    run_cli("fixture", "rendered-digits", "-o", src, "-n", n)
    run_cli("gt-txt", "-i", src, "--gt", os.path.join(src, "gt.txt"), "-o", out, "--workers", "1", "-q", *extra)
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    with torch_threads():
        root = str(tmp_path_factory.mktemp("digits"))
        out = build_dataset(root, 3000)
        run = os.path.join(root, "run")
        result = run_cli("train", out, "--out", run, "--max-epochs", "8", "--stop-at-acc", "0.98", *TRAIN)
        samples = pd.read_parquet(os.path.join(out, "samples.parquet"))
        val = samples[samples.split == "val"].head(24)
        yield SimpleNamespace(
            root=root, out=out, run=run, output=result.output,
            best=os.path.join(run, "checkpoints", "best.ckpt"),
            val_paths=[os.path.join(root, "src", p) for p in val.source_id],
            val_labels=list(val.label))


def best_val_acc(run: str) -> float:
    (metrics,) = glob.glob(os.path.join(run, "logs", "*", "metrics.csv"))
    with open(metrics, newline="") as f:
        return max(float(row["val/acc"]) for row in csv.DictReader(f) if row.get("val/acc"))


def test_training_reaches_90_percent_and_checkpoint_carries_settings(trained):
    acc = best_val_acc(trained.run)
    assert acc >= 0.9, trained.output
    assert f"best val/acc {acc:.4f}" in trained.output
    assert os.path.isfile(os.path.join(trained.run, "checkpoints", "last.ckpt"))
    hp = torch.load(trained.best, map_location="cpu", weights_only=True)["hyper_parameters"]
    assert hp["charset"] == "0123456789"
    assert (hp["img_height"], hp["img_width"], hp["channels"], hp["keep_ratio"]) == (32, 128, 1, True)
    assert hp["data"] == os.path.abspath(trained.out)


def test_export_is_verified_and_onnx_reproduces_pytorch(trained):
    model_path = os.path.join(trained.root, "digits.onnx")
    result = run_cli("export", trained.best, "-o", model_path)
    assert "every decoded string identical" in result.output
    graph = onnx.load(model_path)
    onnx.checker.check_model(graph)
    assert graph.opset_import[0].version >= 17
    meta = {p.key: p.value for p in graph.metadata_props}
    assert meta["charset"] == "0123456789" and '"height": 32' in meta["preprocess"]
    dims = [d.dim_param or d.dim_value for d in graph.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 1, 32, "width"]

    onnx_model, checkpoint = load_predictor(model_path), load_predictor(trained.best)
    batch = checkpoint.preprocess.batch(
        [checkpoint.preprocess.load(open(p, "rb").read(), p) for p in trained.val_paths])
    for width in (128, 192):  # the trained width and a wider one (dynamic axis)
        padded = np.pad(batch, ((0, 0), (0, 0), (0, 0), (0, width - batch.shape[-1])))
        expected, got = checkpoint.scores(padded), onnx_model.scores(padded)
        assert got.shape == expected.shape == (len(batch), width // 4, 11)
        assert np.abs(got - expected).max() <= 1e-4
        assert onnx_model.codec.decode(got) == checkpoint.codec.decode(expected)


def test_predict_prints_each_images_text(trained):
    model_path = os.path.join(trained.root, "predict.onnx")
    run_cli("export", trained.best, "-o", model_path, "--samples", "8")
    outputs = {}
    for model in (model_path, trained.best):
        result = run_cli("predict", model, *trained.val_paths)
        lines = result.output.splitlines()
        assert [line.split("\t")[0] for line in lines] == trained.val_paths
        outputs[model] = [line.split("\t")[1] for line in lines]
    assert outputs[model_path] == outputs[trained.best]
    code = ("import sys; from dataconv.export.predict import load_predictor, predict_files; "
            f"print(predict_files(load_predictor({model_path!r}), {trained.val_paths[:2]!r})); "
            "assert 'torch' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and str(outputs[model_path][:2]) in done.stdout, done.stderr  # ONNX needs no torch
    right = sum(p == t for p, t in zip(outputs[model_path], trained.val_labels))
    assert right >= 0.9 * len(trained.val_labels), list(zip(outputs[model_path], trained.val_labels))


def lmdb_files_held(root: str) -> set[str]:
    """Files under ``root`` this process holds a descriptor on or maps (Linux /proc)."""
    held = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(root):
            held.add(target)
    with open("/proc/self/maps") as maps:
        held.update(line.split()[-1] for line in maps if root in line)
    return held


def test_datamodule_pickles_and_opens_lmdbs_lazily_in_workers(trained):
    dm = LmdbDataModule(trained.out, batch_size=8, workers=1)
    assert dm.charset == "0123456789" and set(dm.splits) == {"train", "val", "test"}
    dm.dataset("val")[0]  # the parent reads too: its handle must not leak into the worker
    root = os.path.realpath(trained.out)
    assert lmdb_files_held(root)
    child = os.fork()
    if child == 0:  # the fork hook closed the parent's handles first: nothing inherited
        os._exit(min(len(lmdb_files_held(root)), 100))
    assert os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) == 0
    clone = pickle.loads(pickle.dumps(dm))
    batch = next(iter(clone.val_dataloader()))  # a forked worker opens its own handle
    assert batch["images"].shape == (8, 1, 32, 128) and batch["images"].dtype == torch.float32
    assert batch["target_lengths"].tolist() == [len(label) for label in batch["labels"]]
    assert batch["labels"][0] == dm.dataset("val")[0][1]
    rgb = LmdbDataModule(trained.out, batch_size=2, img_height=48, img_width=96, channels=3,
                         keep_ratio=False, augment=True)
    assert next(iter(rgb.train_dataloader()))["images"].shape == (2, 3, 48, 96)


def test_reading_samples_imports_neither_torch_nor_lightning(trained):
    code = ("import sys; from dataconv.train.lmdb_dataset import LmdbDataset; "
            "from dataconv.train.preprocess import Preprocess; "
            f"image, label = LmdbDataset({find_splits(trained.out)['val']!r}, Preprocess())[0]; "
            "assert image.shape == (1, 32, 128) and label.isdigit(), label; "
            "assert not {'torch', 'lightning'} & set(sys.modules), 'torch or lightning imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def strokes_jpeg(width: int, height: int) -> bytes:
    """Coloured strokes over the whole of a paper-coloured JPEG: a changed resized width, or
    a decode much off the full one, shows as large differences."""
    rng = np.random.default_rng(width * height)
    image = Image.new("RGB", (width, height), (230, 220, 190))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y, dx, dy = (int(v) for v in rng.integers([0, 0, -height, -height], [width, height, height, height]))
        draw.line([(x, y), (x + dx, y + dy)], fill=tuple(int(c) for c in rng.integers(0, 160, 3)),
                  width=max(1, height // 16))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.mark.parametrize("channels, keep_ratio", [(1, True), (1, False), (3, True), (3, False)])
def test_jpeg_draft_decoding_stays_close_to_a_full_decode(channels, keep_ratio):
    p = Preprocess(32, 128, channels, keep_ratio)
    # (149, 128) ... (138, 131): decoding at 1/2 would change the keep-ratio width by a pixel
    for size in [(100, 40), (300, 60), (720, 200), (1500, 260), (400, 520), (149, 128), (136, 129),
                 (221, 130), (138, 131)]:
        data = strokes_jpeg(*size)
        full = p(Image.open(io.BytesIO(data)).convert(p.mode))  # what the model got before drafts
        got = p(p.load(data))
        assert got.shape == full.shape == (channels, 32, 128) and got.dtype == np.float32
        assert -1 <= got.min() and got.max() <= 1
        diff = np.abs(got - full)
        assert diff.max() <= 0.1 and diff.mean() <= 0.01, (size, diff.max(), diff.mean())
    assert p.load(strokes_jpeg(720, 200)).size == (360, 100)  # at 1/2: still twice 32 x 128
    assert p.load(strokes_jpeg(149, 128)).size == (149, 128)
    with pytest.raises(DataconvError, match="cut.jpg: undecodable image"):
        p.load(strokes_jpeg(720, 200)[:3000], "cut.jpg")


def test_bad_input_is_one_line_exit_1(tmp_path):
    def fails(*args: str, says: str) -> None:
        result = run_cli(*args, expect=1)
        assert says in result.output and len(result.output.strip().splitlines()) == 1, result.output
        assert "Traceback" not in result.output

    empty = tmp_path / "empty"
    empty.mkdir()
    run = str(tmp_path / "run")
    fails("train", str(empty), "--out", run, says="no LMDB dataset")

    no_val = build_dataset(str(tmp_path / "noval"), 20, "--split", "none")
    fails("train", no_val, "--out", run, says="no val samples")

    someone = build_dataset(str(tmp_path / "someone"), 40, "--split", "0.5,0.5,0")
    os.remove(os.path.join(someone, "manifest.json"))  # anyone's tree: no dataconv manifest
    fails("train", someone, "--out", run, says="pass --charset")
    assert LmdbDataModule(someone, charset="0123456789").charset == "0123456789"

    not_a_checkpoint = tmp_path / "x.ckpt"
    not_a_checkpoint.write_bytes(b"not a checkpoint")
    fails("export", str(not_a_checkpoint), "-o", str(tmp_path / "x.onnx"), says="x.ckpt")
    assert not os.path.exists(tmp_path / "x.onnx")
    fails("predict", str(not_a_checkpoint), str(not_a_checkpoint), says="x.ckpt")
    not_onnx = tmp_path / "x.onnx"
    not_onnx.write_bytes(b"not a model")
    fails("predict", str(not_onnx), str(not_a_checkpoint), says="x.onnx")
