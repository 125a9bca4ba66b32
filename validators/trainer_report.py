"""Run a trainer simulation over every sample of an LMDB tree and summarise what it would do."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator

from dataconv.io.dataset_reader import open_dataset
from dataconv.validators.trainers import Trainer, Verdict

EXAMPLES = 3


@dataclass
class Summary:
    trainer: str
    total: int = 0
    kept: int = 0
    dropped: int = 0
    altered: int = 0
    reasons: Counter = field(default_factory=Counter)
    alterations: Counter = field(default_factory=Counter)  # on kept samples
    effects: Counter = field(default_factory=Counter)  # every step that changed a label
    uncovered: Counter = field(default_factory=Counter)
    uncovered_examples: dict[str, list[str]] = field(default_factory=dict)
    examples: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    longest: int = 0
    needed: int = 0  # the smallest length setting that keeps every label whole
    split_totals: Counter = field(default_factory=Counter)
    split_kept: Counter = field(default_factory=Counter)
    split_effects: dict[str, set[str]] = field(default_factory=dict)  # alterations and drop reasons
    fatal: str | None = None
    warnings: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)

    def add(self, key: str, original: str, v: Verdict, split: str = "train") -> None:
        self.total += 1
        self.split_totals[split] += 1
        self.split_kept[split] += v.dropped is None
        self.split_effects.setdefault(split, set()).update(v.altered, [v.dropped] if v.dropped else [])
        self.effects.update(set(v.altered))
        if v.length is not None:
            self.longest = max(self.longest, v.length)
        if v.needed is not None:
            self.needed = max(self.needed, v.needed)
        for ch in v.uncovered:
            self.uncovered[ch] += 1
            keys = self.uncovered_examples.setdefault(ch, [])
            if len(keys) < EXAMPLES and key not in keys:
                keys.append(key)
        if v.dropped:
            self.dropped += 1
            self.reasons[v.dropped] += 1
            self._example(v.dropped, key, original, None)
        else:
            self.kept += 1
            if v.altered:
                self.altered += 1
                for why in dict.fromkeys(v.altered):
                    self.alterations[why] += 1
                    self._example(why, key, original, v.label)

    def _example(self, why: str, key: str, original: str, label: str | None) -> None:
        bucket = self.examples.setdefault(why, [])
        if len(bucket) < EXAMPLES:
            bucket.append({"key": key, "label": original, **({"becomes": label} if label is not None else {})})

    @property
    def crashes(self) -> int:
        return sum(n for r, n in self.reasons.items() if r.startswith("crash:"))

    def problems(self) -> bool:
        return bool(self.dropped or self.altered or self.fatal)

    def to_json(self) -> dict[str, Any]:
        return {"trainer": self.trainer, "total": self.total, "kept": self.kept,
                "dropped": self.dropped, "altered": self.altered, "crashes": self.crashes,
                "reasons": dict(sorted(self.reasons.items())),
                "alterations": dict(sorted(self.alterations.items())),
                "uncovered": {ch: {"count": n, "examples": self.uncovered_examples[ch]}
                              for ch, n in self.uncovered.most_common()},
                "longest_label": self.longest, "needed_length": self.needed,
                "kept_per_split": {k: self.split_kept[k] for k in sorted(self.split_totals)},
                "fatal": self.fatal,
                "warnings": self.warnings, "fixes": self.fixes, "examples": self.examples}


def samples(root: str) -> Iterator[tuple[str, str, str, Any]]:
    """(example key, split, label, image getter) for every sample under root; an LMDB
    under no split folder is read as train."""
    for shard in open_dataset(root).shards:
        for rec in shard.records():
            yield (f"{shard.rel}:label-{rec.index:09d}", shard.split or "train", rec.label,
                   (lambda data=rec.image: data))


def validate(trainer: Trainer, root: str, progress: bool = False) -> Any:
    """The Summary of a recognizer over an LMDB tree; a detector's (``reads == "det"``)
    over a detection dataset is ``det_report.DetSummary``."""
    from tqdm import tqdm
    import sys

    if trainer.reads == "det":
        from dataconv.validators import det_report

        return det_report.validate(trainer, root, progress)  # type: ignore[arg-type]

    summary = Summary(trainer.name, fatal=trainer.fatal(), warnings=trainer.warnings())
    for key, split, label, image in tqdm(samples(root), desc="simulating", unit=" samples",
                                         disable=not progress, file=sys.stderr):
        if summary.fatal:
            summary.add(key, label, Verdict(label, dropped="crash:trainer_fails_to_start"), split)
        else:
            summary.add(key, label, trainer.simulate(label, image, split), split)
    missing = "".join(ch for ch, _ in summary.uncovered.most_common()
                      if ch not in trainer.covered_chars())
    summary.fixes = trainer.fixes(summary.needed, missing, set(summary.effects))
    summary.fixes += trainer.finish(summary.split_effects)
    summary.fatal = summary.fatal or run_fatal(trainer, summary)
    return summary


def run_fatal(trainer: Trainer, s: Summary) -> str | None:
    """Why the run would die once samples are read: a sample it raises on, or a split
    whose every sample it skips (for trainers that then retry another sample forever)."""
    if s.crashes:
        reasons = ", ".join(r for r in sorted(s.reasons) if r.startswith("crash:"))
        return f"{s.crashes} sample(s) make {trainer.name} raise ({reasons})"
    empty = [split for split, n in sorted(s.split_totals.items()) if n and not s.split_kept[split]]
    if trainer.all_dropped and empty:
        return f"{', '.join(empty)}: every sample is dropped; {trainer.all_dropped}"
    return None
