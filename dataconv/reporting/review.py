"""The review of an eval's suspected label errors (``dataconv review``): which rows, what was
decided about each, and the corrections file (``dataconv.io.corrections``) every decision
is saved to at once.

A ``Session`` is used from one thread only (the server's main thread,
``review_server.Jobs``), so the file has one writer and decisions are saved one at a
time: the whole file is written beside itself, flushed to disk and renamed over the old
one (``outputs.atomic.atomic_file``). A crash or ``kill -9`` leaves the previous file or
the new one, never half of one; reopening the same file resumes. The file is also the
session's memory: nothing decided lives only in the page.
"""
from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dataconv.errors import DataconvError
from dataconv.io import corrections as corrections_file
from dataconv.io import dataset_reader
from dataconv.io.corrections import Decision
from dataconv.io.decode import DEFAULT_MAX_PIXELS
from dataconv.io.safeopen import open_user_path
from dataconv.outputs.atomic import atomic_file
from dataconv.outputs.samples_table import sample_metadata
from dataconv.reporting.eval_page import split_of_key, suspected_label_errors
from dataconv.reporting.thumbs import thumbnail


@dataclass(frozen=True)
class Row:
    key: str  # SHARD:INDEX in the dataset
    source_id: str
    label: str
    prediction: str
    confidence: float | None
    cer: float

    def shown(self) -> dict[str, Any]:
        return {"key": self.key, "source_id": self.source_id, "label": self.label,
                "prediction": self.prediction, "confidence": self.confidence, "cer": self.cer}


COLUMNS = ("key", "source_id", "label", "prediction", "confidence", "cer", "exact")  # what review reads


def read_eval_table(path: str) -> pd.DataFrame:
    """eval.parquet; a one-line error when it is not one (never a pyarrow traceback)."""
    try:
        with os.fdopen(open_user_path(path), "rb") as f:
            frame = pd.read_parquet(f)
    except (ValueError, OSError) as e:  # pyarrow's errors derive from these
        raise DataconvError(f"{path}: not an eval table ({(str(e).splitlines() or [''])[0][:200]})") from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataconvError(f"{path}: not an eval table (no {missing[0]} column)")
    return frame


def review_rows(frame: pd.DataFrame, everything: bool = False, split: str | None = None,
                min_cer: float | None = None, top: int = 50) -> list[Row]:
    """The rows to review, ranked as eval.html ranks its suspected label errors: the
    ``top`` most suspected (``everything``: every wrong row), of ``split`` and with a CER
    of at least ``min_cer`` when given. A DataconvError when the rows have no sample id,
    which a corrections file needs."""
    if split is not None:
        frame = frame[frame["key"].map(split_of_key) == split]
    if min_cer is not None:
        frame = frame[frame["cer"] >= min_cer]
    ranked = suspected_label_errors(frame, len(frame) if everything else top)
    if ranked["source_id"].isna().any():
        raise DataconvError("the evaluated dataset has no sample ids (no samples.parquet): a corrections file "
                            "names samples by id, so convert the LMDBs with dataconv (dataconv lmdb) and evaluate that")
    return [Row(r.key, r.source_id, r.label, r.prediction, None if pd.isna(r.confidence) else float(r.confidence),
                float(r.cer)) for r in ranked.itertuples(index=False)]


