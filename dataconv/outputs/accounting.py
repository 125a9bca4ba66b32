"""The one finishing step of every run, whatever the output: rejects.jsonl, the manifest,
the check that every input sample was written or rejected, and the outcome warning.

An output (LMDB shards, COCO files) writes its own files into the temporary folder and
hands back ``Accounts``; ``finish`` does the rest, so the dataset card and the accounting
rule are the same for every output.
"""
from __future__ import annotations

import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dataconv.outputs import hints
from dataconv.outputs import manifest
from dataconv.sample import Reject


@dataclass
class Accounts:
    """What an output wrote and rejected, for the manifest."""

    total: int  # input samples (for COCO: boxes)
    split_counts: dict[str, int]  # written per split, only splits with samples, in split order
    rejects: list[Reject]  # in input order
    shards: list[dict[str, Any]] = field(default_factory=list)  # the manifest's "shards"
    charset: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # fields only this output records
    removed: list[Reject] = field(default_factory=list)  # rejects.jsonl rows that are no sample
    # (detection boxes removed from written pages), after the rejected samples


def finish(tmp: str, accounts: Accounts, fmt: str, options: dict[str, Any], src: str) -> dict[str, Any]:
    """Write rejects.jsonl and manifest.json into ``tmp``; return the manifest.

    DataconvError when nothing was written (no OUT appears); RuntimeError when the
    counts do not add up, which is a bug, never bad input."""
    write_rejects(tmp, accounts.rejects + accounts.removed)
    card = manifest.card(
        fmt=fmt, options=options, counts_input=accounts.total, split_counts=accounts.split_counts,
        reject_counts=Counter(r.reason for r in accounts.rejects), shards=accounts.shards,
        charset=accounts.charset)
    card.update(accounts.extra)
    if card["counts"]["input"] != card["counts"]["written"] + card["counts"]["rejected"]:
        raise RuntimeError(f"accounting mismatch: {card['counts']}")
    warn_outcome(card, accounts.rejects, hints.RunContext(src, fmt, options))
    manifest.write(tmp, card)
    return card


def warn_outcome(card: dict[str, Any], rejects: list[Reject], ctx: hints.RunContext) -> None:
    """A run that wrote nothing fails (DataconvError, so no OUT appears); one where a
    single reason rejected most samples says so on stderr and goes on."""
    counts = card["counts"]
    warning = hints.check_outcome(counts["written"], counts["input"], rejects, ctx)
    if warning is not None:
        print(f"warning: {warning}", file=sys.stderr, flush=True)


def write_rejects(folder: str, rejects: list[Reject]) -> None:
    with open(os.path.join(folder, manifest.REJECTS), "w", encoding="utf-8") as f:
        for r in rejects:
            f.write(json.dumps(r.to_json(), ensure_ascii=False, sort_keys=True) + "\n")
