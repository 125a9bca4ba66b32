"""``dataconv validate DATA --for TRAINER``: what a trainer will drop or alter at load time.

The trainers and their switches come from the registry (``dataconv.validators.trainers``);
this is the one place their declared switches become click options."""
from __future__ import annotations

import json
from typing import Any, Callable

import click

from dataconv.cli.storage import DatasetPath
from dataconv import charsets
from dataconv.validators.trainer_report import Summary, validate
from dataconv.validators.trainers import Settings, Switch, Trainer, trainers

HELP = ("Simulate a trainer's load-time filtering on any LMDB tree: what it keeps, drops, alters, "
        "which characters it lacks, and the fix in its own terms. For a detector (paddleocr-det, "
        "mmocr-det) on a detection dataset: the boxes it ignores, the pages it skips or learns nothing "
        "from. Exit 1 when the trainer would not start or crash (FATAL), and with --strict also when "
        "any sample would be dropped or altered (a detector: any box ignored beyond the label's "
        "don't-care, any page skipped or with no trainable box).")

# click parameter name -> (trainer name, its switch) for every trainer declaring it
Declared = dict[str, list[tuple[str, Switch]]]


def declared_switches(registry: dict[str, type[Trainer]]) -> Declared:
    """Every trainer's switches by parameter name; trainers may share a switch declared alike."""
    found: Declared = {}
    for name, cls in registry.items():
        for switch in cls.switches:
            found.setdefault(switch.param, []).append((name, switch))
    for param, owners in found.items():
        shapes = {(s.flag, s.choices, s.minimum, s.default) for _, s in owners}
        if len(shapes) > 1:
            raise RuntimeError(f"trainers {[n for n, _ in owners]} declare --{param} differently")
    return found


def switch_option(owners: list[tuple[str, Switch]]) -> Callable:
    """The click option for one switch; its help names each trainer that reads it."""
    switch = owners[0][1]
    text = "; ".join(f"{name} {s.help}" for name, s in owners)
    if switch.is_flag:
        return click.option(switch.flag, is_flag=True, help=text)
    kind = click.Choice(switch.choices) if switch.choices else click.IntRange(min=switch.minimum)
    return click.option(switch.flag, type=kind, default=switch.default, help=text)


def switch_options(declared: Declared) -> Callable:
    def apply(fn: Any) -> Any:
        for owners in reversed(list(declared.values())):
            fn = switch_option(owners)(fn)
        return fn

    return apply


def length_help(registry: dict[str, type[Trainer]]) -> str:
    readers = {name: cls for name, cls in registry.items() if cls.reads == "lmdb"}  # detectors have none
    names = ", ".join(f"{name} {cls.length_key}" for name, cls in readers.items())
    other = "".join(f", {name} {cls.default_max_length}" for name, cls in readers.items()
                    if cls.default_max_length != Trainer.default_max_length)
    return f"The trainer's length limit: {names} [default: {Trainer.default_max_length}{other}]."


def chosen_fields(trainer: str, declared: Declared, given: dict[str, Any]) -> dict[str, Any]:
    """The options fields the given switches set for ``trainer``; a switch of another
    trainer is a usage error."""
    fields, foreign = {}, []
    for param, owners in declared.items():
        if given[param] == owners[0][1].unset():
            continue
        own = dict(owners).get(trainer)
        if own is None:
            foreign.append(owners[0][1].field)
        else:
            fields[own.field] = own.setting(given[param])
    if foreign:
        raise click.UsageError(f"--for {trainer} has no switch for {', '.join(sorted(foreign))}")
    return fields


def charset_options(fn: Any) -> Any:
    fn = click.option("--charset-encoding", default="utf-8", show_default=True,
                      help="Encoding of the charset file (e.g. cp949).")(fn)
    return click.option("--charset", "charset", default=None,
                        help="Charset file (one per line, one line, or PARSeq YAML) or a literal string.")(fn)


def build_command() -> click.Command:
    """The validate command for the trainers registered now."""
    registry = trainers()
    declared = declared_switches(registry)

    @click.command("validate", help=HELP)
    @click.argument("data", type=DatasetPath(file_okay=True))
    @click.option("--for", "trainer", required=True, type=click.Choice(sorted(registry)))
    @charset_options
    @click.option("--max-label-length", type=click.IntRange(min=1), default=None, help=length_help(registry))
    @switch_options(declared)
    @click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
    @click.option("--strict", is_flag=True, help="Also exit 1 when any sample would be dropped or altered.")
    @click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
    def validate_command(data: str, trainer: str, charset: str | None, charset_encoding: str,
                         max_label_length: int | None, as_json: bool, strict: bool, quiet: bool,
                         **switches: Any) -> None:
        fields = chosen_fields(trainer, declared, switches)
        cs = charsets.load_user_charset(charset, charset_encoding) if charset is not None else None
        simulation = registry[trainer](Settings(charset=cs, max_length=max_label_length, switches=fields))
        summary = validate(simulation, data, progress=not quiet)
        text = summary.text() if simulation.reads == "det" else format_text(summary, cs, simulation.describe())
        click.echo(json.dumps(summary.to_json(), ensure_ascii=False, indent=1) if as_json else text)
        if summary.fatal or (strict and summary.problems()):
            raise SystemExit(1)

    return validate_command


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


COMMANDS = [build_command()]
