"""One training run: data module + recognizer + Lightning Trainer writing into RUN/.

RUN/checkpoints/best.ckpt (highest val/acc) and last.ckpt (for --resume), RUN/logs/ (CSV,
plus TensorBoard when it is installed).
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import warnings
from dataclasses import dataclass, replace
from typing import Any, Callable

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger

from dataconv.errors import DataconvError
from dataconv.train.datamodule import LmdbDataModule
from dataconv.train.model import Carried, Recognizer, init_from, read_checkpoint
from dataconv.train.settings import check_hparams

MONITOR = "val/acc"
# What Lightning reads back from a checkpoint to continue a run.
RESUME_KEYS = ("state_dict", "optimizer_states", "lr_schedulers", "loops", "epoch", "global_step")


@dataclass
class TrainSettings:
    data: str
    run: str
    max_epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    img_height: int = 32
    img_width: int = 128
    channels: int = 1
    keep_ratio: bool = True
    size: str = "small"
    charset: str | None = None
    charset_encoding: str = "utf-8"
    augment: bool = False
    workers: int = 0
    accelerator: str = "auto"
    devices: int | str | list[int] = "auto"
    resume: str | None = None
    init_from: str | None = None
    seed: int = 0
    stop_at_acc: float | None = None


@dataclass
class TrainResult:
    best_checkpoint: str
    best_accuracy: float
    epochs: int
    carried: Carried | None = None  # what --init-from took from the pretrained model


def _on_stderr(init: Callable[[TQDMProgressBar], Any]) -> Callable[[TQDMProgressBar], Any]:
    def wrapper(self: TQDMProgressBar) -> Any:
        with contextlib.redirect_stdout(sys.stderr):  # Lightning passes file=sys.stdout
            return init(self)
    return wrapper


class StderrProgressBar(TQDMProgressBar):
    """Lightning's progress bar on stderr, so stdout keeps only the summary (CONVENTIONS.md)."""

    init_sanity_tqdm = _on_stderr(TQDMProgressBar.init_sanity_tqdm)
    init_train_tqdm = _on_stderr(TQDMProgressBar.init_train_tqdm)
    init_validation_tqdm = _on_stderr(TQDMProgressBar.init_validation_tqdm)
    init_test_tqdm = _on_stderr(TQDMProgressBar.init_test_tqdm)
    init_predict_tqdm = _on_stderr(TQDMProgressBar.init_predict_tqdm)


def _loggers(run: str) -> list[Logger]:
    loggers: list[Logger] = [CSVLogger(run, name="logs")]
    if importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX"):
        loggers.append(TensorBoardLogger(run, name="logs", version=loggers[0].version))
    return loggers


def _resume_path(s: TrainSettings) -> str | None:
    if not s.resume:
        return None
    path = os.path.join(s.run, "checkpoints", "last.ckpt") if s.resume == "last" else s.resume
    if not os.path.isfile(path):
        raise DataconvError(f"{path}: no checkpoint to resume from")
    return path


def _from_checkpoint(s: TrainSettings, path: str) -> TrainSettings:
    """On resume the architecture, charset and preprocessing come from the checkpoint
    (checked like any model file), which must also hold the training state Lightning
    restores."""
    checkpoint = read_checkpoint(path)
    hp = check_hparams(checkpoint["hyper_parameters"], path)
    missing = [k for k in RESUME_KEYS if k not in checkpoint]
    if missing:
        raise DataconvError(f"{path}: cannot resume from it (no {', '.join(missing)}); "
                            "it holds weights only")
    return replace(s, **hp)


def _pretrained_settings(s: TrainSettings, path: str) -> TrainSettings:
    """With --init-from the architecture and preprocessing are the pretrained model's (its
    weights only fit those); the charset stays the one of the new data."""
    hp = check_hparams(read_checkpoint(path)["hyper_parameters"], path)
    hp.pop("charset")
    return replace(s, **hp)


def check_devices(accelerator: str, devices: int | str | list[int]) -> None:
    """Refuse an accelerator this torch cannot use, or more devices than there are, in one
    line before any data is read (Lightning would raise deep inside ``Trainer``)."""
    if accelerator in ("gpu", "cuda"):
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else "no visible CUDA device"
            raise DataconvError(f"--accelerator {accelerator}: torch {torch.__version__} is {build}; "
                                "use --accelerator cpu, or install a CUDA build of torch")
        available, kind = torch.cuda.device_count(), "CUDA device"
    elif accelerator == "mps":
        if not torch.backends.mps.is_available():
            raise DataconvError("--accelerator mps: this torch has no MPS (Apple GPU) backend; use --accelerator cpu")
        available, kind = 1, "MPS device"
    elif accelerator == "cpu" or not torch.cuda.is_available():
        available, kind = os.cpu_count() or 1, "CPU core"
    else:
        available, kind = torch.cuda.device_count(), "CUDA device"
    if isinstance(devices, list) and kind != "CUDA device":
        raise DataconvError(f"--devices {','.join(map(str, devices))}: device indices select CUDA GPUs; "
                            f"give a count of {kind}s instead")
    wanted = max(devices) + 1 if isinstance(devices, list) else devices
    if isinstance(wanted, int) and wanted > available:
        raise DataconvError(f"--devices {devices}: only {available} {kind}(s) here")


def train(s: TrainSettings) -> TrainResult:
    pl.seed_everything(s.seed, workers=True, verbose=False)
    resume = _resume_path(s)
    if resume:
        s = _from_checkpoint(s, resume)
    elif s.init_from:
        s = _pretrained_settings(s, s.init_from)
    data = LmdbDataModule(s.data, charset=s.charset, img_height=s.img_height, img_width=s.img_width,
                          channels=s.channels, keep_ratio=s.keep_ratio, batch_size=s.batch_size,
                          workers=s.workers, augment=s.augment, charset_encoding=s.charset_encoding)
    model = Recognizer(charset=data.charset, img_height=s.img_height, img_width=s.img_width,
                       channels=s.channels, keep_ratio=s.keep_ratio, size=s.size, lr=s.lr,
                       data=data.data)
    carried = init_from(model, s.init_from) if s.init_from and not resume else None
    best = ModelCheckpoint(dirpath=os.path.join(s.run, "checkpoints"), filename="best", monitor=MONITOR,
                           mode="max", save_top_k=1, save_last=True, enable_version_counter=False)
    callbacks: list[Callback] = [best, StderrProgressBar()]
    if s.stop_at_acc is not None:  # only the threshold stops the run, never a lack of progress
        callbacks.append(EarlyStopping(monitor=MONITOR, mode="max", stopping_threshold=s.stop_at_acc,
                                       patience=s.max_epochs + 1, verbose=True))
    steps_per_epoch = -(-len(data.dataset("train")) // s.batch_size)
    trainer = pl.Trainer(default_root_dir=s.run, max_epochs=s.max_epochs, accelerator=s.accelerator,
                         devices=s.devices, logger=_loggers(s.run), callbacks=callbacks,
                         log_every_n_steps=max(1, min(50, steps_per_epoch)))
    with warnings.catch_warnings():
        if s.workers == 0:  # chosen on purpose; Lightning would suggest more workers
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        trainer.fit(model, datamodule=data, ckpt_path=resume, weights_only=True)
    score = best.best_model_score
    return TrainResult(best.best_model_path, float(score) if score is not None else 0.0,
                       trainer.current_epoch, carried)
