"""Checkpoint -> ONNX, with the charset and preprocessing in metadata_props, verified
against PyTorch with onnxruntime on real validation images before it is kept.

Uses the TorchScript exporter (``dynamo=False``): the CRNN has no data-dependent control
flow and only fixed-shape pooling, so tracing gives a graph whose batch and width stay
dynamic (output time steps = width // 4).
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator

import numpy as np
import onnx
import torch

from dataconv import __version__
from dataconv.errors import DataconvError
from dataconv.outputs.atomic import atomic_file
from dataconv.export.predict import INPUT, MAX_STATIC_BATCH, OUTPUT, OnnxPredictor, onnx_sha256
from dataconv.train import digest
from dataconv.train.lmdb_dataset import LmdbDataset, find_splits
from dataconv.train.model import WIDTH_STRIDE, Recognizer, load_recognizer
from dataconv.train.settings import MAX_WIDTH, MIN_WIDTH

MIN_OPSET = 17
TOLERANCE = 1e-4
BATCH = 64  # images compared at a time


@dataclass(frozen=True)
class StaticShape:
    """A fixed input shape (``export --static BxCxHxW``) for runtimes that need one
    (TensorRT engines without profiles, Ascend ATC, ...)."""

    batch: int
    channels: int
    height: int
    width: int

    def __str__(self) -> str:
        return f"{self.batch}x{self.channels}x{self.height}x{self.width}"

    def check(self, model: Recognizer, where: str) -> None:
        """Channels and height are the network's; the batch and width must be in range."""
        p = model.preprocess
        if (self.channels, self.height) != (p.channels, p.height):
            raise DataconvError(f"--static {self}: {where} takes {p.channels} channel(s) of height "
                                f"{p.height}; use {self.batch}x{p.channels}x{p.height}x{self.width}")
        if not 1 <= self.batch <= MAX_STATIC_BATCH:
            raise DataconvError(f"--static {self}: batch must be from 1 to {MAX_STATIC_BATCH}")
        if not MIN_WIDTH <= self.width <= MAX_WIDTH:
            raise DataconvError(f"--static {self}: width must be from {MIN_WIDTH} to {MAX_WIDTH}")


def metadata(model: Recognizer, static: StaticShape | None = None) -> dict[str, str]:
    shape = "width // " if static is None else f"{static.width} // "
    meta = {
        "charset": model.codec.charset,
        "preprocess": json.dumps(model.preprocess.to_dict(), sort_keys=True),
        "blank_index": "0",
        "output": f"{OUTPUT}: (batch, {shape}{WIDTH_STRIDE}, 1 + len(charset)) CTC log-probabilities",
        "decoding": "greedy CTC: argmax, collapse repeats, drop blank; class i is charset[i - 1]",
        "dataconv_version": __version__,
    }
    if static is not None:
        meta["static_shape"] = str(static)
    return meta


def export_onnx(model: Recognizer, path: str, opset: int = MIN_OPSET, static: StaticShape | None = None) -> None:
    """Trace the network to ``path``: batch and width dynamic, or the ``static`` shape.
    With a static shape the model's preprocessing must already pad to its width."""
    p = model.preprocess
    if static is None:
        dummy = torch.zeros(2, p.channels, p.height, p.width)
        axes = {INPUT: {0: "batch", 3: "width"}, OUTPUT: {0: "batch", 1: "time"}}
    else:
        dummy, axes = torch.zeros(static.batch, static.channels, static.height, static.width), None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(model.net.eval(), (dummy,), path, dynamo=False, opset_version=opset,
                          input_names=[INPUT], output_names=[OUTPUT], dynamic_axes=axes)
    graph = onnx.load(path)
    for key, value in metadata(model, static).items():
        graph.metadata_props.add(key=key, value=value)
    graph.metadata_props.add(key=digest.KEY, value=onnx_sha256(graph))
    onnx.checker.check_model(graph, full_check=True)
    onnx.save(graph, path)


def validation_images(data: str, limit: int, model: Recognizer) -> Iterator[np.ndarray]:
    """Batches of up to ``limit`` preprocessed images of the val split (else test, else
    train) of the LMDB tree the user named with ``--data``. The tree is checked at once."""
    splits = find_splits(data)
    paths = splits.get("val") or splits.get("test") or splits.get("train")
    if not paths:
        raise DataconvError(f"{data}: no LMDB split to take verification images from")
    dataset = LmdbDataset(paths, model.preprocess)
    total = min(limit, len(dataset))

    def batches() -> Iterator[np.ndarray]:
        for start in range(0, total, BATCH):
            yield np.stack([dataset[i][0] for i in range(start, min(start + BATCH, total))])
    return batches()


