"""``--corrections FILE``: a reviewer's decisions (``dataconv review`` writes them; the
format is ``dataconv.io.corrections``) applied once, where the run collects the samples.

Corrections come first, then the label rules (``label_rules.py``), then every check: a
relabelled sample's new text goes through the same rules, normal form, charset and length
checks as every other label, so a correction can never write a label the run's policy
would refuse, and the splits and trainer simulations see the corrected label. (The text a
reviewer accepts is the label as written, already through the rules; the rules leave it
as it is.) The split of a sample does not change: it follows the sample's id or group.

What a run did is counted in the manifest (``corrections``): relabelled, dropped, kept
(a ``keep``, or a ``relabel`` to the text the sample already has), overridden (lines a
later line for the same id replaced), unknown (ids that name no sample, with
``--corrections-unknown warn``; by default the first is an error naming its line) and
already_rejected (ids of samples the parser or the duplicate-id check rejected before the
corrections). Every line of the file is one of these.
"""
from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator, Protocol

from dataconv.errors import DataconvError, UsageError
from dataconv.io import corrections as corrections_file
from dataconv.optionspec import Choice, Path, option
from dataconv.sample import Parsed, Reject, Sample
from dataconv.validators.base import CheckOptions, check

COUNTED = ("relabelled", "dropped", "kept", "overridden", "unknown", "already_rejected")


@dataclass(frozen=True)
class CorrectionsOptions:
    corrections: str | None = option(None, "Apply a reviewer's decisions (SAMPLE_ID<TAB>relabel<TAB>TEXT, "
                                           "SAMPLE_ID<TAB>drop, SAMPLE_ID<TAB>keep; dataconv review writes "
                                           "them) before the label rules; counted in manifest.json.",
                                     type=Path(exists=True, dir_okay=False))
    corrections_unknown: str = option("error", "An id in --corrections that names no sample: an error naming "
                                               "its line, or a counted warning.",
                                      type=Choice(("error", "warn")), show_default=True)


class LabelEdit(Protocol):
    """What the run applies to each sample while collecting: it may change the label, or
    reject the sample."""

    def apply(self, sample: Sample) -> Reject | None: ...


@dataclass
class Corrections:
    """The decisions of one file, and what they did in this run. Without a file (``path``
    None) it changes nothing and records nothing."""

    path: str | None = None
    unknown_policy: str = "error"
    file: corrections_file.DecisionFile = field(default_factory=corrections_file.DecisionFile)
    applied: Counter[str] = field(default_factory=Counter)  # the COUNTED names
    done: set[str] = field(default_factory=set)  # ids applied to a sample
    rejected: set[str] = field(default_factory=set)  # ids of samples rejected before the corrections

    def watch(self, items: Iterator[Parsed]) -> Iterator[Parsed]:
        """``items`` unchanged, noting the ids of rejected samples that have a decision."""
        for item in items:
            if isinstance(item, Reject) and item.id in self.file.decisions:
                self.rejected.add(item.id)
            yield item

    def apply(self, sample: Sample) -> Reject | None:
        """Apply the sample's decision, if it has one and none was applied to its id yet;
        the reject when it is a drop."""
        decision = self.file.decisions.get(sample.id)
        if decision is None or sample.id in self.done:
            return None
        self.done.add(sample.id)
        if decision.action == "drop":
            self.applied["dropped"] += 1
            where = f"{os.path.basename(self.path or '')}:{self.file.lines[sample.id]}"
            return Reject(sample.source, "correction_drop", where, sample.id)
        if decision.action == "relabel" and decision.text != sample.label:
            self.applied["relabelled"] += 1
            sample.label = decision.text or ""
        else:
            self.applied["kept"] += 1
        return None

    def then(self, rules: LabelEdit | None) -> LabelEdit | None:
        """The run's edits in order: these corrections, then ``rules``."""
        if self.path is None:
            return rules
        return self if rules is None else _Chain((self, rules))

    def finish(self) -> None:
        """After collecting: an id that named no sample is an error naming its line (or,
        with ``--corrections-unknown warn``, a warning on stderr, counted)."""
        unknown = [i for i in self.file.decisions if i not in self.done and i not in self.rejected]
        self.applied["unknown"] = len(unknown)
        self.applied["already_rejected"] = len(self.rejected - self.done)
        self.applied["overridden"] = self.file.overridden
        if not unknown:
            return
        first = f"{self.path}:{self.file.lines[unknown[0]]}: {unknown[0][:80]!r}"
        if self.unknown_policy == "error":
            raise DataconvError(f"{first} names no sample of the source (ids are the source_id column of "
                                "samples.parquet and eval.parquet); --corrections-unknown warn goes on without it")
        print(f"warning: {len(unknown)} id(s) of --corrections name no sample of the source; the first: "
              f"{first}", file=sys.stderr, flush=True)

    def record(self) -> dict[str, dict[str, int]]:
        """The manifest's ``corrections`` entry (nothing without a file)."""
        return {"corrections": {name: self.applied[name] for name in COUNTED}} if self.path else {}


@dataclass(frozen=True)
class _Chain:
    edits: tuple[LabelEdit, ...]

    def apply(self, sample: Sample) -> Reject | None:
        for edit in self.edits:
            rejected = edit.apply(sample)
            if rejected is not None:
                return rejected
        return None


def corrections_of(checks: CheckOptions) -> Corrections:
    """The run's corrections, read (a one-line error naming the line when the file is
    wrong); an empty ``Corrections`` without ``--corrections``."""
    options = checks.of(CorrectionsOptions)
    if not options.corrections:
        return Corrections()
    return Corrections(options.corrections, options.corrections_unknown, corrections_file.read(options.corrections))


def refuse_without_samples(checks: CheckOptions, output: str, tasks: tuple[str, ...]) -> None:
    """``--corrections`` names recognition samples: a run that writes none (``--task det``,
    the COCO output) cannot apply it, which is a usage error rather than a silent no-op."""
    if checks.of(CorrectionsOptions).corrections and (output != "lmdb" or "rec" not in tasks):
        what = "a detection dataset (--task det)" if output == "lmdb" else f"the {output} output"
        raise UsageError(f"--corrections applies to recognition samples; this run writes only {what}")


@check("corrections", order=23, options=CorrectionsOptions)
def build_corrections(checks: CheckOptions) -> None:
    """No per-image check: the corrections apply where the samples are collected
    (``corrections_of``), before the label rules."""
    return None
