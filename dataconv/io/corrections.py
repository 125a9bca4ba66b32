"""The corrections file: a reviewer's decisions about single samples (``--corrections FILE``
on a conversion reads it, ``dataconv review`` writes it). UTF-8, one decision per line,
tab-separated::

    SAMPLE_ID<TAB>relabel<TAB>NEW TEXT     the sample gets NEW TEXT as its label
    SAMPLE_ID<TAB>drop                     the sample is left out (reject correction_drop)
    SAMPLE_ID<TAB>keep                     the label was checked and is right

SAMPLE_ID is the ``source_id`` of samples.parquet and eval.parquet. A later line for the
same id wins over an earlier one; blank lines are skipped. Any other line is a one-line
error naming the file and line.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from dataconv.errors import DataconvError
from dataconv.io import textfile

ACTIONS = ("relabel", "drop", "keep")
_LINE_BREAKS = ("\r", "\n")


@dataclass(frozen=True)
class Decision:
    action: str  # one of ACTIONS
    text: str | None = None  # the new label, for relabel only


@dataclass
class DecisionFile:
    """The decision that wins for each id, in the order the ids first appear."""

    decisions: dict[str, Decision] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # id -> the line of its winning decision
    overridden: int = 0  # lines a later line for the same id replaced


def parse_line(line: str) -> tuple[str, Decision]:
    """(id, decision) of one line; a ValueError saying what is wrong."""
    fields = line.split("\t", 2)
    sample_id, action = fields[0], fields[1] if len(fields) > 1 else None
    if not sample_id:
        raise ValueError("the line starts with a tab: no sample id")
    if action not in ACTIONS:
        raise ValueError(f"expected SAMPLE_ID<TAB>relabel<TAB>TEXT, SAMPLE_ID<TAB>drop or SAMPLE_ID<TAB>keep; "
                         f"got {_shown(action)} after the id")
    if action == "relabel":
        if len(fields) < 3 or not fields[2]:
            raise ValueError("relabel needs the new text after a tab (drop leaves a sample out)")
        return sample_id, Decision(action, fields[2])
    if len(fields) > 2:
        raise ValueError(f"{action} takes no text; remove what follows it")
    return sample_id, Decision(action)


def _shown(action: str | None) -> str:
    return "nothing" if action is None else repr(action[:40])


def read(path: str) -> DecisionFile:
    """Every decision of the file at ``path`` (an empty file holds none)."""
    found = DecisionFile()
    if _is_empty_file(path):
        return found
    for lineno, line in textfile.read_lines(path, "utf-8"):
        if not line.strip():
            continue
        try:
            sample_id, decision = parse_line(line)
        except ValueError as e:
            raise DataconvError(f"{path}:{lineno}: {e}") from None
        if sample_id in found.decisions:
            found.overridden += 1
        found.decisions[sample_id], found.lines[sample_id] = decision, lineno
    return found


def _is_empty_file(path: str) -> bool:
    """A regular file of no bytes (a FIFO or device is left to the checked open, which
    refuses it)."""
    try:
        info = os.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size == 0


def format_line(sample_id: str, decision: Decision) -> str:
    """The line of one decision, with its line ending; a ValueError when it cannot be
    written so that ``parse_line`` reads it back unchanged."""
    if not sample_id or "\t" in sample_id or any(c in sample_id for c in _LINE_BREAKS):
        raise ValueError(f"the sample id {sample_id[:80]!r} cannot be written to a corrections file "
                         "(empty, or holding a tab or line break)")
    fields = [sample_id, decision.action]
    if decision.action == "relabel":
        text = decision.text or ""
        if not text or any(c in text for c in _LINE_BREAKS):
            raise ValueError("a new label must be non-empty and on one line")
        fields.append(text)
    line = "\t".join(fields) + "\n"
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a lone surrogate cannot be written as UTF-8") from None
    return line


def render(decisions: dict[str, Decision]) -> str:
    """The whole file for ``decisions``, one line per id in their order."""
    return "".join(format_line(sample_id, d) for sample_id, d in decisions.items())
