"""``dataconv train DATA --out RUN``: train a CRNN+CTC recognizer on an LMDB tree.

torch and lightning are imported inside the callback: the rest of the CLI works without
the ``[train]`` extra.
"""
from __future__ import annotations

import os
from typing import Any

import click

from dataconv.commands._extras import require


def _devices(ctx: Any, param: Any, value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _height(ctx: Any, param: Any, value: int) -> int:
    if value % 16:
        raise click.BadParameter("must be a multiple of 16 (the network pools height by 16)")
    return value


@click.command("train", help="Train a CRNN (conv + BiLSTM, CTC) recognizer on an LMDB dataset tree.\n\n"
               "Example: dataconv train out --out runs/digits --max-epochs 30")
@click.argument("data", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "run", required=True, type=click.Path(file_okay=False),
              help="Run folder: checkpoints/best.ckpt, checkpoints/last.ckpt, logs/.")
@click.option("--max-epochs", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True,
              help="Peak learning rate (AdamW, warm-up then cosine decay).")
@click.option("--img-height", type=click.IntRange(min=16), default=32, show_default=True, callback=_height)
@click.option("--img-width", type=click.IntRange(min=4), default=128, show_default=True,
              help="Images are resized to the height keeping their aspect ratio and padded to this width.")
@click.option("--stretch", is_flag=True, help="Stretch to height x width instead of keeping the aspect ratio.")
@click.option("--color", type=click.Choice(["gray", "rgb"]), default="gray", show_default=True)
@click.option("--model-size", "size", type=click.Choice(["tiny", "small", "base"]), default="small",
              show_default=True)
@click.option("--charset", help="Charset file or the characters themselves [default: DATA/manifest.json].")
@click.option("--augment", is_flag=True, help="Mild rotation, blur and contrast noise on training images.")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="DataLoader worker processes [default: cores - 1, at most 4].")
@click.option("--accelerator", default="auto", show_default=True, help="cpu, gpu, mps, auto.")
@click.option("--devices", default="auto", show_default=True, callback=_devices)
@click.option("--resume", help="Checkpoint to continue from, or 'last' for RUN/checkpoints/last.ckpt.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--stop-at-acc", type=click.FloatRange(0, 1), default=None,
              help="Stop as soon as val/acc reaches this (e.g. 0.98) instead of running every epoch.")
def train_command(data: str, run: str, stretch: bool, color: str, workers: int | None, **kw: Any) -> None:
    require("train", "torch", "lightning")
    from dataconv.train.fit import TrainSettings, train

    workers = workers if workers is not None else min(4, max(0, (os.cpu_count() or 1) - 1))
    result = train(TrainSettings(data=data, run=run, keep_ratio=not stretch,
                                 channels=1 if color == "gray" else 3, workers=workers, **kw))
    click.echo(f"best val/acc {result.best_accuracy:.4f} after {result.epochs} epoch(s): "
               f"{result.best_checkpoint}")


COMMANDS = [train_command]
