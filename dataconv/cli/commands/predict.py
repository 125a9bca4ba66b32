"""``dataconv predict MODEL IMAGE_OR_FOLDER...``: print each image's text and confidence
(``IMAGE<TAB>TEXT<TAB>CONFIDENCE``); a bad input is one ``error:`` line on stderr, the
others are still predicted, and the exit code is 1 if any failed."""
from __future__ import annotations

import click

from dataconv.cli.commands._extras import require
from dataconv.io.decode import DEFAULT_MAX_PIXELS


@click.command("predict", help="Recognize the text of images with an exported .onnx model or a .ckpt "
               "checkpoint; prints IMAGE<TAB>TEXT<TAB>CONFIDENCE per image (confidence: the probability "
               "of the decoded path, 0 to 1). A folder stands for the images under it (sorted; symlinks "
               "out of it are not followed). An input that cannot be read or decoded is reported on "
               "stderr and skipped; the exit code is then 1.\n\n"
               "Example: dataconv predict digits.onnx crop1.png crop2.png crops/")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--max-pixels", type=click.IntRange(min=1), default=DEFAULT_MAX_PIXELS, show_default=True,
              help="Skip images with more pixels than this, before decoding them (decompression bombs).")
@click.pass_context
def predict_command(ctx: click.Context, model: str, images: tuple[str, ...], max_pixels: int) -> None:
    if model.lower().endswith(".onnx"):
        require("export", "onnx", "onnxruntime")
    else:
        require("train", "torch", "lightning")
    from dataconv.export.predict import Failure, load_predictor, predict_inputs

    failed = 0
    for outcome in predict_inputs(load_predictor(model), images, max_pixels):
        if isinstance(outcome, Failure):
            failed += 1
            click.echo(f"error: {outcome.why}", err=True)
        else:
            click.echo(f"{outcome.path}\t{outcome.text}\t{outcome.confidence:.4f}")
    if failed:
        ctx.exit(1)


COMMANDS = [predict_command]