class DatasetImages:
    """Each row's image, read from the dataset by the row's key, as a JPEG thumbnail. The
    keys are checked once against the dataset: every key names an LMDB found under DATA
    and a sample whose id is the row's, so DATA is the dataset that was evaluated."""

    def __init__(self, data: str, rows: list[Row], max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self.data, self.rows, self.max_pixels = data, rows, max_pixels
        shards = {s.rel for s in dataset_reader.open_dataset(data).shards}
        ids = {key: meta.get("source_id") for key, meta in sample_metadata(data).items()}
        for row in rows:
            if row.key.rsplit(":", 1)[0] not in shards or ids.get(row.key) != row.source_id:
                raise DataconvError(f"{data}: not the dataset that was evaluated ({row.key} is "
                                    f"{ids.get(row.key)!r} there, {row.source_id!r} in eval.parquet); give --data")

    def jpeg(self, row: int) -> bytes | None:
        """The thumbnail of row ``row`` (None: no such row, or no image that decodes)."""
        if not 0 <= row < len(self.rows):
            return None
        shard, index = self.rows[row].key.rsplit(":", 1)
        image, _ = dataset_reader.read_sample(os.path.join(self.data, shard), int(index))
        uri = thumbnail(image, self.max_pixels) if image else None
        return base64.b64decode(uri.split(",", 1)[1]) if uri else None


class Conflict(Exception):
    """The corrections file changed under the session (another review or an editor)."""


@dataclass
class Session:
    """The rows under review and the decisions of the corrections file at ``out`` (every
    id in it, reviewed here or not, is kept)."""

    rows: list[Row]
    out: str
    decisions: dict[str, Decision] = field(default_factory=dict)
    undo_stack: list[tuple[int, Decision | None]] = field(default_factory=list)
    seen: tuple[int, int, int] | None = None  # the file as this session last read or wrote it

    @classmethod
    def open(cls, rows: list[Row], out: str) -> Session:
        """The session over ``out``'s decisions (none when it does not exist yet)."""
        decisions = corrections_file.read(out).decisions if os.path.lexists(out) else {}
        return cls(rows, out, decisions, seen=_signature(out))

    def decision(self, row: int) -> Decision | None:
        return self.decisions.get(self.rows[row].source_id)

    def decided(self) -> int:
        return sum(r.source_id in self.decisions for r in self.rows)

    def state(self) -> dict[str, Any]:
        """Everything the page shows, and where to resume: the first undecided row."""
        marks = [_shown(self.decision(i)) for i in range(len(self.rows))]
        start = next((i for i, mark in enumerate(marks) if mark is None), max(len(self.rows) - 1, 0))
        return {"rows": [r.shown() for r in self.rows], "decisions": marks, "decided": self.decided(),
                "start": start, "out": self.out}

    def decide(self, row: int, action: str, text: Any = None) -> dict[str, Any]:
        """Save a decision about ``row``: ``accept`` (relabel with the prediction),
        ``relabel`` with ``text``, ``keep`` or ``drop``. A ValueError when it cannot be."""
        self._check_row(row)
        target = self.rows[row]
        if action == "accept":
            if not target.prediction:
                raise ValueError("the prediction is empty: type a correction or drop the sample")
            decision = Decision("relabel", target.prediction)
        elif action == "relabel":
            if not isinstance(text, str) or not text:
                raise ValueError("a correction needs the new text")
            decision = Decision("relabel", text)
        elif action in ("keep", "drop"):
            decision = Decision(action)
        else:
            raise ValueError(f"no action {str(action)[:20]!r} (accept, relabel, keep, drop)")
        previous = self.decisions.get(target.source_id)
        self._save(target.source_id, decision)
        self.undo_stack.append((row, previous))
        return self.row_state(row)

    def undo(self) -> dict[str, Any]:
        """Take back the last decision of this session (the row's decision before it returns)."""
        if not self.undo_stack:
            raise ValueError("nothing to undo in this session")
        row, previous = self.undo_stack[-1]
        self._save(self.rows[row].source_id, previous)
        self.undo_stack.pop()
        return self.row_state(row)

    def row_state(self, row: int) -> dict[str, Any]:
        return {"row": row, "decision": _shown(self.decision(row)), "decided": self.decided()}

    def _check_row(self, row: Any) -> None:
        if type(row) is not int or not 0 <= row < len(self.rows):
            raise ValueError(f"no row {str(row)[:20]}")

    def _save(self, sample_id: str, decision: Decision | None) -> None:
        """Write the decisions with ``sample_id``'s set to ``decision`` (None: removed);
        they change here only once the file holds them."""
        if _signature(self.out) != self.seen:
            raise Conflict(f"{self.out} changed outside this review (another review, or an editor); "
                           "nothing was saved: restart dataconv review to load it")
        decisions = dict(self.decisions)
        decisions.pop(sample_id, None)
        if decision is not None:
            decisions[sample_id] = decision
        data = corrections_file.render(decisions).encode("utf-8")  # a ValueError when not writable
        with atomic_file(self.out) as tmp, open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self.decisions, self.seen = decisions, _signature(self.out)


def _shown(decision: Decision | None) -> dict[str, str | None] | None:
    return None if decision is None else {"action": decision.action, "text": decision.text}


def _signature(path: str) -> tuple[int, int, int] | None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns
