"""``dataconv export CKPT -o model.onnx``: ONNX export verified with onnxruntime.

torch and onnx are imported inside the callback: the rest of the CLI works without them.
"""
from __future__ import annotations

from typing import Any

import click

from dataconv.cli.commands._extras import require
from dataconv.numbers import parse_int
from dataconv.cli.options import input_paths
from dataconv.outputs.atomic import check_file_target


def _static(ctx: Any, param: Any, value: str | None) -> tuple[int, int, int, int] | None:
    """``BxCxHxW`` as four positive integers (range checks against the model come later)."""
    if value is None:
        return None
    parts = value.lower().split("x")
    try:
        dims = tuple(parse_int(part) for part in parts)
    except ValueError:
        dims = ()
    if len(dims) != 4 or min(dims) < 1:
        raise click.BadParameter(f"{value!r}: expected BATCHxCHANNELSxHEIGHTxWIDTH, e.g. 1x1x32x100")
    return dims  # type: ignore[return-value]


@click.command("export", help="Export a training checkpoint to ONNX (dynamic batch and width, charset and "
               "preprocessing in the metadata), then check that onnxruntime reproduces PyTorch on "
               "validation images of --data (else on generated images); exit 1 if it does not. The "
               "checkpoint is loaded with torch's weights_only=True and its settings are checked.\n\n"
               "Example: dataconv export runs/digits/checkpoints/best.ckpt -o digits.onnx")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False), help="ONNX file to write.")
@click.option("--data", type=click.Path(exists=True, file_okay=False),
              help="LMDB tree to take verification images from [default: generated images; the "
              "dataset path recorded in the checkpoint is never used].")
@click.option("--opset", type=click.IntRange(min=17), default=17, show_default=True)
@click.option("--samples", type=click.IntRange(min=1), default=64, show_default=True,
              help="Validation images to compare on.")
@click.option("--static", "static", metavar="BxCxHxW", callback=_static,
              help="Fixed input shape instead of dynamic batch and width, for runtimes that need "
              "one (TensorRT, Ascend ATC), e.g. 1x1x32x100; C and H must be the model's. Images "
              "are then padded (or squeezed) to W, as the preprocessing metadata says.")
def export_command(checkpoint: str, out: str, data: str | None, opset: int, samples: int,
                   static: tuple[int, int, int, int] | None) -> None:
    check_file_target(out, input_paths(click.get_current_context(), exclude={"out"}))
    require("export", "torch", "lightning", "onnx", "onnxruntime")
    from dataconv.export.onnx import TOLERANCE, StaticShape, export_verified

    shape = StaticShape(*static) if static else None
    parity = export_verified(checkpoint, out, data=data, opset=opset, samples=samples, static=shape)
    click.echo(f"wrote {out} (opset {opset}, " + (f"static shape {shape})" if shape else "dynamic batch and width)"))
    click.echo(f"onnxruntime matches PyTorch on {parity.images} {'validation' if data else 'generated'} "
               f"images at widths "
               f"{', '.join(map(str, parity.widths))}: max |diff| {parity.max_abs_diff:.2e} "
               f"(tolerance {TOLERANCE:.0e}), every decoded string identical")


COMMANDS = [export_command]
