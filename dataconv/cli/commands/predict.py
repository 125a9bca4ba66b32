"""``dataconv predict MODEL IMAGE_OR_FOLDER...``: print each image's text and confidence
(``IMAGE<TAB>TEXT<TAB>CONFIDENCE``); a bad input is one ``error:`` line on stderr, the
others are still predicted, and the exit code is 1 if any failed."""
from __future__ import annotations

import click

from dataconv.cli.commands._extras import require
from dataconv.export.eval_data import SPLIT_CHOICES
from dataconv.io.decode import DEFAULT_MAX_PIXELS


@click.command("predict", help="Recognize the text of images with an exported .onnx model or a .ckpt "
               "checkpoint; prints IMAGE<TAB>TEXT<TAB>CONFIDENCE per image (confidence: the probability "
               "of the decoded path, 0 to 1). A folder stands for the images under it (sorted; symlinks "
               "out of it are not followed); --list names a file of image paths; --lmdb reads a split "
               "of an LMDB dataset and prints SHARD:INDEX keys, the form 'dataconv eval --predictions' "
               "reads. An input that cannot be read or decoded is reported on stderr and skipped; the "
               "exit code is then 1.\n\n"
               "Example: dataconv predict digits.onnx crop1.png crops/ --list more.txt")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.argument("images", nargs=-1, type=click.Path())
@click.option("--list", "lists", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="A file with one image path per line (relative paths from the list's folder).")
@click.option("--lmdb", "lmdb_data", type=click.Path(exists=True, file_okay=False),
              help="An LMDB dataset tree: predict every sample of --split.")
@click.option("--split", type=click.Choice(SPLIT_CHOICES), default="test", show_default=True,
              help="The split --lmdb reads.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=DEFAULT_MAX_PIXELS, show_default=True,
              help="Skip images with more pixels than this, before decoding them (decompression bombs).")
@click.pass_context
def predict_command(ctx: click.Context, model: str, images: tuple[str, ...], lists: tuple[str, ...],
                    lmdb_data: str | None, split: str, max_pixels: int) -> None:
    if not images and not lists and lmdb_data is None:
        raise click.UsageError("name images or folders, --list FILE or --lmdb DATA")
    if lmdb_data is not None and (images or lists):
        raise click.UsageError("--lmdb predicts a dataset split; give images and --list in another run")
    if model.lower().endswith(".onnx"):
        require("export", "onnx", "onnxruntime")
    else:
        require("train", "torch", "lightning")
    from dataconv.export.predict import Failure, listed_images, load_predictor, predict_images, predict_inputs

    predictor = load_predictor(model)
    if lmdb_data is not None:
        from dataconv.export.eval_data import iter_split, split_images

        outcomes = predict_images(predictor, split_images(iter_split(lmdb_data, split)), max_pixels)
    else:
        paths = [*images, *(path for listing in lists for path in listed_images(listing))]
        outcomes = predict_inputs(predictor, paths, max_pixels)
    failed = 0
    for outcome in outcomes:
        if isinstance(outcome, Failure):
            failed += 1
            click.echo(f"error: {outcome.why}", err=True)
        else:
            click.echo(f"{outcome.path}\t{outcome.text}\t{outcome.confidence:.4f}")
    if failed:
        ctx.exit(1)


COMMANDS = [predict_command]