def generated_images(limit: int, model: Recognizer, seed: int = 0) -> Iterator[np.ndarray]:
    """Batches of ``limit`` model inputs made here, for a run without ``--data``: dark
    strokes of random thickness on a light background, in the value range of real inputs.
    The checkpoint's own dataset path is never used: a checkpoint is a file anyone can hand
    over, and the path in it may name any folder (``/`` would be walked whole)."""
    p = model.preprocess
    rng = np.random.default_rng(seed)
    for start in range(0, limit, BATCH):
        images = np.full((min(BATCH, limit - start), p.channels, p.height, p.width), 0.8, dtype=np.float32)
        for image in images:
            for _ in range(int(rng.integers(2, 12))):
                x, w = int(rng.integers(0, p.width)), int(rng.integers(1, 6))
                y, h = int(rng.integers(0, p.height // 2)), int(rng.integers(p.height // 4, p.height))
                image[:, y:y + h, x:x + w] = -0.8
        yield (images + rng.normal(0, 0.05, images.shape)).clip(-1, 1).astype(np.float32)


@dataclass
class Parity:
    """How onnxruntime's outputs compare with PyTorch's on the same inputs."""

    images: int = 0
    max_abs_diff: float = 0.0
    mismatches: list[tuple[str, str]] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= TOLERANCE and not self.mismatches


def compare(model: Recognizer, onnx_path: str, batches: Iterable[np.ndarray]) -> Parity:
    """Run both on every batch at the model's width and, to exercise the dynamic width
    axis (when there is one), on a few images of the first batch padded wider. One batch
    is in memory at a time."""
    session = OnnxPredictor(onnx_path)
    parity = Parity()
    for n, images in enumerate(batches):
        parity.images += len(images)
        _compare_batch(model, session, images, parity)
        if n == 0 and session.static_batch is None:
            _compare_batch(model, session, np.pad(images[:4], ((0, 0), (0, 0), (0, 0), (0, 8 * WIDTH_STRIDE))),
                           parity)
    return parity


def _compare_batch(model: Recognizer, session: OnnxPredictor, batch: np.ndarray, parity: Parity) -> None:
    with torch.inference_mode():
        expected = model(torch.from_numpy(batch)).numpy()
    got = session.scores(batch)
    if got.shape != expected.shape:
        raise DataconvError(f"{session.path}: output shape {got.shape} != PyTorch {expected.shape}")
    if batch.shape[-1] not in parity.widths:
        parity.widths.append(batch.shape[-1])
    parity.max_abs_diff = max(parity.max_abs_diff, float(np.abs(got - expected).max()))
    parity.mismatches += [(a, b) for a, b in zip(model.codec.decode(expected), session.codec.decode(got))
                          if a != b]


def export_verified(checkpoint: str, out: str, data: str | None = None, opset: int = MIN_OPSET,
                    samples: int = 64, static: StaticShape | None = None) -> Parity:
    """Export ``checkpoint`` to ``out``; raise DataconvError (and leave no file) unless
    onnxruntime reproduces PyTorch on real images from the LMDB tree ``data`` or, without
    it, on generated ones. With ``static`` the images are padded to its width, as the
    exported preprocessing metadata then says."""
    if opset < MIN_OPSET:
        raise DataconvError(f"opset {opset}: need {MIN_OPSET} or newer")
    model = load_recognizer(checkpoint)
    if static is not None:
        static.check(model, checkpoint)
        model.preprocess = replace(model.preprocess, width=static.width)
    images = validation_images(data, samples, model) if data else generated_images(samples, model)
    with atomic_file(out) as tmp:
        export_onnx(model, tmp, opset, static)
        parity = compare(model, tmp, images)
        if not parity.ok:
            raise DataconvError(
                f"{out}: onnxruntime differs from PyTorch (max |diff| {parity.max_abs_diff:.2e}, "
                f"tolerance {TOLERANCE:.0e}; {len(parity.mismatches)} decoded string(s) differ)")
    return parity
