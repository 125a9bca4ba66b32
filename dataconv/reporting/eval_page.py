"""``EVAL_DIR/eval.html``: what a data-centric user acts on after ``dataconv eval``.

Built from the per-sample table (the columns of eval.parquet): accuracy and CER per split,
source file, group and label length; the character confusion pairs; and the suspected
label errors, ranked, with thumbnails read from the dataset's LMDBs. A suspected label
error is a confident prediction that disagrees with the label: a model that is sure and
"wrong" is, more often than its other errors, reading an image whose label is wrong.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from typing import Any

import pandas as pd
from rapidfuzz.distance import Levenshtein

from dataconv.io.dataset_reader import split_of
from dataconv.reporting import html as h
from dataconv.io import dataset_reader
from dataconv.reporting.thumbs import thumbnail

_LINE_SUFFIX = re.compile(r"[:#]\d+$")  # gt.txt:17, labels.json#3: the file, not the line


def suspected_label_errors(frame: pd.DataFrame, top: int) -> pd.DataFrame:
    """The ``top`` rows whose prediction disagrees with the label, most confident first
    (ties, and files without confidences: the most different prediction first)."""
    wrong = frame[~frame["exact"]]
    ranked = wrong.assign(_conf=wrong["confidence"].fillna(-1.0))
    return ranked.sort_values(["_conf", "cer"], ascending=[False, False], kind="stable").head(top).drop(columns="_conf")


def breakdown(frame: pd.DataFrame, by: pd.Series) -> pd.DataFrame:
    """samples, accuracy and CER for each value of ``by`` (one entry per row of frame)."""
    edits = (frame["cer"] * frame["label_length"].clip(lower=1)).round()
    parts = pd.DataFrame({"by": by.fillna("(none)").astype(str).values, "exact": frame["exact"].values,
                          "edits": edits.values, "chars": frame["label_length"].values})
    grouped = parts.groupby("by", sort=True)
    table = pd.DataFrame({"samples": grouped.size(), "accuracy": grouped["exact"].mean(),
                          "CER": grouped["edits"].sum() / grouped["chars"].sum().clip(lower=1)})
    table["accuracy"] = table["accuracy"].map(h.pct)
    table["CER"] = table["CER"].map(h.pct)
    return table


def split_of_key(key: str) -> str:
    """The split of a ``SHARD:INDEX`` key, from the one split table."""
    return split_of(key.split(":")[0]) or "(none)"


def source_file(source: Any) -> Any:
    """The file part of a sample's source (``gt.txt:17`` -> ``gt.txt``)."""
    return _LINE_SUFFIX.sub("", source) if isinstance(source, str) else source


ALIGNED_MAX_CHARS = 1024  # longer than any text line a recognizer reads (its CTC steps)
SHOWN_MAX_CHARS = 200  # of a label or prediction in the page's tables


def confusions(frame: pd.DataFrame) -> Counter:
    """(label character, predicted character) -> count over the wrong rows; '' stands for
    a character missing from the prediction or one it added. Rows with a label or
    prediction over ALIGNED_MAX_CHARS are left out (``too_long_to_align``): their
    millions of insertions would say nothing about which characters the model confuses."""
    pairs: Counter = Counter()
    for label, prediction in zip(frame["label"], frame["prediction"]):
        if label != prediction and _alignable(label, prediction):
            pairs.update(align(label, prediction))
    return pairs


def _alignable(label: str, prediction: str) -> bool:
    return max(len(label), len(prediction)) <= ALIGNED_MAX_CHARS


def too_long_to_align(frame: pd.DataFrame) -> int:
    return sum(not _alignable(label, prediction) for label, prediction in zip(frame["label"], frame["prediction"]))


def align(label: str, prediction: str) -> list[tuple[str, str]]:
    """The substitutions, deletions and insertions of one minimal edit script, in order."""
    pairs = []
    for op in Levenshtein.editops(label, prediction):
        if op.tag == "replace":
            pairs.append((label[op.src_pos], prediction[op.dest_pos]))
        elif op.tag == "delete":
            pairs.append((label[op.src_pos], ""))
        else:
            pairs.append(("", prediction[op.dest_pos]))
    return pairs


