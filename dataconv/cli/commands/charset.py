"""``dataconv charset DATA -o FILE --style paddle|clovaai|parseq``: the dataset's characters
in a trainer's own format, and the characters that only val/test use."""
from __future__ import annotations

import os
from collections import Counter

import click

from dataconv import charsets
from dataconv.cli.options import input_paths
from dataconv.io.dataset_reader import SPLITS, open_dataset
from dataconv.outputs import atomic as output
from dataconv.validators.trainers import clovaai_safe, yaml_quote


def count_chars(root: str) -> dict[str, Counter]:
    """Character counts per split; an LMDB under no split folder counts as train."""
    counts: dict[str, Counter] = {s: Counter() for s in SPLITS}
    for shard in open_dataset(root).shards:
        bucket = counts[shard.split or "train"]
        for rec in shard.records():
            bucket.update(rec.label)
    return counts


def render(chars: str, style: str) -> str:
    """File content in the style's format, ready to use as is."""
    if style == "paddle":
        return "".join(ch + "\n" for ch in chars)
    if style == "clovaai":  # clovaai lower-cases labels (unless --sensitive): the lower forms too
        return clovaai_safe(chars + "".join(ch.lower() for ch in chars)) + "\n"
    return ("# @package _global_\nmodel:\n"
            f"  charset_train: {yaml_quote(chars)}\n  charset_test: {yaml_quote(chars)}\n")


def _on_base(base: charsets.Charset, chars: str, style: str) -> str:
    """The pretrained charset's order, then the dataset's new characters; says what is new."""
    extended, new = charsets.extend(base, chars)
    unused = [ch for ch in base.chars if ch not in chars]
    click.echo(f"base {base.source}: {len(base.chars)} characters kept in their order; "
               f"{len(new)} new character(s) appended" + (": " + " ".join(map(repr, new[:50])) if new else "")
               + (f"; {len(unused)} base character(s) the dataset does not use (kept)" if unused else ""))
    if not render(extended, style).startswith(render(base.chars, style).rstrip("\n")):
        click.echo(f"warning: in {style} style the base characters do not keep their order "
                   "(special characters are moved or lower-case forms added); the pretrained "
                   "model's rows will not line up with them", err=True)
    return extended


STYLE_NOTES = {
    "paddle": "Global.character_dict_path: {out}  (the space is a line of its own; "
              "or drop it and set use_space_char: true)",
    "clovaai": "--character \"$(cat {out})\"  (ordered so the unescaped regex reads it as a plain set)",
    "parseq": "copy to parseq/configs/charset/{name}.yaml, then ./train.py charset={name}  "
              "(whitespace left out: PARSeq removes it unless data.remove_whitespace=false)",
}


@click.command("charset", help="Write the characters of a dataset's labels in a trainer's format.")
@click.argument("data", type=click.Path(exists=True))
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False))
@click.option("--style", type=click.Choice(sorted(STYLE_NOTES)), required=True)
@click.option("--order", type=click.Choice(["codepoint", "frequency"]), default="codepoint",
              show_default=True, help="Order of the characters (token ids follow it).")
@click.option("--base", help="The charset a pretrained model was trained with (a file in any "
              "charset form, or the characters): its order is kept and only the dataset's new "
              "characters are appended (in --order), for fine-tuning (train --init-from).")
@click.option("--base-encoding", default="utf-8", show_default=True, help="Encoding of the --base file.")
def charset_command(data: str, out: str, style: str, order: str, base: str | None, base_encoding: str) -> None:
    output.check_file_target(out, input_paths(click.get_current_context(), exclude={"out"}), home=data)
    counts = count_chars(data)
    total = sum(counts.values(), Counter())
    ranked = sorted(total, key=lambda ch: (-total[ch], ch)) if order == "frequency" else sorted(total)
    chars = "".join(ch for ch in ranked if not (style == "parseq" and ch.isspace()))
    if base is not None:
        chars = _on_base(charsets.load(base, base_encoding), chars, style)
    output.write_text(out, render(chars, style))
    click.echo(f"wrote {len(chars)} characters to {out} ({style} style)")
    name = os.path.splitext(os.path.basename(out))[0]
    click.echo("use: " + STYLE_NOTES[style].format(out=out, name=name))
    for split in ("val", "test"):
        only = sorted(set(counts[split]) - set(counts["train"]))
        if only:
            click.echo(f"{split} has {len(only)} characters train lacks: "
                       + " ".join(f"{ch!r}x{counts[split][ch]}" for ch in only[:50]))


COMMANDS = [charset_command]
