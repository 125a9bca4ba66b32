"""Per-sample evaluation: every sample of a split with its label, the model's (or another
trainer's) prediction and confidence, and its character error rate, written to
``EVAL_DIR/eval.parquet`` (the columns of ``COLUMNS``, one row per sample).

Scores are computed the way training logs them (``dataconv.train.text``): exact match of
the whole string, CER = edit distance / label length. With a trainer's label transform
(``eval --as``) both the label and the prediction go through it first, and samples that
trainer would drop at load time are left out and counted, so the accuracy is the one
that trainer would print.
"""
from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol

import pandas as pd

from dataconv import __version__
from dataconv.errors import DataconvError
from dataconv.export.eval_data import (SplitSample, iter_split, key_resolver, read_predictions,
                                       split_images)
from dataconv.export.predict import Failure, Predictor, predict_images
from dataconv.outputs import manifest
from dataconv.outputs.atomic import atomic_output
from dataconv.outputs.samples_table import sample_metadata
from dataconv.train.text import edit_distance

COLUMNS = ["key", "source_id", "label", "prediction", "confidence", "cer", "exact", "label_length",
           "source", "group"]
EVAL_TABLE, EVAL_PAGE = "eval.parquet", "eval.html"


class Transform(Protocol):
    """A trainer's label normalisation (``validate``'s simulation of that trainer)."""

    name: str

    def label(self, text: str, image: bytes | None) -> str | None:
        """The label as the trainer tests on it; None when it drops the sample."""

    def prediction(self, text: str) -> str:
        """The prediction after the same steps (it has no image of its own)."""


@dataclass
class Evaluation:
    split: str
    frame: pd.DataFrame  # COLUMNS, in split order
    left_out: Counter = field(default_factory=Counter)  # why samples of the split have no row

    @property
    def accuracy(self) -> float:
        return float(self.frame["exact"].mean()) if len(self.frame) else 0.0

    @property
    def cer(self) -> float:
        return total_cer(self.frame)


def total_cer(frame: pd.DataFrame) -> float:
    """Edits over label characters, summed over the rows (as ``TextScore`` logs val/cer)."""
    edits = (frame["cer"] * frame["label_length"].clip(lower=1)).round().sum()
    return float(edits / max(int(frame["label_length"].sum()), 1))


@dataclass(frozen=True)
class _Row:
    sample: SplitSample
    prediction: str
    confidence: float


def evaluate_model(data: str, split: str, predictor: Predictor, transform: Transform | None = None,
                   max_pixels: int | None = None) -> Evaluation:
    """Predict every sample of ``split`` with ``predictor`` and score it. An image that
    cannot be decoded is left out and counted (its failure is not the label's)."""
    left_out: Counter = Counter()
    samples: dict[str, SplitSample] = {}

    def remembered() -> Iterator[SplitSample]:
        for sample in iter_split(data, split):  # the labels are kept, the images are not
            samples[sample.key] = _normalised(sample, transform)
            yield sample

    rows = []
    for outcome in predict_images(predictor, split_images(remembered()), max_pixels):
        if isinstance(outcome, Failure):
            left_out["image could not be read"] += 1
        else:
            rows.append(_Row(samples[outcome.path], outcome.text, outcome.confidence))
    return _score(data, split, rows, transform, left_out, sample_metadata(data))


def evaluate_predictions(data: str, split: str, path: str, transform: Transform | None = None) -> Evaluation:
    """Score a predictions file (``eval_data.read_predictions``) against ``split``;
    samples it does not predict are left out and counted."""
    samples = [_normalised(s, transform) for s in iter_split(data, split)]
    metadata = sample_metadata(data)
    found = read_predictions(path, key_resolver([s.key for s in samples], metadata))
    rows = [_Row(s, found[s.key].text, found[s.key].confidence) for s in samples if s.key in found]
    if not rows:
        raise DataconvError(f"{path}: predicts no sample of the {split} split")
    left_out = Counter({"no prediction in the file": len(samples) - len(rows)} if len(rows) < len(samples) else {})
    return _score(data, split, rows, transform, left_out, metadata)


def _normalised(sample: SplitSample, transform: Transform | None) -> SplitSample:
    """The sample without its image, its label as the trainer tests on it (None: the
    trainer drops the sample). The image is looked at here, while it is in memory."""
    label = sample.label if transform is None else transform.label(sample.label, sample.image)
    return SplitSample(sample.key, sample.shard, sample.index, label, None)  # type: ignore[arg-type]


def _score(data: str, split: str, rows: list[_Row], transform: Transform | None, left_out: Counter,
           metadata: dict[str, dict[str, str | None]]) -> Evaluation:
    records = []
    for row in rows:
        if row.sample.label is None:
            left_out[f"dropped by {transform.name if transform else 'the trainer'}"] += 1
            continue
        prediction = row.prediction if transform is None else transform.prediction(row.prediction)
        meta = metadata.get(row.sample.key, {})
        records.append(score_row(row.sample.key, row.sample.label, prediction, row.confidence, meta))
    if not records:
        raise DataconvError(f"{data}: no sample of the {split} split is left to score")
    frame = pd.DataFrame.from_records(records, columns=COLUMNS).astype(
        {"confidence": "float64", "cer": "float64", "exact": "bool", "label_length": "int64"})
    return Evaluation(split, frame, left_out)


def score_row(key: str, label: str, prediction: str, confidence: float,
              meta: dict[str, str | None]) -> dict[str, Any]:
    """One row of eval.parquet."""
    edits = edit_distance(prediction, label)
    return {"key": key, "source_id": meta.get("source_id"), "label": label, "prediction": prediction,
            "confidence": confidence if not math.isnan(confidence) else None,
            "cer": edits / max(len(label), 1), "exact": prediction == label, "label_length": len(label),
            "source": meta.get("source"), "group": meta.get("group")}


def write_eval_dir(out: str, overwrite: bool, evaluation: Evaluation, page: str, options: dict[str, Any]) -> None:
    """EVAL_DIR with eval.parquet, eval.html and a manifest.json (counts and scores; it
    also lets ``--overwrite`` recognise a previous eval output), all appearing at once."""
    frame = evaluation.frame
    card = {"format": "eval", "options": options, "dataconv_version": __version__,
            "counts": {"input": len(frame) + sum(evaluation.left_out.values()), "written": len(frame),
                       "rejected": sum(evaluation.left_out.values())},
            "rejects": dict(sorted(evaluation.left_out.items())),
            "scores": {"accuracy": evaluation.accuracy, "cer": evaluation.cer}}
    with atomic_output(out, overwrite) as tmp:
        frame.to_parquet(os.path.join(tmp, EVAL_TABLE), index=False)
        with open(os.path.join(tmp, EVAL_PAGE), "w", encoding="utf-8") as f:
            f.write(page)
        manifest.write(tmp, card)

