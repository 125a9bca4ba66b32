"""Run a trainer simulation over every sample of an LMDB tree and summarise what it would do."""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator

from dataconv import lmdb_tree
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
    fatal: str | None = None
    warnings: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)

    def add(self, key: str, original: str, v: Verdict) -> None:
        self.total += 1
        self.effects.update(set(v.altered))
        if v.length is not None:
            self.longest = max(self.longest, v.length)
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
                "longest_label": self.longest, "fatal": self.fatal,
                "warnings": self.warnings, "fixes": self.fixes, "examples": self.examples}


def samples(root: str, need_images: bool) -> Iterator[tuple[str, str, Any]]:
    """(example key, label, image getter) for every sample under root."""
    for path in lmdb_tree.find_lmdbs(root):
        rel = os.path.relpath(path, root)
        rel = "." if rel == "." else rel.replace(os.sep, "/")
        for rec in lmdb_tree.iter_records(path):
            image = rec.image if need_images else None
            yield f"{rel}:label-{rec.index:09d}", rec.label, (lambda data=image: data)


def validate(trainer: Trainer, root: str, progress: bool = False) -> Summary:
    from tqdm import tqdm
    import sys

    summary = Summary(trainer.name, fatal=trainer.fatal(), warnings=trainer.warnings())
    for key, label, image in tqdm(samples(root, trainer.needs_images()), desc="simulating", unit=" samples",
                                  disable=not progress, file=sys.stderr):
        if summary.fatal:
            summary.add(key, label, Verdict(label, dropped="crash:trainer_fails_to_start"))
        else:
            summary.add(key, label, trainer.simulate(label, image))
    missing = "".join(ch for ch, _ in summary.uncovered.most_common()
                      if ch not in trainer.covered_chars())
    summary.fixes = trainer.fixes(summary.longest, missing, set(summary.effects))
    return summary
