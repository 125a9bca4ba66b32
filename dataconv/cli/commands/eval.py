"""``dataconv eval DATA --model M.onnx|M.ckpt -o EVAL_DIR`` or ``--predictions FILE``:
per-sample evaluation on one split, with the suspected label errors ranked
(``dataconv.export.evaluate``; the page: ``dataconv.reporting.eval_page``)."""
from __future__ import annotations

import os
from typing import Any

import click

from dataconv.cli.storage import DatasetPath
from dataconv import charsets
from dataconv.cli.commands._extras import require
from dataconv.errors import DataconvError
from dataconv.export.eval_data import SPLIT_CHOICES
from dataconv.io.decode import DEFAULT_MAX_PIXELS
from dataconv.cli.options import input_paths
from dataconv.outputs.atomic import check_target
from dataconv.validators.trainers import Settings, trainers


VALID_IMAGE = bytes.fromhex(  # a 1x1 grey PNG
    "89504e470d0a1a0a0000000d4948445200000001000000010800000000"
    "3a7e9b550000000a4944415478da63f80f00010101001b8ae2c30000000049454e44ae426082")


class TrainerTransform:
    """A trainer's load-time label handling, exactly as ``validate --for`` simulates it,
    applied to the label (None when that trainer drops the sample) and to the prediction."""

    def __init__(self, name: str, charset: charsets.Charset | None) -> None:
        self.name = name
        self.simulation = trainers()[name](Settings(charset=charset))
        fatal = self.simulation.fatal()
        if fatal:
            raise DataconvError(f"--as {name}: {fatal}")

    def label(self, text: str, image: bytes | None) -> str | None:
        verdict = self.simulation.simulate(text, lambda: image, "test")
        return None if verdict.dropped else verdict.label

    def prediction(self, text: str) -> str:
        """The same steps on the predicted text, with an image every decoder accepts (a
        prediction is text: an image check must not turn it into a dummy label)."""
        return self.simulation.simulate(text, lambda: VALID_IMAGE, "test").label


@click.command("eval", help="Score a model (or another trainer's predictions) on one split of an "
               "LMDB dataset, sample by sample: EVAL_DIR/eval.parquet (key, source_id, label, "
               "prediction, confidence, cer, exact, label_length, source, group) and eval.html "
               "(accuracy and CER per split, source, group and label length, confusion pairs, and "
               "the suspected label errors: confident predictions that disagree with the label, "
               "with thumbnails).\n\n"
               "A predictions file has KEY<TAB>TEXT[<TAB>CONFIDENCE] lines; KEY is SHARD:INDEX "
               "(test/shard-00000:17, as 'predict --lmdb' prints it), a sample id or a source "
               "from samples.parquet.\n\n"
               "Example: dataconv eval out --model digits.onnx -o eval_digits")
@click.argument("data", type=DatasetPath())
@click.option("--model", type=click.Path(exists=True, dir_okay=False), help="An exported .onnx or a .ckpt.")
@click.option("--predictions", type=click.Path(exists=True, dir_okay=False),
              help="KEY<TAB>TEXT[<TAB>CONFIDENCE] lines written by any trainer.")
@click.option("--split", type=click.Choice(SPLIT_CHOICES), default="test", show_default=True)
@click.option("-o", "--output", "out", required=True, type=click.Path(file_okay=False),
              help="Folder to create: eval.parquet, eval.html, manifest.json.")
@click.option("--overwrite", is_flag=True, help="Replace a previous dataconv output at -o.")
@click.option("--as", "trainer", type=click.Choice(sorted(trainers())), default=None,
              help="Compare after this trainer's label handling (what validate --for simulates), "
              "leaving out the samples it drops, so the scores are the ones it would print.")
@click.option("--charset", help="The trainer's charset for --as (file or characters).")
@click.option("--charset-encoding", default="utf-8", show_default=True)
@click.option("--top", type=click.IntRange(min=1), default=50, show_default=True,
              help="Suspected label errors shown in eval.html.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=DEFAULT_MAX_PIXELS, show_default=True)
def eval_command(data: str, model: str | None, predictions: str | None, split: str, out: str,
                 overwrite: bool, trainer: str | None, charset: str | None, charset_encoding: str,
                 top: int, max_pixels: int) -> None:
    if (model is None) == (predictions is None):
        raise click.UsageError("give either --model or --predictions")
    if charset is not None and trainer is None:
        raise click.UsageError("--charset is the charset of the --as trainer; give --as too")
    check_target(out, overwrite, input_paths(click.get_current_context(), exclude={"out"}))
    from dataconv.export.evaluate import evaluate_model, evaluate_predictions, write_eval_dir
    from dataconv.reporting.eval_page import render, suspected_label_errors

    transform = TrainerTransform(trainer, charsets.load(charset, charset_encoding) if charset else None) \
        if trainer else None
    if model is not None:
        _require_for(model)
        from dataconv.export.predict import load_predictor

        evaluation = evaluate_model(data, split, load_predictor(model), transform, max_pixels)
    else:
        evaluation = evaluate_predictions(data, split, predictions, transform)  # type: ignore[arg-type]
    what = model or predictions
    subtitle = f"{what} on the {split} split of {data}" + (f", as {trainer} compares" if trainer else "")
    page = render(evaluation.frame, data, subtitle, dict(evaluation.left_out), top)
    options: dict[str, Any] = {"split": split, "as": trainer, "model": model, "predictions": predictions,
                               "data": os.path.relpath(os.path.abspath(data), os.path.abspath(out))}  # review reads images there
    write_eval_dir(out, overwrite, evaluation, page, options)
    _summary(evaluation, out, suspected_label_errors(evaluation.frame, 5))


def _require_for(model: str) -> None:
    if model.lower().endswith(".onnx"):
        require("export", "onnx", "onnxruntime")
    else:
        require("train", "torch", "lightning")


def _summary(evaluation: Any, out: str, suspects: Any) -> None:
    frame = evaluation.frame
    click.echo(f"eval {evaluation.split}: {len(frame)} samples, accuracy {evaluation.accuracy:.4f}, "
               f"CER {evaluation.cer:.4f}, {int((~frame['exact']).sum())} wrong")
    for why, n in sorted(evaluation.left_out.items()):
        click.echo(f"  left out: {n} ({why})")
    if len(suspects):
        click.echo("most suspected label errors (label -> prediction, confidence):")
        for r in suspects.itertuples(index=False):
            conf = "" if r.confidence != r.confidence else f", {r.confidence:.3f}"  # NaN: none given
            click.echo(f"  {r.key}: {r.label!r} -> {r.prediction!r}{conf}")
    click.echo(f"written to {out} (eval.parquet, eval.html)")


COMMANDS = [eval_command]