def _clipped(text: str) -> str:
    return text if len(text) <= SHOWN_MAX_CHARS else f"{text[:SHOWN_MAX_CHARS]}… ({len(text):,} characters)"


def _thumbnail(root: str, key: str) -> str | None:
    """The thumbnail of the sample at SHARD:INDEX, read through the process's shared LMDB
    handle (the one the evaluation read the split with)."""
    shard, index = key.rsplit(":", 1)
    image, _ = dataset_reader.read_sample(os.path.join(root, shard), int(index))
    return thumbnail(image) if image else None


def _shown(ch: str) -> str:
    return "∅" if ch == "" else {" ": "␣"}.get(ch, ch)


def render(frame: pd.DataFrame, root: str, subtitle: str, left_out: dict[str, int], top: int = 50) -> str:
    """The whole page; ``root`` is the dataset the thumbnails are read from."""
    sections = [_overview(frame, left_out), _breakdowns(frame), _confusions(frame), _suspects(frame, root, top)]
    return h.page("dataconv eval", subtitle, sections)


def _overview(frame: pd.DataFrame, left_out: dict[str, int]) -> tuple[str, str, str]:
    total = breakdown(frame, pd.Series(["all"] * len(frame)))
    items = [("samples scored", len(frame)), ("accuracy", total["accuracy"].iloc[0]),
             ("CER", total["CER"].iloc[0]), ("wrong", int((~frame["exact"]).sum()))]
    body = h.cards(items)
    for why, n in sorted(left_out.items()):
        body += h.note(f"{n:,} sample(s) left out: {why}", warn=True)
    return "overview", "Overview", body


def _breakdowns(frame: pd.DataFrame) -> tuple[str, str, str]:
    body = ""
    for title, by in (("split", frame["key"].map(split_of_key)), ("source", frame["source"].map(source_file)),
                      ("group", frame["group"]), ("label length", frame["label_length"])):
        if title == "group" and frame["group"].isna().all():
            continue
        body += f"<h3>Per {title}</h3>" + h.frame_table(breakdown(frame, by).head(200), title)
    return "breakdown", "Accuracy and CER", body


def _confusions(frame: pd.DataFrame, limit: int = 40) -> tuple[str, str, str]:
    pairs = confusions(frame).most_common(limit)
    if not pairs:
        return "confusions", "Confusion pairs", h.note("No character errors." + _left_out(frame))
    rows = [(_shown(a), _shown(b), n) for (a, b), n in pairs]
    note = h.note("label character → predicted character; ∅: missing from the prediction, or added by it."
                  + _left_out(frame))
    return "confusions", "Confusion pairs", note + h.table(rows, ["label", "prediction", "count"])


def _left_out(frame: pd.DataFrame) -> str:
    n = too_long_to_align(frame)
    return f" Left out: {n} row(s) with a label or prediction over {ALIGNED_MAX_CHARS} characters." if n else ""


def _suspects(frame: pd.DataFrame, root: str, top: int) -> tuple[str, str, str]:
    ranked = suspected_label_errors(frame, top)
    if ranked.empty:
        return "suspects", "Suspected label errors", h.note("Every prediction matches its label.")
    uris = [_thumbnail(root, key) for key in ranked["key"]]
    rows = [(i + 1, h.image(uri), h.Raw(f'<span class="label">{h.esc(_clipped(r.label))}</span>'),
             h.Raw(f'<span class="label">{h.esc(_clipped(r.prediction))}</span>'),
             "" if pd.isna(r.confidence) else f"{r.confidence:.3f}", f"{r.cer:.2f}", r.key, r.source_id or "")
            for i, (r, uri) in enumerate(zip(ranked.itertuples(index=False), uris))]
    note = h.note("Confident predictions that disagree with the label, most confident first: check "
                  "these labels before blaming the model.")
    return "suspects", "Suspected label errors", note + h.table(
        rows, ["#", "image", "label", "prediction", "confidence", "CER", "key", "sample id"])
