"""Text of images from an exported ``.onnx`` model or a training ``.ckpt``.

Both carry their charset and preprocessing (ONNX metadata_props / checkpoint
hyperparameters), so a prediction needs only the model file. The ONNX path needs
onnxruntime and numpy, not torch.
"""
from __future__ import annotations

import json
import os
from typing import Protocol

import numpy as np
from PIL import Image

from dataconv.errors import DataconvError
from dataconv.train.preprocess import Preprocess
from dataconv.train.text import CTCCodec

INPUT, OUTPUT = "image", "log_probs"


class Predictor(Protocol):
    preprocess: Preprocess
    codec: CTCCodec

    def scores(self, batch: np.ndarray) -> np.ndarray:
        """(batch, time, classes) log-probabilities of a preprocessed batch."""


class OnnxPredictor:
    def __init__(self, path: str) -> None:
        import onnxruntime as ort

        try:
            self.session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own non-exported exception types
            raise DataconvError(f"{path}: not a loadable ONNX model ({str(e).splitlines()[0]})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if "charset" not in meta or "preprocess" not in meta:
            raise DataconvError(f"{path}: no charset/preprocess metadata (not exported by dataconv export)")
        self.codec = CTCCodec(meta["charset"])
        self.preprocess = Preprocess(**json.loads(meta["preprocess"]))

    def scores(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run([OUTPUT], {INPUT: batch.astype(np.float32)})[0]


class CheckpointPredictor:
    def __init__(self, path: str) -> None:
        from dataconv.train.model import load_recognizer

        self.model = load_recognizer(path)
        self.codec, self.preprocess = self.model.codec, self.model.preprocess

    def scores(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.model(torch.from_numpy(batch)).numpy()


def load_predictor(path: str) -> Predictor:
    ext = os.path.splitext(path)[1].lower()
    if ext == ".onnx":
        return OnnxPredictor(path)
    if ext == ".ckpt":
        return CheckpointPredictor(path)
    raise DataconvError(f"{path}: expected a .onnx or .ckpt model")


def predict_images(predictor: Predictor, images: list[Image.Image], batch_size: int = 64) -> list[str]:
    texts: list[str] = []
    for start in range(0, len(images), batch_size):
        batch = predictor.preprocess.batch(images[start:start + batch_size])
        texts += predictor.codec.decode(predictor.scores(batch))
    return texts


def predict_files(predictor: Predictor, paths: list[str]) -> list[str]:
    images = []
    for path in paths:
        with open(path, "rb") as f:
            images.append(predictor.preprocess.load(f.read(), path))
    return predict_images(predictor, images)
