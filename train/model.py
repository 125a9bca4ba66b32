"""CRNN (conv + BiLSTM) text recognizer trained with CTC, as a LightningModule.

The network is export-friendly by construction: fixed-shape max pooling only (no adaptive
pooling), so the output length is ``width // 4`` for any input width and the ONNX graph
keeps batch and width dynamic. Checkpoints carry the charset and the preprocessing
settings (``save_hyperparameters``), so export and prediction need nothing retyped.
"""
from __future__ import annotations

import math
import os
import pickle
import re
from dataclasses import dataclass
from typing import Any, Iterator

import lightning.pytorch as pl
import torch
from torch import nn

from dataconv.io import safeopen
from dataconv.errors import DataconvError
from dataconv.train import digest
from dataconv.train.preprocess import Preprocess
from dataconv.train.settings import HEIGHT_STRIDE, SIZES, check_hparams
from dataconv.train.text import BLANK, CTCCodec, TextScore

# Height and width strides of the four stages: height / 16, width / 4 (HEIGHT_STRIDE and
# the model SIZES live in train/settings.py, with the other limits of what a file may claim).
POOLS = ((2, 2), (2, 2), (2, 1), (2, 1))
WIDTH_STRIDE = 4


class CRNN(nn.Module):
    """(batch, channels, height, width) -> (batch, width // 4, classes) log-probabilities."""

    def __init__(self, num_classes: int, channels: int = 1, height: int = 32, size: str = "small") -> None:
        super().__init__()
        if height % HEIGHT_STRIDE:
            raise ValueError(f"image height must be a multiple of {HEIGHT_STRIDE}, not {height}")
        widths, hidden = SIZES[size]
        layers: list[nn.Module] = []
        cin = channels
        for cout, pool in zip(widths, POOLS):
            layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                       nn.ReLU(inplace=True), nn.MaxPool2d(pool, pool)]
            cin = cout
        self.cnn = nn.Sequential(*layers)
        features = cin * (height // HEIGHT_STRIDE)
        self.rnn = nn.LSTM(features, hidden, bidirectional=True, batch_first=True)
        # A linear shortcut around the LSTM: CTC starts learning from the conv features at once
        # instead of sitting on the all-blank plateau until the LSTM has warmed up.
        self.skip = nn.Linear(features, 2 * hidden)
        self.head = nn.Linear(2 * hidden, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.cnn(images)                           # (B, C, H/16, W/4)
        features = features.permute(0, 3, 1, 2).flatten(2)   # (B, W/4, C*H/16)
        context, _ = self.rnn(features)
        return self.head(context + self.skip(features)).log_softmax(-1)


class Recognizer(pl.LightningModule):
    """CRNN + CTC loss + greedy decoding; logs val/loss, val/acc (word accuracy), val/cer."""

    def __init__(self, charset: str, img_height: int = 32, img_width: int = 128, channels: int = 1,
                 keep_ratio: bool = True, size: str = "small", lr: float = 1e-3,
                 data: str | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.codec = CTCCodec(charset)
        self.preprocess = Preprocess(img_height, img_width, channels, keep_ratio)
        self.net = CRNN(self.codec.num_classes, channels, img_height, size)
        self.ctc = nn.CTCLoss(blank=BLANK, zero_infinity=True)
        self.score = TextScore()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)

    def decode(self, log_probs: torch.Tensor) -> list[str]:
        return self.codec.decode(log_probs.detach().cpu().numpy())

    def _loss(self, batch: dict[str, Any], log_probs: torch.Tensor) -> torch.Tensor:
        batch_size, steps = log_probs.shape[:2]
        input_lengths = torch.full((batch_size,), steps, dtype=torch.long)
        return self.ctc(log_probs.transpose(0, 1), batch["targets"], input_lengths, batch["target_lengths"])

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch, self(batch["images"]))
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["labels"]))
        return loss

    def on_validation_epoch_start(self) -> None:
        self.score = TextScore()

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        log_probs = self(batch["images"])
        self.log("val/loss", self._loss(batch, log_probs), batch_size=len(batch["labels"]))
        self.score.update(self.decode(log_probs), batch["labels"])

    def on_validation_epoch_end(self) -> None:
        self.log("val/acc", self.score.accuracy, prog_bar=True)
        self.log("val/cer", self.score.cer, prog_bar=True)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[digest.KEY] = checkpoint_sha256(checkpoint)

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=1e-4)
        total: list[int] = []

        def factor(step: int) -> float:
            # Linear warm-up, then cosine decay to 5% over the run. The total is read from the
            # trainer at first use, not stored, so --resume with a larger --max-epochs works.
            if not total:
                total.append(max(1, int(self.trainer.estimated_stepping_batches)))
            warm = max(1, min(200, total[0] // 10))
            if step < warm:
                return (step + 1) / warm
            progress = min(1.0, (step - warm) / max(1, total[0] - warm))
            return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


_LOAD_ERRORS = (pickle.UnpicklingError, EOFError, AttributeError, KeyError, RuntimeError,
                TypeError, ValueError, IndexError, UnicodeDecodeError)
HEAD = "net.head.weight"  # (classes, features): one row per charset character, plus blank
HEAD_BIAS = "net.head.bias"


def _not_a_checkpoint(path: str, e: Exception) -> DataconvError:
    return DataconvError(f"{path}: not a dataconv training checkpoint ({(str(e) or type(e).__name__).splitlines()[0]})")


def _refused_pickle(path: str, e: pickle.UnpicklingError) -> DataconvError:
    """torch's refusal says to load the file again without ``weights_only`` (which would
    run what it asks for): only what the file asked to run is kept."""
    wanted = re.search(r"GLOBAL (\S+)", str(e))
    what = f"it asks to run {wanted.group(1)}" if wanted else "it holds more than tensors and plain values"
    return DataconvError(f"{path}: not a dataconv training checkpoint ({what}; refused without running it)")


def read_checkpoint(path: str) -> dict[str, Any]:
    """The checkpoint's contents, loaded with ``weights_only=True``: unpickling an
    untrusted file with anything else can run code. Checked here: the shape (a mapping
    with ``hyper_parameters`` and ``state_dict``) and the digest written when it was saved
    (``dataconv.train.digest``); the values are checked by the callers through
    ``settings.check_hparams``."""
    fd = safeopen.open_user_path(path)  # a FIFO or device is an error, never waited on
    try:
        with os.fdopen(fd, "rb") as f:
            checkpoint = torch.load(f, map_location="cpu", weights_only=True)
    except _LOAD_ERRORS as e:
        if isinstance(e, pickle.UnpicklingError) and "Weights only load failed" in str(e):
            raise _refused_pickle(path, e) from None
        raise _not_a_checkpoint(path, e) from None
    if not isinstance(checkpoint, dict):
        raise DataconvError(f"{path}: not a dataconv training checkpoint (holds a {type(checkpoint).__name__})")
    for key in ("hyper_parameters", "state_dict"):
        if not isinstance(checkpoint.get(key), dict):
            raise DataconvError(f"{path}: not a dataconv training checkpoint (no {key!r} mapping)")
    digest.check(path, checkpoint.get(digest.KEY), checkpoint_sha256(checkpoint))
    return checkpoint


def checkpoint_sha256(checkpoint: dict[str, Any]) -> str:
    """The digest of a checkpoint: its hyperparameters and every tensor in it (weights,
    optimizer state), each named by where it sits."""
    return digest.sha256(checkpoint.get("hyper_parameters"), _tensors(checkpoint, ""))


def _tensors(value: Any, where: str) -> Iterator[tuple[str, str, tuple[int, ...], bytes]]:
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous().reshape(-1)
        yield where, str(tensor.dtype), tuple(value.shape), tensor.view(torch.uint8).numpy().tobytes()
    elif isinstance(value, dict):
        for key in sorted(value, key=str):
            if where or key not in (digest.KEY, "hyper_parameters"):
                yield from _tensors(value[key], f"{where}/{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _tensors(item, f"{where}/{i}")


def load_recognizer(path: str) -> Recognizer:
    """A checkpoint's model on the CPU, in eval mode.

    Built from the checked hyperparameters and filled with ``load_state_dict`` rather than
    Lightning's ``load_from_checkpoint``, which would pass every saved hyperparameter
    (whatever it holds) to the constructor. The weights of the output layer must have one
    row per class before the model is built, so its size comes from bytes in the file,
    not from a charset it claims."""
    checkpoint = read_checkpoint(path)
    hp = check_hparams(checkpoint["hyper_parameters"], path)
    state = checkpoint["state_dict"]
    head = state.get(HEAD)
    classes = len(hp["charset"]) + 1
    if not isinstance(head, torch.Tensor) or head.dim() != 2 or head.shape[0] != classes:
        shape = tuple(head.shape) if isinstance(head, torch.Tensor) else None
        raise DataconvError(f"{path}: {HEAD} has shape {shape}, the charset needs {classes} rows")
    model = Recognizer(**hp)
    try:
        model.load_state_dict(state)
    except _LOAD_ERRORS as e:
        raise _not_a_checkpoint(path, e) from None
    return model.eval()


@dataclass(frozen=True)
class Carried:
    """What ``init_from`` took from a pretrained checkpoint."""

    tensors: int  # weights copied whole (every layer but the output layer)
    kept: str  # characters whose output rows were copied, in the new charset's order
    added: str  # characters new to the pretrained model, their rows freshly initialised


def init_from(model: Recognizer, path: str) -> Carried:
    """Fill ``model`` from the pretrained checkpoint ``path`` for fine-tuning on a charset
    that may differ from the one it was trained on.

    Every weight but the output layer is copied as is, so the architecture (size, height,
    channels) must match; the output layer is rebuilt for ``model``'s charset with each row
    copied BY CHARACTER (blank to blank, 'a' to 'a' wherever 'a' now sits), and the rows of
    characters the pretrained model never saw keep their fresh initialisation. Copying by
    index, as the usual recipes do, gives every character after the first change another
    character's weights, or a size mismatch."""
    checkpoint = read_checkpoint(path)
    old_charset = check_hparams(checkpoint["hyper_parameters"], path)["charset"]
    state = checkpoint["state_dict"]
    own = model.state_dict()
    _check_head(path, state, len(old_charset) + 1)
    for name, tensor in own.items():
        source = state.get(name)
        if name in (HEAD, HEAD_BIAS):
            continue
        if not isinstance(source, torch.Tensor) or source.shape != tensor.shape:
            shape = tuple(source.shape) if isinstance(source, torch.Tensor) else None
            raise DataconvError(f"{path}: {name} has shape {shape}, this model needs {tuple(tensor.shape)} "
                                "(another --model-size, --img-height or --color?)")
    with torch.no_grad():
        for name, tensor in own.items():
            if name not in (HEAD, HEAD_BIAS):
                tensor.copy_(state[name])
        old_row = {c: i + 1 for i, c in enumerate(old_charset)}
        rows = [(BLANK, BLANK)] + [(i + 1, old_row[c]) for i, c in enumerate(model.codec.charset) if c in old_row]
        new, old = (torch.tensor(side) for side in zip(*rows))
        own[HEAD][new] = state[HEAD][old].to(own[HEAD].dtype)
        own[HEAD_BIAS][new] = state[HEAD_BIAS][old].to(own[HEAD_BIAS].dtype)
    model.load_state_dict(own)
    kept = "".join(c for c in model.codec.charset if c in old_row)
    return Carried(len(own) - 2, kept, "".join(c for c in model.codec.charset if c not in old_row))


def _check_head(path: str, state: dict[str, Any], classes: int) -> None:
    """The output layer has one row per class of the charset the checkpoint claims."""
    for name, dims in ((HEAD, 2), (HEAD_BIAS, 1)):
        tensor = state.get(name)
        if not isinstance(tensor, torch.Tensor) or tensor.dim() != dims or tensor.shape[0] != classes:
            shape = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else None
            raise DataconvError(f"{path}: {name} has shape {shape}, the charset needs {classes} rows")
