"""Text of images from an exported ``.onnx`` model or a training ``.ckpt``.

Both carry their charset and preprocessing (ONNX metadata_props / checkpoint
hyperparameters), so a prediction needs only the model file; those values are checked
(``dataconv.train.settings``) before anything is allocated from them. The ONNX path needs
onnxruntime and numpy, not torch.

Inputs are read one at a time, without blocking on a FIFO and with the pixel count checked
before decoding, and a bad one is reported and skipped: the others are still predicted.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Protocol

import numpy as np

from dataconv.io import imagefind
from dataconv.io import paths
from dataconv.io import safeopen
from dataconv.errors import DataconvError, SampleRejected
from dataconv.train import digest
from dataconv.train.preprocess import Preprocess
from dataconv.train.settings import check_charset, check_preprocess
from dataconv.train.text import CTCCodec

INPUT, OUTPUT = "image", "log_probs"
BATCH = 64
MAX_STATIC_BATCH = 1024  # the largest fixed batch size ``export --static`` writes


class Predictor(Protocol):
    preprocess: Preprocess
    codec: CTCCodec

    def scores(self, batch: np.ndarray) -> np.ndarray:
        """(batch, time, classes) log-probabilities of a preprocessed batch."""


class OnnxPredictor:
    def __init__(self, path: str) -> None:
        import onnxruntime as ort

        self.path = path
        with os.fdopen(safeopen.open_user_path(path), "rb") as f:  # never a FIFO or device
            model = f.read()
        proto = _parsed(model, path)
        _refuse_external_data(proto, path)
        digest.check(path, _metadata(proto).get(digest.KEY), onnx_sha256(proto))
        try:
            self.session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own non-exported exception types
            raise DataconvError(f"{path}: not a loadable ONNX model ({str(e).splitlines()[0]})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if "charset" not in meta or "preprocess" not in meta:
            raise DataconvError(f"{path}: no charset/preprocess metadata (not exported by dataconv export)")
        self.codec = CTCCodec(check_charset(meta["charset"], path))
        self.preprocess = Preprocess(**_preprocess_metadata(meta["preprocess"], path))
        self._check_signature(path)

    def _check_signature(self, path: str) -> None:
        """The graph must take (batch, channels, height, width) images named ``image`` and
        give one score per charset character plus blank, as the metadata says."""
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        p = self.preprocess
        if [i.name for i in inputs] != [INPUT] or len(inputs[0].shape) != 4 \
                or inputs[0].shape[1:3] != [p.channels, p.height]:
            shapes = [(i.name, i.shape) for i in inputs]
            raise DataconvError(f"{path}: inputs {shapes} do not match the metadata "
                                f"({INPUT!r}: [batch, {p.channels}, {p.height}, width])")
        batch, width = inputs[0].shape[0], inputs[0].shape[3]
        if isinstance(width, int) and width != p.width:
            raise DataconvError(f"{path}: fixed input width {width} differs from the metadata's {p.width}")
        if isinstance(batch, int) and not 1 <= batch <= MAX_STATIC_BATCH:
            raise DataconvError(f"{path}: fixed batch size {batch} is not from 1 to {MAX_STATIC_BATCH}")
        self.static_batch = batch if isinstance(batch, int) else None
        classes = self.codec.num_classes
        if OUTPUT not in [o.name for o in outputs] or \
                next(o.shape for o in outputs if o.name == OUTPUT)[-1:] != [classes]:
            shapes = [(o.name, o.shape) for o in outputs]
            raise DataconvError(f"{path}: outputs {shapes} do not match the metadata "
                                f"({OUTPUT!r}: [batch, time, {classes}])")

    def scores(self, batch: np.ndarray) -> np.ndarray:
        """Scores of any number of images; a model exported with a fixed batch size
        (``export --static``) is run on chunks of that size, the last one zero-padded."""
        if self.static_batch is None:
            return self._run(batch)
        size = self.static_batch
        chunks = []
        for start in range(0, len(batch), size):
            chunk = batch[start:start + size]
            padded = np.concatenate([chunk, np.zeros((size - len(chunk), *chunk.shape[1:]), chunk.dtype)])
            chunks.append(self._run(padded)[:len(chunk)])
        return np.concatenate(chunks) if chunks else self._run(batch)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        try:
            scores = self.session.run([OUTPUT], {INPUT: batch.astype(np.float32)})[0]
        except Exception as e:  # onnxruntime's own exception types
            raise DataconvError(f"{self.path}: onnxruntime failed ({str(e).splitlines()[0]})") from None
        if scores.ndim != 3 or scores.shape[0] != len(batch):
            raise DataconvError(f"{self.path}: output of shape {scores.shape} for a batch of {len(batch)}")
        return scores


def _parsed(model: bytes, path: str) -> Any:
    import onnx
    from google.protobuf.message import DecodeError

    try:
        return onnx.load_model_from_string(model)
    except (DecodeError, RecursionError, ValueError) as e:
        why = (str(e) or type(e).__name__).splitlines()[0]
        raise DataconvError(f"{path}: not a loadable ONNX model ({why})") from None


def _refuse_external_data(proto: Any, path: str) -> None:
    """ONNX tensors may keep their values in other files, named by a path inside the model;
    onnxruntime would open them (beside the model, or in the working folder for a model
    given as bytes). dataconv's exports hold every weight inside, so such a model is
    refused before onnxruntime sees it."""
    import onnx

    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in _all_tensors(proto)):
        raise DataconvError(f"{path}: keeps weights in external data files, which are never read; "
                            "dataconv export writes every weight inside the model")


def _metadata(proto: Any) -> dict[str, str]:
    return {p.key: p.value for p in proto.metadata_props}


def onnx_sha256(proto: Any) -> str:
    """The digest of an ONNX model (``dataconv.train.digest``): its charset and
    preprocessing metadata and every tensor of its graph, in graph order."""
    from onnx import numpy_helper

    meta = _metadata(proto)
    tensors = ((f"{i}:{t.name}", str(t.data_type), tuple(t.dims), numpy_helper.to_array(t).tobytes())
               for i, t in enumerate(_all_tensors(proto)))
    return digest.sha256({k: meta.get(k) for k in ("charset", "preprocess")}, tensors)


def _all_tensors(proto: Any) -> Iterator[Any]:
    nodes = [node for function in proto.functions for node in function.node]
    return _tensors(proto.graph, nodes)


def _tensors(graph: Any, extra_nodes: Iterable[Any] = ()) -> Iterator[Any]:
    """Every tensor of an ONNX graph: initializers, and constants in node attributes,
    subgraphs (``If``/``Loop`` bodies) included."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    for node in [*graph.node, *extra_nodes]:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            for sub in ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs):
                yield from _tensors(sub)


