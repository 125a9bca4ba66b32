"""``dataconv predict MODEL IMAGE...``: print each image's text (``IMAGE<TAB>TEXT``)."""
from __future__ import annotations

import click

from dataconv.commands._extras import require


@click.command("predict", help="Recognize the text of images with an exported .onnx model or a .ckpt "
               "checkpoint; prints IMAGE<TAB>TEXT per image.\n\n"
               "Example: dataconv predict digits.onnx crop1.png crop2.png")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def predict_command(model: str, images: tuple[str, ...]) -> None:
    if model.lower().endswith(".onnx"):
        require("export", "onnxruntime")
    else:
        require("train", "torch", "lightning")
    from dataconv.export.predict import load_predictor, predict_files

    for path, text in zip(images, predict_files(load_predictor(model), list(images))):
        click.echo(f"{path}\t{text}")


COMMANDS = [predict_command]
