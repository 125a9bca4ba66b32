"""``dataconv train DATA --out RUN``: train a CRNN+CTC recognizer on an LMDB tree.

torch and lightning are imported inside the callback: the rest of the CLI works without
the ``[train]`` extra.
"""
from __future__ import annotations

import os
from typing import Any

import click

from dataconv.cli.storage import DatasetPath
from dataconv.cli.commands._extras import require
from dataconv.numbers import parse_int
from dataconv.cli.options import input_paths
from dataconv.outputs.atomic import check_folder_target
from dataconv.train.settings import HEIGHT_STRIDE, MAX_HEIGHT, MAX_WIDTH, MIN_HEIGHT, MIN_WIDTH, SIZES


DEVICES_FORMS = "auto, a count (1, 2, ...), -1 for every device, or device indices such as 0,1"
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")


def _devices(ctx: Any, param: Any, value: str) -> int | str | list[int]:
    """Lightning's ``devices`` forms, checked here so that a typo is a usage error before
    torch is even imported."""
    if value == "auto":
        return value
    try:
        if "," in value:  # device indices; "0," is device 0 alone
            indices = [parse_int(part) for part in value.split(",") if part.strip()]
            if indices and all(i >= 0 for i in indices) and len(set(indices)) == len(indices):
                return indices
        elif (count := parse_int(value)) >= 1 or count == -1:
            return count
    except ValueError:
        pass
    raise click.BadParameter(f"{value!r}: expected {DEVICES_FORMS}")


def _height(ctx: Any, param: Any, value: int) -> int:
    if value % HEIGHT_STRIDE:
        raise click.BadParameter(f"must be a multiple of {HEIGHT_STRIDE} (the network pools height by {HEIGHT_STRIDE})")
    return value


@click.command("train", help="Train a CRNN (conv + BiLSTM, CTC) recognizer on an LMDB dataset tree.\n\n"
               "Example: dataconv train out --out runs/digits --max-epochs 30")
@click.argument("data", type=DatasetPath())
@click.option("--out", "run", required=True, type=click.Path(file_okay=False),
              help="Run folder: checkpoints/best.ckpt, checkpoints/last.ckpt, logs/.")
@click.option("--max-epochs", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True,
              help="Peak learning rate (AdamW, warm-up then cosine decay).")
@click.option("--img-height", type=click.IntRange(MIN_HEIGHT, MAX_HEIGHT), default=32, show_default=True, callback=_height)
@click.option("--img-width", type=click.IntRange(MIN_WIDTH, MAX_WIDTH), default=128, show_default=True,
              help="Images are resized to the height keeping their aspect ratio and padded to this width.")
@click.option("--stretch", is_flag=True, help="Stretch to height x width instead of keeping the aspect ratio.")
@click.option("--color", type=click.Choice(["gray", "rgb"]), default="gray", show_default=True)
@click.option("--model-size", "size", type=click.Choice(list(SIZES)), default="small",
              show_default=True)
@click.option("--charset", help="Charset file (one entry per line, one line, or a PARSeq YAML) or the "
              "characters themselves [default: DATA/manifest.json].")
@click.option("--charset-encoding", default="utf-8", show_default=True,
              help="Encoding of the --charset file (e.g. cp949, euc-kr).")
@click.option("--augment", is_flag=True, help="Mild rotation, blur and contrast noise on training images.")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="DataLoader worker processes [default: cores - 1, at most 4].")
@click.option("--accelerator", type=click.Choice(ACCELERATORS), default="auto", show_default=True,
              help="gpu/cuda needs a CUDA build of torch and a visible GPU.")
@click.option("--devices", default="auto", show_default=True, callback=_devices, help=DEVICES_FORMS + ".")
@click.option("--resume", help="Checkpoint to continue from, or 'last' for RUN/checkpoints/last.ckpt.")
@click.option("--init-from", type=click.Path(exists=True, dir_okay=False),
              help="Fine-tune from this dataconv checkpoint, on data whose charset may differ: "
              "every layer's weights are copied, the output layer is rebuilt for the new charset "
              "with rows copied by character. Architecture and preprocessing come from the "
              "checkpoint. Keep the pretrained order with 'dataconv charset DATA --base OLD'.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--stop-at-acc", type=click.FloatRange(0, 1), default=None,
              help="Stop as soon as val/acc reaches this (e.g. 0.98) instead of running every epoch.")
def train_command(data: str, run: str, stretch: bool, color: str, workers: int | None, **kw: Any) -> None:
    if kw["init_from"] and kw["resume"]:
        raise click.UsageError("--init-from starts a new run from pretrained weights; --resume "
                               "continues a run: give one of them")
    check_folder_target(run, input_paths(click.get_current_context(), exclude={"run", "resume"}))
    require("train", "torch", "lightning")
    from dataconv.train.fit import TrainSettings, check_devices, train

    check_devices(kw["accelerator"], kw["devices"])

    workers = workers if workers is not None else min(4, max(0, (os.cpu_count() or 1) - 1))
    result = train(TrainSettings(data=data, run=run, keep_ratio=not stretch,
                                 channels=1 if color == "gray" else 3, workers=workers, **kw))
    if result.carried:
        c = result.carried
        click.echo(f"initialised from {kw['init_from']}: {c.tensors} weight tensors copied; output layer: "
                   f"{len(c.kept)} character(s) carried over, {len(c.added)} added"
                   + (f" ({c.added[:60]})" if c.added else ""))
    click.echo(f"best val/acc {result.best_accuracy:.4f} after {result.epochs} epoch(s): "
               f"{result.best_checkpoint}")


COMMANDS = [train_command]