def _preprocess_metadata(text: str, path: str) -> dict:
    try:
        values = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise DataconvError(f"{path}: preprocess metadata is not JSON ({e})".splitlines()[0]) from None
    fields = ("height", "width", "channels", "keep_ratio")
    if not isinstance(values, dict) or sorted(values) != sorted(fields):
        raise DataconvError(f"{path}: preprocess metadata must hold exactly {', '.join(fields)}")
    return check_preprocess(path, *(values[k] for k in fields))


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


@dataclass(frozen=True)
class ImageInput:
    """One image to read: ``rel`` under ``root``, shown to the user as ``shown``."""

    shown: str
    root: str
    rel: str
    follow_symlinks: bool


@dataclass(frozen=True)
class Prediction:
    path: str
    text: str
    confidence: float


@dataclass(frozen=True)
class Failure:
    """An input that could not be predicted; ``why`` is one line naming the file."""

    path: str
    why: str


def expand_inputs(args: Iterable[str]) -> Iterator[ImageInput | Failure]:
    """The images the command-line arguments name, in order. A folder gives the images
    under it (by extension, sorted), never following a symlink out of it; a file named
    on the command line is read even through a symlink, since the user named it."""
    for arg in args:
        if os.path.isdir(arg):
            found = [rel for rel in imagefind.walk_files(arg) if imagefind.is_image(rel)]
            if not found:
                yield Failure(arg, f"{arg}: no images in this folder ({', '.join(imagefind.IMAGE_EXTS)})")
            for rel in found:
                yield ImageInput(os.path.join(arg, rel), arg, rel, follow_symlinks=False)
        else:
            root, name = os.path.split(arg)
            yield ImageInput(arg, root or ".", name, follow_symlinks=True)


