"""Run a detector simulation over every page of a detection dataset and summarise it: the
boxes it trains and ignores (with the share of the text area ignored), the pages it skips
or that teach it nothing, and the fix in the trainer's own config terms."""
from __future__ import annotations

import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dataconv.io.det_reader import det_splits
from dataconv.validators.trainers.det import (DONT_CARE, NO_TRAINABLE_BOX, SIZE_REASONS, DetTrainer,
                                              PageVerdict)

ON_SKIPPED_PAGE = "on_skipped_page"  # a box of a page the trainer never uses

EXAMPLES = 3


@dataclass
class SplitCount:
    pages: int = 0
    skipped: int = 0
    no_trainable_box: int = 0
    boxes: int = 0
    trained: int = 0
    area: float = 0.0
    ignored_area: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"pages": self.pages, "skipped": self.skipped, "no_trainable_box": self.no_trainable_box,
                "boxes": self.boxes, "trained": self.trained,
                "ignored_area_share": share(self.ignored_area, self.area)}


def share(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


@dataclass
class DetSummary:
    trainer: str
    settings: str
    skip_effect: str  # what the trainer does instead of a skipped page
    splits: dict[str, SplitCount] = field(default_factory=dict)
    ignored: Counter = field(default_factory=Counter)  # reason -> boxes
    ignored_area: Counter = field(default_factory=Counter)  # reason -> square pixels
    skipped: Counter = field(default_factory=Counter)  # reason -> pages
    examples: dict[str, list[str]] = field(default_factory=dict)
    needed_size: int = 0  # the train size that trains every box ignored for its size
    shortest: float | None = None  # the shortest side among boxes under min_text_size
    fatal: str | None = None
    warnings: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)

    def add(self, page: PageVerdict) -> None:
        count = self.splits.setdefault(page.split, SplitCount())
        count.pages += 1
        count.skipped += page.skipped is not None
        for number, box in enumerate(page.boxes, start=1):
            count.boxes += 1
            count.area += box.area
            why = ON_SKIPPED_PAGE if page.skipped is not None else box.ignored
            if why is None:
                count.trained += 1
                continue
            count.ignored_area += box.area
            self.ignored[why] += 1
            self.ignored_area[why] += box.area
            if why != ON_SKIPPED_PAGE:
                self._example(why, f"{page.key} box {number}" + (
                    f" (short side {box.short:.3g} px)" if why in SIZE_REASONS and box.short is not None else ""))
                self._needs(why, box.needed_size, box.short, page.split)
        if page.skipped is not None:
            self.skipped[page.skipped] += 1
            self._example(page.skipped, page.key)
        elif not page.trained():
            count.no_trainable_box += 1
            self._example(NO_TRAINABLE_BOX, page.key)

    def _example(self, why: str, where: str) -> None:
        bucket = self.examples.setdefault(why, [])
        if len(bucket) < EXAMPLES:
            bucket.append(where)

    def _needs(self, why: str, size: int | None, short: float | None, split: str) -> None:
        if split != "train" or why not in SIZE_REASONS:
            return
        self.needed_size = max(self.needed_size, size or 0)
        if why == "under_min_text_size" and short is not None:
            self.shortest = short if self.shortest is None else min(self.shortest, short)

    @property
    def pages(self) -> int:
        return sum(c.pages for c in self.splits.values())

    @property
    def boxes(self) -> int:
        return sum(c.boxes for c in self.splits.values())

    @property
    def trained(self) -> int:
        return sum(c.trained for c in self.splits.values())

    @property
    def no_trainable_box(self) -> int:
        return self.splits["train"].no_trainable_box if "train" in self.splits else 0

    @property
    def crashes(self) -> int:
        return sum(n for why, n in self.skipped.items() if why.startswith("crash:"))

    def area_share(self, reasons: Any = None) -> float:
        total = sum(c.area for c in self.splits.values())
        if reasons is None:
            return share(sum(c.ignored_area for c in self.splits.values()), total)
        return share(sum(self.ignored_area[r] for r in reasons), total)

    def problems(self) -> bool:
        """What ``--strict`` fails on: beyond the label's own don't-care regions, a box the
        trainer ignores, a page it skips, a training page that teaches nothing."""
        return bool(self.fatal or set(self.ignored) - {DONT_CARE} or self.skipped or self.no_trainable_box)

    def finish(self, trainer: DetTrainer) -> None:
        self.warnings = trainer.warnings()
        train_size = self.needed_size if self.needed_size > trainer.o.train_size else None
        shortest = math.floor(self.shortest) if self.shortest is not None and self.shortest >= 1 else None
        self.fixes = trainer.size_fixes(train_size, shortest)
        if self.crashes:
            kinds = ", ".join(sorted(why for why in self.skipped if why.startswith("crash:")))
            self.fatal = f"{self.crashes} page(s) make {trainer.name} raise ({kinds})"
        empty = [name for name, c in self.splits.items() if c.pages and c.skipped == c.pages]
        if empty and not self.fatal:
            self.fatal = f"{', '.join(empty)}: every page is skipped; {trainer.all_skipped}"

    def to_json(self) -> dict[str, Any]:
        return {"trainer": self.trainer, "settings": self.settings, "pages": self.pages, "boxes": self.boxes,
                "trained": self.trained, "ignored": sum(self.ignored.values()),
                "ignored_area_share": self.area_share(),
                "ignored_by_reason": {why: {"boxes": n, "area_share": self.area_share([why])}
                                      for why, n in sorted(self.ignored.items())},
                "skipped": dict(sorted(self.skipped.items())), "no_trainable_box": self.no_trainable_box,
                "splits": {name: c.to_json() for name, c in self.splits.items()},
                "fatal": self.fatal, "warnings": self.warnings, "fixes": self.fixes, "examples": self.examples}

    def text(self) -> str:
        ignored = sum(self.ignored.values())
        lines = [f"{self.trainer} ({self.settings}): {self.pages} pages, {self.boxes} boxes: {self.trained} "
                 f"trained, {ignored} ignored ({self.area_share():.1%} of the text area)"]
        for name, c in self.splits.items():
            lines.append(f"  {name:<5} {c.pages:>7} pages ({c.skipped} skipped, {c.no_trainable_box} with no "
                         f"trainable box) {c.boxes:>8} boxes, {c.trained} trained, "
                         f"{share(c.ignored_area, c.area):.1%} of the text area ignored")
        if self.fatal:
            lines.append(f"FATAL: {self.fatal}")
        lines += [f"warning: {w}" for w in self.warnings]
        for why, n in sorted(self.ignored.items(), key=lambda kv: (-kv[1], kv[0])):
            own = " (the label's don't-care)" if why == DONT_CARE else ""
            lines.append(f"ignored {why}: {n} boxes, {self.area_share([why]):.1%} of the text area{own}")
            lines += [f"    {where}" for where in self.examples.get(why, [])]
        for why, n in sorted(self.skipped.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"skipped {why}: {n} pages ({self.skip_effect})")
            lines += [f"    {where}" for where in self.examples.get(why, [])]
        if self.no_trainable_box:
            lines.append(f"no trainable box: {self.no_trainable_box} train pages (every box ignored: "
                         "they teach background only)")
            lines += [f"    {where}" for where in self.examples.get(NO_TRAINABLE_BOX, [])]
        if self.fixes:
            lines.append("fix:")
            lines += [f"  {fix}" for fix in self.fixes]
        return "\n".join(lines)


def validate(trainer: DetTrainer, root: str, progress: bool = False) -> DetSummary:
    from tqdm import tqdm

    summary = DetSummary(trainer.name, trainer.describe(), trainer.skip_effect)
    for split in det_splits(root):
        for page in tqdm(trainer.pages(split), desc=f"simulating {split.name}", unit=" pages",
                         disable=not progress, file=sys.stderr):
            summary.add(page)
    summary.finish(trainer)
    return summary
