"""``dataconv validate DATA --for TRAINER``: what a trainer will drop or alter at load time."""
from __future__ import annotations

import json
from typing import Any

import click

from dataconv import charsets
from dataconv.validators.trainer_report import Summary, validate
from dataconv.validators.trainers import MMOCR_LOSSES, PADDLE_ENCODERS, TRAINERS, Settings

# CLI switch -> (Settings field, value it sets); each belongs to the trainers that read it.
SWITCHES = {
    "sensitive": ("sensitive", True), "data_filtering_off": ("data_filtering_off", True),
    "no_normalize_unicode": ("normalize_unicode", False), "keep_whitespace": ("remove_whitespace", False),
    "use_space_char": ("use_space_char", True), "with_unknown": ("with_unknown", True),
    "lower": ("lower", True),
}


def charset_options(fn: Any) -> Any:
    fn = click.option("--charset-encoding", default="utf-8", show_default=True,
                      help="Encoding of the charset file (e.g. cp949).")(fn)
    return click.option("--charset", "charset", default=None,
                        help="Charset file (one per line, one line, or PARSeq YAML) or a literal string.")(fn)


@click.command("validate", help="Simulate a trainer's load-time filtering on any LMDB tree: what it "
               "keeps, drops, alters, which characters it lacks, and the fix in its own terms. "
               "Exit 1 when the trainer would not start or crash (FATAL), and with --strict also "
               "when any sample would be dropped or altered.")
@click.argument("data", type=click.Path(exists=True))
@click.option("--for", "trainer", required=True, type=click.Choice(sorted(TRAINERS)))
@charset_options
@click.option("--max-label-length", type=click.IntRange(min=1), default=None,
              help="batch_max_length / max_label_length / max_text_length / max_seq_len "
                   "[default: the trainer's: 25, mmocr 40].")
@click.option("--sensitive", is_flag=True, help="clovaai --sensitive (94 printable ASCII, no lower-casing).")
@click.option("--data-filtering-off", is_flag=True, help="clovaai --data_filtering_off.")
@click.option("--no-normalize-unicode", is_flag=True, help="parseq data.normalize_unicode=false.")
@click.option("--keep-whitespace", is_flag=True, help="parseq data.remove_whitespace=false.")
@click.option("--min-image-dim", type=click.IntRange(min=0), default=0, help="parseq data.min_image_dim.")
@click.option("--use-space-char", is_flag=True, help="paddleocr Global.use_space_char=true.")
@click.option("--paddle-encoder", type=click.Choice(PADDLE_ENCODERS), default=None,
              help="paddleocr label encoder: multi-nrtr = MultiLabelEncode(gtc_encode=NRTRLabelEncode) "
                   "of the PP-OCRv4 rec config ch_PP-OCRv4_rec.yml [default], multi-sar = "
                   "MultiLabelEncode of PP-OCRv3, ctc = CTCLabelEncode, attn = AttnLabelEncode.")
@click.option("--with-unknown", is_flag=True, help="mmocr Dictionary(with_unknown=True).")
@click.option("--lower", is_flag=True, help="mmocr module loss letter_case='lower'.")
@click.option("--mmocr-loss", type=click.Choice(MMOCR_LOSSES), default=None,
              help="mmocr module loss: ce (attention heads; the label keeps max_seq_len - 1 "
                   "characters) [default] or ctc (not cut at max_seq_len).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--strict", is_flag=True, help="Also exit 1 when any sample would be dropped or altered.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def validate_command(data: str, trainer: str, charset: str | None, charset_encoding: str,
                     max_label_length: int | None, min_image_dim: int, paddle_encoder: str | None,
                     mmocr_loss: str | None, as_json: bool, strict: bool, quiet: bool,
                     **switches: bool) -> None:
    cls = TRAINERS[trainer]
    fields: dict[str, Any] = {field: value for name, (field, value) in SWITCHES.items() if switches[name]}
    chosen = {"min_image_dim": min_image_dim or None, "paddle_encoder": paddle_encoder,
              "mmocr_loss": mmocr_loss}
    fields.update({k: v for k, v in chosen.items() if v is not None})
    foreign = sorted(f for f in fields if f not in cls.switches)
    if foreign:
        raise click.UsageError(f"--for {trainer} has no switch for {', '.join(foreign)}")
    cs = charsets.load_user_charset(charset, charset_encoding) if charset is not None else None
    settings = Settings(charset=cs, max_length=max_label_length, **fields)
    simulation = cls(settings)
    summary = validate(simulation, data, progress=not quiet)
    click.echo(json.dumps(summary.to_json(), ensure_ascii=False, indent=1) if as_json
               else format_text(summary, cs, settings_line(settings, simulation.max_length, trainer)))
    if summary.fatal or (strict and summary.problems()):
        raise SystemExit(1)


def settings_line(settings: Settings, limit: int, trainer: str) -> str:
    """The length limit and the choice switches that shape what the report says."""
    extra = {"paddleocr": f", encoder {settings.paddle_encoder}", "mmocr": f", {settings.mmocr_loss} loss"}
    return f"length limit {limit}{extra.get(trainer, '')}"


def format_text(s: Summary, cs: charsets.Charset | None, settings: str) -> str:
    lines = [f"{s.trainer}: {s.total} samples, kept {s.kept}, dropped {s.dropped}, "
             f"altered {s.altered} ({settings}, longest label {s.longest})"]
    if cs is not None:
        lines.append(f"charset: {cs.summary()}")
    if s.fatal:
        lines.append(f"FATAL: {s.fatal}")
    lines += [f"warning: {w}" for w in s.warnings]
    lines += _counted("dropped", s.reasons, s) + _counted("altered", s.alterations, s)
    if s.uncovered:
        lines.append(f"uncovered characters ({len(s.uncovered)}):")
        for ch, n in s.uncovered.most_common(30):
            lines.append(f"  {ch!r} x{n}  e.g. {', '.join(s.uncovered_examples[ch])}")
        if len(s.uncovered) > 30:
            lines.append(f"  ... {len(s.uncovered) - 30} more (see --json)")
    if s.fixes:
        lines.append("fix:")
        lines += [f"  {fix}" for fix in s.fixes]
    return "\n".join(lines)


def _counted(title: str, counts: Any, s: Summary) -> list[str]:
    out = []
    for why, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        out.append(f"{title} {why}: {n}")
        for ex in s.examples.get(why, []):
            after = f" -> {ex['becomes']!r}" if "becomes" in ex else ""
            out.append(f"    {ex['key']}: {ex['label']!r}{after}")
    return out


COMMANDS = [validate_command]