def read_input(item: ImageInput) -> bytes:
    """The file's bytes; opened non-blocking and read only if it is a regular file
    (``paths.read_inside``), so a FIFO or device is reported instead of waited on."""
    try:
        return paths.read_inside(item.root, item.rel, follow_symlinks=item.follow_symlinks)
    except SampleRejected as e:
        raise DataconvError(f"{item.shown}: {_why(e, item.rel)}") from None


def _why(e: SampleRejected, rel: str) -> str:
    if e.reason == "missing_image":
        return "no such file"
    if e.reason == "not_a_file":  # "x.png is a FIFO": never opened for reading
        return f"{e.detail.removeprefix(f'{rel} is ')}, not a regular file"
    if e.reason == "path_outside_source":
        return "a symlink out of its folder"
    if e.reason == "bad_path":
        return "not a valid file name"
    return f"cannot read ({e.detail.rsplit(': ', 1)[-1]})"


def predict_inputs(predictor: Predictor, args: Iterable[str], max_pixels: int | None = None,
                   batch_size: int = BATCH) -> Iterator[Prediction | Failure]:
    """A Prediction or a Failure for every image the arguments name, in their order."""
    return predict_images(predictor, _read_all(expand_inputs(args)), max_pixels, batch_size)


def _read_all(items: Iterable[ImageInput | Failure]) -> Iterator[tuple[str, bytes] | Failure]:
    """Each input's (shown name, bytes), or a Failure when it cannot be read."""
    for item in items:
        if isinstance(item, Failure):
            yield item
            continue
        try:
            yield item.shown, read_input(item)
        except DataconvError as e:
            yield Failure(item.shown, str(e))


def predict_images(predictor: Predictor, images: Iterable[tuple[str, bytes] | Failure],
                   max_pixels: int | None = None, batch_size: int = BATCH) -> Iterator[Prediction | Failure]:
    """A Prediction or a Failure for every (name, encoded image) in order, whatever its
    origin (files, folders, an LMDB split). Images are preprocessed as soon as they are
    read, so memory holds one decoded image and a batch of small model inputs, whatever
    the number of images."""
    pending: list[tuple[str, np.ndarray]] = []
    for item in images:
        if isinstance(item, Failure):
            yield from _flush(predictor, pending)
            yield item
            continue
        shown, data = item
        try:
            image = predictor.preprocess.load(data, shown, max_pixels)
            pending.append((shown, predictor.preprocess(image)))
        except DataconvError as e:
            yield from _flush(predictor, pending)
            yield Failure(shown, str(e))
            continue
        if len(pending) >= batch_size:
            yield from _flush(predictor, pending)
    yield from _flush(predictor, pending)


def _flush(predictor: Predictor, pending: list[tuple[str, np.ndarray]]) -> Iterator[Prediction]:
    """Predict the pending inputs and empty the list."""
    if not pending:
        return
    batch = np.stack([array for _, array in pending])
    shown = [path for path, _ in pending]
    pending.clear()
    for path, (text, confidence) in zip(shown, predictor.codec.decode_scored(predictor.scores(batch))):
        yield Prediction(path, text, confidence)


def predict_files(predictor: Predictor, files: list[str]) -> list[str]:
    """The texts of ``files``; the first that cannot be read or decoded is an error."""
    texts = []
    for outcome in predict_inputs(predictor, files):
        if isinstance(outcome, Failure):
            raise DataconvError(outcome.why)
        texts.append(outcome.text)
    return texts


def listed_images(listing: str) -> list[str]:
    """The image paths a list file names, one per line (blank lines skipped); a relative
    path is taken from the list's folder, as gt.txt-style files are."""
    from dataconv.io import textfile

    folder = os.path.dirname(listing)
    return [os.path.join(folder, line) if not os.path.isabs(line) else line
            for _, line in textfile.read_lines(listing) if line.strip()]
