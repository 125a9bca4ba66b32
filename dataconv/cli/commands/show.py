"""``dataconv show DATA KEY...``: one sample as stored: label, image size and format, where it
came from, what dataconv's checks would say about it, and the image itself (written to a
file with ``--save DIR``, or drawn inline in terminals that speak iTerm2's image protocol:
iTerm2, WezTerm)."""
from __future__ import annotations

import base64
import os
import sys
import unicodedata

import click

from dataconv.api import Dataset, DatasetRecord, open_dataset
from dataconv.cli.options import input_paths
from dataconv.errors import SampleRejected
from dataconv.io import decode
from dataconv.outputs import atomic
from dataconv.outputs.dump import image_extension

INLINE_TERMINALS = ("iTerm.app", "WezTerm")


def warnings_of(record: DatasetRecord, max_pixels: int) -> list[str]:
    """What a conversion would reject this sample for, in reject words (reason: detail)."""
    found = []
    if record.label_bytes is None:
        found.append("missing_label: no label- key")
    else:
        try:
            label = record.label_bytes.decode("utf-8")
        except UnicodeDecodeError as e:
            found.append(f"undecodable_label: not UTF-8 ({e.reason} at byte {e.start})")
            label = record.label or ""
        if not label.strip():
            found.append("empty_label: the label is empty or whitespace")
        if "\x00" in label:
            found.append("nul_byte: the label holds a NUL byte")
        if unicodedata.normalize("NFC", label) != label:
            found.append("not NFC: a conversion stores the NFC form")
    if record.image is None:
        found.append("missing_image: no image- key")
    else:
        try:
            decode.load(record.image, max_pixels)
        except SampleRejected as e:
            found.append(f"{e.reason}: {e.detail}")
    return found


def describe(record: DatasetRecord, max_pixels: int) -> list[str]:
    lines = [record.key + (f"  (split {record.split})" if record.split else "  (no split folder)"),
             f"  label: {record.label!r}" + ("" if record.label is None else f" ({len(record.label)} characters)")]
    if record.image is not None:
        try:
            width, height = decode.header_size(record.image)
            size = f"{width}x{height} {image_extension(record.image).upper()}, "
        except SampleRejected:
            size = ""
        lines.append(f"  image: {size}{len(record.image):,} bytes")
    meta = {k: v for k, v in record.metadata.items() if v}
    if meta:
        lines.append("  " + ", ".join(f"{k}: {v}" for k, v in meta.items()))
    lines += [f"  warning: {w}" for w in warnings_of(record, max_pixels)]
    return lines


def inline_image(data: bytes) -> str:
    """The iTerm2 inline-image escape sequence that draws ``data``."""
    return f"\033]1337;File=inline=1;size={len(data)};preserveAspectRatio=1:{base64.b64encode(data).decode()}\a"


def save(record: DatasetRecord, folder: str) -> str:
    """Write the image as stored to ``folder`` under a name made of the key (safe on
    Windows and Linux: ``/`` and ``:`` become ``_``); its path."""
    assert record.image is not None
    name = record.key.replace("/", "_").replace(":", "_") + "." + image_extension(record.image)
    path = os.path.join(folder, name)
    with atomic.atomic_file(path) as tmp, open(tmp, "xb") as f:
        f.write(record.image)
    return path


@click.command("show", help="Show samples of a dataset by key: SHARD:INDEX (e.g. test/shard-00000:3) "
                            "or a sample id / source from samples.parquet. Prints the label, image "
                            "size, source and reject-style warnings; --save writes the images.")
@click.argument("data", type=click.Path(exists=True, file_okay=False))
@click.argument("keys", nargs=-1, required=True)
@click.option("--save", "save_to", type=click.Path(file_okay=False), help="Write each image into this folder.")
@click.option("--inline/--no-inline", default=None,
              help="Draw images in the terminal (iTerm2 protocol) [default: in iTerm2 and WezTerm].")
@click.option("--max-pixels", type=click.IntRange(min=1), default=decode.DEFAULT_MAX_PIXELS, show_default=True,
              help="Images larger than this are not decoded (reported as too_many_pixels).")
def show_command(data: str, keys: tuple[str, ...], save_to: str | None, inline: bool | None, max_pixels: int) -> None:
    with open_dataset(data) as dataset:
        _show(dataset, keys, save_to, inline, max_pixels)


def _show(dataset: Dataset, keys: tuple[str, ...], save_to: str | None, inline: bool | None, max_pixels: int) -> None:
    if save_to:
        atomic.check_folder_target(save_to, input_paths(click.get_current_context(), exclude={"save_to"}))
        os.makedirs(save_to, exist_ok=True)
    if inline is None:
        inline = sys.stdout.isatty() and os.environ.get("TERM_PROGRAM") in INLINE_TERMINALS
    for key in keys:
        record = dataset[key]
        click.echo("\n".join(describe(record, max_pixels)))
        if record.image is not None and save_to:
            click.echo(f"  saved: {save(record, save_to)}")
        if record.image is not None and inline:
            click.echo("  " + inline_image(record.image))


COMMANDS = [show_command]
